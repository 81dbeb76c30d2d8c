"""`revmon run` collects every configured source on its own interval, also with several
processes sharing one PostgreSQL: each source once per interval, each review scored once, each
alert sent once.

The sources are a Trustpilot page (a spider) and a Google Business Profile location (an API
client), both played by a local server; the model is a tiny one the test builds, so that three
services start in seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from pipeline.config import load_settings
from pipeline.db import make_engine, migrate, session_factory
from pipeline.models import Alert, CrawlRun, Review, SourceSchedule
from pipeline.schedule import claim_due, settle
from revmon.runtime import build_runtime
from revmon.service import serve
from sentiment.analysis import Analysis
from tests.fixtures.api import load
from tests.sitesupport import JSON, REPO, Reply, SiteServer, fresh_database, stored

GBP_TARGET = "accounts/108459207326582963871/locations/4791204726108523011"
GBP_PATH = f"/v4/{GBP_TARGET}/reviews?pageSize=50&orderBy=updateTime+desc"
SECONDS = 6.0  # every source's interval in the multi-process test


class StarsClassifier:
    """Labels by the stars alone: enough for the service's jobs to have something to do."""

    model_id = "stars"
    version = "1"
    precision = "fp32"

    def analyze(
        self, texts: list[str], ratings: list[float | None], *_: object, **__: object
    ) -> list[Analysis]:
        def one(rating: float | None) -> Analysis:
            label = "negative" if (rating or 3) <= 2 else "positive"
            return Analysis(label, -1.0 if label == "negative" else 1.0, {}, False, [], 50, [])

        return [one(rating) for rating in ratings]


def serve_sources(site: SiteServer) -> None:
    site.page("/review/example.com?languages=all", "trustpilot/page3.html")
    google = json.dumps(load("google_business_reviews_page2.json"))
    site.route(GBP_PATH, Reply(body=google, content_type=JSON))


def config(site: SiteServer, hook: str, minutes: float) -> str:
    return textwrap.dedent(
        f"""
        log_level = "INFO"

        [service]
        crawl_minutes = {minutes}
        score_minutes = 0.02
        alerts_minutes = 0.02

        [[locations]]
        key = "northwind"
        name = "Northwind"
          [[locations.sources]]
          platform = "trustpilot"
          url = "{site.base}/review/example.com"
          [[locations.sources]]
          platform = "google_business"
          target = "{GBP_TARGET}"

        [alerts.channels.hook]
        type = "webhook"
        url = "{hook}"
        secret_env = "REVMON_T_HOOK_KEY"

        [[alerts.rules]]
        name = "all-negative"
        channels = ["hook"]
        negative = true
        max_age_hours = 87600
        """
    )


def environment(tmp_path: Path, db: str, site: SiteServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "REVMON_CONFIG": str(tmp_path / "revmon.toml"),
        "REVMON_DATABASE_URL": db,
        "REVMON_DATA_DIR": str(tmp_path),
        "REVMON_T_HOOK_KEY": "hook-secret",
        "REVMON_GOOGLE_ACCESS_TOKEN": "token-for-the-local-google",
        "REVMON_API__BASE_URLS__GOOGLE_BUSINESS": site.base,
        **extra,
    }


