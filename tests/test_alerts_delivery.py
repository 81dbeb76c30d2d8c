"""The outbox against real local servers: SMTP (aiosmtpd), Slack, Telegram and a signed webhook
(pytest-httpserver). Delivered once; a failing channel is retried and delivered later; a run
killed mid-pass and run again sends nothing twice; the webhook's HMAC verifies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug import Request, Response

from pipeline.alerts import deliver_pending, queue_alerts
from pipeline.config import Settings
from pipeline.models import Alert
from pipeline.notifiers import verify_signature
from revmon.runtime import build_runtime
from tests.local_smtp import free_port, smtp_server
from tests.seeding import location, review

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOOK_KEY = "whsec-test-key"
TOKEN = "123456:telegram-token"
SLACK_PATH = "/services/T0/B0/slack-secret"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> None:
    monkeypatch.setenv("REVMON_T_SLACK", httpserver.url_for(SLACK_PATH))
    monkeypatch.setenv("REVMON_T_TG", TOKEN)
    monkeypatch.setenv("REVMON_T_HOOK_KEY", HOOK_KEY)
    monkeypatch.setenv("REVMON_T_SMTP_PASSWORD", "mail-pass")


def all_channels(httpserver: HTTPServer, smtp_port: int) -> dict[str, object]:
    return {
        "mail": {
            "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
            "username": "revmon", "password_env": "REVMON_T_SMTP_PASSWORD",
            "from_addr": "revmon@example.test", "to": ["manager@example.test"],
        },
        "slack": {"type": "slack", "webhook_url_env": "REVMON_T_SLACK"},
        "tg": {"type": "telegram", "base_url": httpserver.url_for("/tg"),
               "bot_token_env": "REVMON_T_TG", "chat_id": "42"},
        "hook": {"type": "webhook", "url": httpserver.url_for("/hook"),
                 "secret_env": "REVMON_T_HOOK_KEY"},
    }  # fmt: skip


def make_settings(httpserver: HTTPServer, smtp_port: int) -> Settings:
    channels = all_channels(httpserver, smtp_port)
    rule = {"name": "neg", "channels": list(channels), "negative": True}
    return Settings(
        locations=[{"key": "main", "name": "Main Street"}],
        alerts={"channels": channels, "rules": [rule], "retry": {"base_seconds": 60}},
    )


@pytest.fixture
def sessions(session: Session) -> Iterator[sessionmaker[Session]]:
    yield sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def signed(request: Request) -> bool:
    return verify_signature(
        HOOK_KEY.encode(),
        request.headers["X-Revmon-Timestamp"],
        request.get_data(),
        request.headers["X-Revmon-Signature"],
    )


def requests_to(httpserver: HTTPServer, prefix: str) -> list[Request]:
    return [
        req
        for req, resp in httpserver.log
        if req.path.startswith(prefix) and resp.status_code == 200
    ]


def serve_ok(httpserver: HTTPServer) -> None:
    httpserver.expect_request(SLACK_PATH, method="POST").respond_with_data("ok")
    httpserver.expect_request(f"/tg/bot{TOKEN}/sendMessage").respond_with_json({"ok": True})
    httpserver.expect_request("/hook").respond_with_handler(
        lambda r: Response("ok" if signed(r) else "bad signature", status=200 if signed(r) else 401)
    )


def seed(session: Session, settings: Settings, n: int = 2) -> list[int]:
    location(session, "main", name="Main Street")
    ids = [review(session, seen=NOW, text=f"Review {i}: cold & <rude>").id for i in range(n)]
    assert queue_alerts(session, settings, now=NOW) == n * 4
    session.commit()
    return ids


def states(session: Session) -> Counter[tuple[str, str]]:
    session.expire_all()
    return Counter((a.channel, a.state) for a in session.scalars(select(Alert)))


def test_every_channel_delivered_once(
    session: Session, sessions: sessionmaker[Session], httpserver: HTTPServer, secrets: None
) -> None:
    serve_ok(httpserver)
    with smtp_server(user="revmon", password="mail-pass") as (inbox, port):
        settings = make_settings(httpserver, port)
        ids = seed(session, settings)
        report = deliver_pending(sessions, settings, NOW)
        again = deliver_pending(sessions, settings, NOW + timedelta(hours=1))
    assert (report.sent, report.failed, report.dead, report.errors) == (8, 0, 0, [])
    assert (again.sent, again.failed) == (0, 0)
    assert states(session) == Counter({(c, "sent"): 2 for c in ("mail", "slack", "tg", "hook")})

    assert len(inbox.messages) == 2
    assert [m["Subject"] for m in inbox.messages] == [
        "[revmon] 1★ negative review of Main Street on trustpilot"
    ] * 2
    assert "Review 0: cold & <rude>" in inbox.messages[0].get_content()

    slack = requests_to(httpserver, "/services")
    assert len(slack) == 2
    assert "Review 0: cold &amp; &lt;rude&gt;" in slack[0].get_json()["text"]

    telegram = requests_to(httpserver, "/tg/")
    assert [r.get_json()["chat_id"] for r in telegram] == ["42", "42"]
    assert "Review 1: cold & <rude>" in telegram[1].get_json()["text"]

    hooks = requests_to(httpserver, "/hook")
    assert len(hooks) == 2 and all(signed(r) for r in hooks)
    assert [r.get_json()["data"]["review_id"] for r in hooks] == ids
    assert len({r.headers["X-Revmon-Delivery"] for r in hooks}) == 2


def test_failing_channels_are_retried_and_delivered_later(
    session: Session, sessions: sessionmaker[Session], httpserver: HTTPServer, secrets: None
) -> None:
    slack_calls = Counter[str]()

    def flaky_slack(request: Request) -> Response:
        slack_calls["n"] += 1
        return Response("busy", status=503) if slack_calls["n"] == 1 else Response("ok")

    httpserver.expect_request(SLACK_PATH).respond_with_handler(flaky_slack)
    serve_ok(httpserver)
    smtp_port = free_port()  # the mail server is down for the first pass
    settings = make_settings(httpserver, smtp_port)
    seed(session, settings)
    first = deliver_pending(sessions, settings, NOW)
    assert (first.sent, first.failed) == (4, 2)
    # one failure makes the channel back off: its second row waits too, no attempt spent
    assert states(session) == Counter(
        {("mail", "failed"): 1, ("mail", "pending"): 1, ("slack", "failed"): 1,
         ("slack", "pending"): 1, ("tg", "sent"): 2, ("hook", "sent"): 2}
    )  # fmt: skip
    assert slack_calls["n"] == 1
    session.expire_all()
    retry_at = {
        a.next_attempt_at for a in session.scalars(select(Alert).where(Alert.channel == "slack"))
    }
    assert retry_at == {NOW + timedelta(seconds=60)}
    assert any("slack: HTTP 503 busy" in line for line in first.errors)
    assert not any("slack-secret" in line for line in first.errors)

    soon = deliver_pending(sessions, settings, NOW + timedelta(seconds=30))
    assert (soon.sent, soon.failed) == (0, 0)  # backing off

    with smtp_server(user="revmon", password="mail-pass", port=smtp_port) as (inbox, _):
        later = deliver_pending(sessions, settings, NOW + timedelta(seconds=61))
    assert (later.sent, later.failed) == (4, 0)
    assert len(inbox.messages) == 2 and len(requests_to(httpserver, "/services")) == 2
    assert len(requests_to(httpserver, "/tg/")) == 2 and len(requests_to(httpserver, "/hook")) == 2
    session.expire_all()
    attempts = Counter((a.channel, a.attempts) for a in session.scalars(select(Alert)))
    assert attempts == Counter(
        {
            ("mail", 2): 1,
            ("mail", 1): 1,
            ("slack", 2): 1,
            ("slack", 1): 1,
            ("tg", 1): 2,
            ("hook", 1): 2,
        }
    )
    assert states(session) == Counter({(c, "sent"): 2 for c in ("mail", "slack", "tg", "hook")})


def test_a_killed_run_rerun_sends_nothing_twice(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill `revmon alerts` while its third webhook call hangs; run it again; then again after
    the dead run's lease: every alert is accepted exactly once, none is lost."""
    accepted: list[str] = []
    calls = Counter[str]()
    hanging, release = threading.Event(), threading.Event()

    def hook(request: Request) -> Response:
        calls["n"] += 1
        assert signed(request)
        if calls["n"] == 3:
            hanging.set()
            release.wait(30)
            return Response("too late", status=503)
        accepted.append(request.headers["X-Revmon-Delivery"])
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    config = tmp_path / "revmon.toml"
    config.write_text(
        f"""
[[locations]]
key = "main"
name = "Main Street"

[alerts.channels.hook]
type = "webhook"
url = "{httpserver.url_for("/hook")}"
secret_env = "REVMON_T_HOOK_KEY"
timeout_seconds = 60

[[alerts.rules]]
name = "neg"
channels = ["hook"]
negative = true

[alerts.retry]
lease_seconds = 120
"""
    )
    env = {
        "REVMON_CONFIG": str(config),
        "REVMON_DATABASE_URL": f"sqlite:///{tmp_path / 'revmon.db'}",
        "REVMON_T_HOOK_KEY": HOOK_KEY,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runtime = build_runtime(Settings())
    now = datetime.now(UTC)
    with runtime.sessions.begin() as session:
        for i in range(5):
            review(session, seen=now - timedelta(minutes=i), text=f"Awful visit {i}")

    command = [sys.executable, "-m", "revmon.cli", "alerts"]
    child_env = {**os.environ, **env}
    killed = subprocess.Popen(command, env=child_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert hanging.wait(60), "the first run never reached the third alert"
    finally:
        killed.kill()
        killed.wait()
        release.set()
    assert len(accepted) == 2

    with runtime.sessions() as session:
        by_state = Counter(session.scalars(select(Alert.state)))
    assert by_state == Counter({"sent": 2, "sending": 1, "pending": 2})

    rerun = subprocess.run(command, env=child_env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "alerts: triaged 0, escalated 0, queued 0, sent 2, failed 0, dead 0" in rerun.stdout
    assert len(accepted) == 4  # the leased one waits: its first attempt may have gone out

    after_lease = datetime.now(UTC) + timedelta(seconds=121)
    report = deliver_pending(runtime.sessions, runtime.settings, after_lease)
    assert (report.sent, report.failed) == (1, 0)
    assert len(accepted) == len(set(accepted)) == 5
    assert calls["n"] == 6  # five accepted + the one cut off by the kill
    with runtime.sessions() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id)).all()
    assert [r.state for r in rows] == ["sent"] * 5
    assert sorted(r.attempts for r in rows) == [1, 1, 1, 1, 2]
    assert sorted(accepted) == sorted(f"revmon-alert-{r.id}" for r in rows)
    runtime.engine.dispose()
