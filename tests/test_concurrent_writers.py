"""Everything at once on one SQLite file: `revmon crawl` (real spiders against the bundled demo
site), `revmon score` (a tiny model), two `revmon alerts` (a local webhook) and the dashboard's
actions, in separate processes and a thread. Nothing fails with "database is locked", nothing
is lost: every review scored, every alert delivered exactly once, every note kept."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from pipeline.db import make_engine, migrate, session_factory
from pipeline.models import Alert, CrawlRun, Review, Sentiment, Triage, TriageEvent
from revmon.demo_site.server import DemoServer
from tests.seeding import location, review

ROOT = Path(__file__).resolve().parents[1]
SEEDED = 600
ACTIONS = 30


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    from tests.test_sentiment_unit import bert_config, make_tokenizer

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("tiny-seqclf")
    config = bert_config(num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"})
    BertForSequenceClassification(config).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def revmon(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revmon.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_crawl_score_alerts_and_dashboard_at_once(
    tmp_path: Path, tiny_model: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered: list[str] = []
    lock = threading.Lock()

    def hook(request: Request) -> Response:
        with lock:
            delivered.append(request.headers["X-Revmon-Delivery"])
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(hook)
    database = f"sqlite:///{tmp_path / 'revmon.db'}"
    engine = make_engine(database)
    migrate(engine)
    now = datetime.now(UTC)
    with session_factory(engine).begin() as session:
        location(session, "main", name="Main Street")
        ids = [  # half already scored (alerts start at once), half for `revmon score`
            review(session, label=("negative", None)[i % 2], seen=now, text=f"Cold soup {i}").id
            for i in range(SEEDED)
        ]
        for rid in ids[:ACTIONS]:
            session.add(Triage(review_id=rid, status="new"))

    with DemoServer() as site:
        config = tmp_path / "revmon.toml"
        config.write_text(
            f"""
[[locations]]
key = "main"
name = "Main Street"

[[locations]]
key = "northwind"
name = "Northwind Coffee"
sources = [{{ platform = "trustpilot", url = "{site.base_url}/review/northwind.example" }}]

[alerts.channels.hook]
type = "webhook"
url = "{httpserver.url_for("/hook")}"
secret_env = "REVMON_T_KEY"

[[alerts.rules]]
name = "neg"
channels = ["hook"]
negative = true
max_age_hours = 87600
""",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REVMON_CONFIG": str(config),
            "REVMON_DATABASE_URL": database,
            "REVMON_SENTIMENT_MODEL": str(tiny_model),
            "REVMON_T_KEY": "hook-key",
            "REVMON_LOG_LEVEL": "WARNING",
        }
        for key in ("REVMON_CONFIG", "REVMON_DATABASE_URL"):
            monkeypatch.setenv(key, env[key])
        monkeypatch.setenv("REVMON_T_KEY", "hook-key")
        monkeypatch.chdir(tmp_path)
        runs: list[tuple[str, subprocess.CompletedProcess[str]]] = []
        outcomes: list[object] = []
        errors: list[BaseException] = []

        def repeat(name: str, times: int, *args: str) -> None:
            for _ in range(times):
                runs.append((name, revmon(env, tmp_path, *args)))

        def dashboard_actions() -> None:
            from dashboard import data

            try:
                for i, rid in enumerate(ids[:ACTIONS]):
                    outcomes.append(data.add_note(rid, f"called back {i}", "lead"))
                    outcomes.append(data.assign(rid, f"agent-{i % 3}", "lead"))
                    outcomes.append(data.set_status(rid, "in_progress", "lead"))
                    time.sleep(0.05)
            except BaseException as exc:  # noqa: BLE001 (reported below, with the others)
                errors.append(exc)

        st.cache_resource.clear()
        threads = [
            threading.Thread(target=repeat, args=("crawl", 2, "crawl", "--full")),
            threading.Thread(target=repeat, args=("score", 1, "score", "--no-progress")),
            threading.Thread(target=repeat, args=("alerts-a", 4, "alerts")),
            threading.Thread(target=repeat, args=("alerts-b", 4, "alerts")),
            threading.Thread(target=dashboard_actions),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        st.cache_resource.clear()
        final = revmon(env, tmp_path, "alerts")  # what was scored last gets its alerts now

    failures = [(name, r.returncode, r.stderr[-2000:]) for name, r in runs if r.returncode != 0]
    assert failures == [] and final.returncode == 0, failures or final.stderr
    assert not any("database is locked" in r.stderr for _, r in runs)
    assert errors == [], errors
    assert len(outcomes) == 3 * ACTIONS and all(o.ok for o in outcomes), outcomes  # type: ignore[attr-defined]

    with session_factory(engine)() as session:
        crawled = session.scalar(select(func.count()).where(Review.location_key == "northwind"))
        assert crawled and crawled > 0
        assert set(session.scalars(select(CrawlRun.status))) == {"ok"}
        reviews = session.scalar(select(func.count()).select_from(Review))
        assert session.scalar(select(func.count()).select_from(Sentiment)) == reviews
        assert reviews == SEEDED + crawled
        notes = session.scalars(
            select(TriageEvent.new_value).where(TriageEvent.field == "note")
        ).all()
        assert sorted(notes) == sorted(f"called back {i}" for i in range(ACTIONS))
        states = Counter(session.scalars(select(Alert.state)))
        alerts = session.scalar(select(func.count()).select_from(Alert))
        assert alerts >= SEEDED and states == Counter({"sent": alerts})
    assert len(delivered) == len(set(delivered)) == alerts
    engine.dispose()