def test_run_once_collects_spider_and_api_sources(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        serve_sources(site)
        (tmp_path / "revmon.toml").write_text(config(site, httpserver.url_for("/hook"), 60))
        for name, value in environment(tmp_path, db, site).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(REPO)  # the crawl child runs `python -m revmon.cli` from here
        runtime = build_runtime(load_settings())
        runtime._classifier = StarsClassifier()
        service = serve(runtime, once=True)
        runtime.engine.dispose()
    assert [(job.name, job.runs, job.failures) for job in service.jobs] == [
        ("collect", 1, 0),
        ("score", 1, 0),
        ("alerts", 1, 0),
    ]
    runs = {run["source"]: run for run in stored(db).runs}
    assert {name: run["status"] for name, run in runs.items()} == {
        "trustpilot": "ok",
        "google_business": "ok",
    }
    platforms = sorted(r["platform"] for r in stored(db).reviews.values())
    assert platforms == ["google", "google", "trustpilot", "trustpilot"]
    engine = make_engine(db)
    with session_factory(engine)() as session:
        schedule = session.scalars(select(SourceSchedule)).all()
        assert len(schedule) == 2
        for row in schedule:  # settled: due an hour after it started, nobody holds it
            assert row.lease_owner is None and row.last_status == "ok"
            assert row.next_due_at - row.last_started_at == timedelta(minutes=60)
    engine.dispose()


def test_a_due_source_is_leased_to_one_process_only(sessions) -> None:
    with sessions.begin() as session:
        first = claim_due(session, ["a", "b"], "host:1", lease=timedelta(minutes=5))
        second = claim_due(session, ["a", "b"], "host:2", lease=timedelta(minutes=5))
        assert (first, second) == (["a", "b"], [])
        settle(session, {"a": "ok"}, "host:2", {"a": timedelta(minutes=1)})  # not its lease
        assert session.get(SourceSchedule, "a").lease_owner == "host:1"
        settle(session, {"a": "ok"}, "host:1", {"a": timedelta(minutes=1)})
        assert claim_due(session, ["a"], "host:2", lease=timedelta(minutes=5)) == []  # not due
        row = session.get(SourceSchedule, "a")
        row.next_due_at -= timedelta(minutes=2)
        session.flush()
        assert claim_due(session, ["a", "b"], "host:2", lease=timedelta(minutes=5)) == ["a"]


@pytest.fixture
def shared_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    from tests.test_sentiment_unit import bert_config, make_tokenizer

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("tiny-service-model")
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    BertForSequenceClassification(bert_config(num_labels=2, id2label=labels)).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def test_three_services_share_the_work_without_doing_any_twice(
    tmp_path: Path, httpserver: HTTPServer, shared_db: str, tiny_model: Path
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    engine = make_engine(shared_db)
    migrate(engine)
    engine.dispose()
    with SiteServer() as site:
        serve_sources(site)
        hook = httpserver.url_for("/hook")
        (tmp_path / "revmon.toml").write_text(config(site, hook, SECONDS / 60))
        env = environment(
            tmp_path, shared_db, site, REVMON_SENTIMENT_MODEL=str(tiny_model),
            REVMON_SENTIMENT_PRECISION="fp32",
        )  # fmt: skip
        services = [
            subprocess.Popen(
                [sys.executable, "-m", "revmon.cli", "run"],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            for _ in range(3)
        ]
        wait_for_runs(shared_db, per_source=2, timeout=180)  # a few cycles, however slow the CPU
        for service in services:
            service.send_signal(signal.SIGTERM)
        logs = [service.communicate(timeout=90)[0] for service in services]
    assert [service.returncode for service in services] == [0, 0, 0], logs[0][-3000:]

    engine = make_engine(shared_db)
    with session_factory(engine)() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.started_at)).all()
        reviews = session.scalars(select(Review)).all()
        alerts = session.scalars(select(Alert)).all()
    engine.dispose()
    by_source: dict[str, list[CrawlRun]] = defaultdict(list)
    for run in runs:
        by_source[run.source].append(run)
    assert set(by_source) == {"trustpilot", "google_business"}
    for source, source_runs in by_source.items():
        assert len(source_runs) >= 2, source  # collected again and again ...
        for before, after in zip(source_runs, source_runs[1:], strict=False):
            # ... but never twice within one interval, and never two runs at once
            gap = (after.started_at - before.started_at).total_seconds()
            assert gap >= SECONDS - 0.5, (source, gap)
            assert before.finished_at is not None and before.finished_at <= after.started_at
        assert all(run.status in {"ok", "interrupted"} for run in source_runs), source
    owners = {run.owner.rsplit(":", 1)[1] for run in runs}
    assert len(owners) >= 2  # the work was shared, not done by one process

    scored = sum(int(n) for log in logs for n in re.findall(r"score: scored (\d+),", log))
    assert scored == len(reviews) == 4  # every review scored exactly once across processes
    deliveries = [request.headers["X-Revmon-Delivery"] for request, _ in httpserver.log]
    assert len(deliveries) == len(set(deliveries)) == len(alerts) >= 1  # each alert sent once
    assert all(alert.state == "sent" for alert in alerts)


def wait_for_runs(db: str, *, per_source: int, timeout: float) -> None:
    """Until every source has ``per_source`` finished runs (the services keep going)."""
    engine = make_engine(db)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with session_factory(engine)() as session:
                finished = session.execute(
                    select(CrawlRun.source, func.count())
                    .where(CrawlRun.finished_at.is_not(None))
                    .group_by(CrawlRun.source)
                ).all()
            if len(finished) == 2 and all(count >= per_source for _, count in finished):
                return
            time.sleep(1)
        raise AssertionError(f"the services did not collect {per_source} times: {finished}")
    finally:
        engine.dispose()
