"""`revmon run`: the scheduling loop, its crawl child, a graceful stop on SIGTERM, one real tick."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from pipeline.config import Settings
from pipeline.models import Alert, Triage
from revmon.runtime import build_runtime
from revmon.service import CrawlProcess, Job, Service, serve
from tests.seeding import review


def test_jobs_run_on_their_intervals_until_stopped() -> None:
    calls: list[str] = []

    def broken() -> str:
        calls.append("broken")
        raise RuntimeError("the database is on fire")

    fast = Job("fast", 0.05, lambda: calls.append("fast") or "ok")
    slow = Job("slow", 60, lambda: calls.append("slow") or "ok")
    failing = Job("failing", 0.05, broken)
    service = Service([fast, slow, failing])
    thread = threading.Thread(target=service.run)
    thread.start()
    time.sleep(0.4)
    service.stop()
    thread.join(2)
    assert not thread.is_alive()
    assert calls[:3] == ["fast", "slow", "broken"]  # in order, on the first tick
    assert slow.runs == 1 and fast.runs >= 3
    assert failing.failures == failing.runs >= 3  # failing never stopped the loop


def test_once_runs_each_job_a_single_time() -> None:
    jobs = [Job(name, 0.01, lambda: None) for name in ("a", "b", "c")]
    Service(jobs).run(once=True)
    assert [job.runs for job in jobs] == [1, 1, 1]


def test_crawl_child_never_overlaps_and_is_stopped(tmp_path: Path) -> None:
    crawl = CrawlProcess(command=[sys.executable, "-c", "import time; time.sleep(60)"])
    assert crawl().startswith("crawl started (pid ")
    assert crawl() == "previous crawl still running"
    child = crawl.process
    assert child is not None
    started = time.monotonic()
    crawl.stop(grace_s=5)
    assert child.returncode == -signal.SIGTERM and time.monotonic() - started < 5
    blocking = CrawlProcess(command=[sys.executable, "-c", "raise SystemExit(3)"], blocking=True)
    assert blocking() == "crawl finished with exit code 3"


def test_sigterm_stops_the_service_gracefully() -> None:
    script = textwrap.dedent(
        """
        from revmon.service import Job, Service, stop_on_signals
        service = Service([Job("tick", 0.05, lambda: print("tick", flush=True))])
        with stop_on_signals(service):
            service.run()
        print("stopped", flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "tick"
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=10)
    assert child.returncode == 0, err
    assert out.strip().endswith("stopped")


class FakeClassifier:
    """Matches the seeded sentiment rows, so the score job finds nothing to do."""

    model_id = "test"
    version = "1"

    def analyze(self, *args: object) -> list[object]:  # pragma: no cover - nothing pending
        raise AssertionError("nothing should need scoring")


def test_one_real_tick_scores_triages_and_alerts(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("REVMON_T_HOOK_KEY", "k")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'revmon.db'}",
        locations=[{"key": "main", "name": "Main Street"}],  # no sources: no crawl job
        alerts={
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": httpserver.url_for("/hook"),
                    "secret_env": "REVMON_T_HOOK_KEY",
                }
            },
            "rules": [{"name": "neg", "channels": ["hook"], "negative": True}],
        },
    )
    runtime = build_runtime(settings)
    runtime._classifier = FakeClassifier()
    with runtime.sessions.begin() as session:
        bad = review(session, seen=datetime.now(UTC)).id
    service = serve(runtime, once=True)
    assert [(job.name, job.runs, job.failures) for job in service.jobs] == [
        ("score", 1, 0),
        ("alerts", 1, 0),
    ]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers given back
    with runtime.sessions() as session:
        assert session.get(Triage, bad).status == "new"
        assert session.scalars(select(Alert.state)).all() == ["sent"]
    assert len(httpserver.log) == 1
    runtime.engine.dispose()


def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, *args: str):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from revmon.cli import app

    config = tmp_path / "revmon.toml"
    config.write_text(textwrap.dedent(toml))
    monkeypatch.setenv("REVMON_CONFIG", str(config))
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return CliRunner().invoke(app, list(args))


SLACK_WITHOUT_SECRET = """
    [alerts.channels.ops]
    type = "slack"
    webhook_url_env = "REVMON_T_NOT_SET"
"""


def test_cli_alerts_stops_on_a_missing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVMON_T_NOT_SET", raising=False)
    for command in ("alerts", "run"):
        result = cli(tmp_path, monkeypatch, SLACK_WITHOUT_SECRET, command)
        assert result.exit_code == 2
        assert (
            "alerts.channels.ops.webhook_url_env: environment variable REVMON_T_NOT_SET is not set"
            in result.output
        )


def test_cli_alerts_bad_value_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = """
        [[alerts.rules]]
        name = "neg"
        channels = []
        min_urgency = 500
    """
    result = cli(tmp_path, monkeypatch, bad, "alerts")
    assert result.exit_code == 2
    assert (
        "alerts.rules.0.channels" in result.output and "alerts.rules.0.min_urgency" in result.output
    )


def test_cli_alerts_with_nothing_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli(tmp_path, monkeypatch, "", "alerts")
    assert result.exit_code == 0, result.output
    assert "alerts: triaged 0, escalated 0, queued 0, sent 0, failed 0, dead 0" in result.output
