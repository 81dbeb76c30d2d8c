"""`revmon demo --no-dashboard` end to end, in a child process as a user runs it: the bundled
site is crawled by the real spiders (as it was a few weeks ago, then today), scored by the bundled
model, triaged; its dates follow the day it runs; recovery, an incident and an emerging topic
show; a second run stores no duplicates; `revmon export` gives every review with its sentiment
and triage state."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def revmon(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revmon.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "REVMON_DATA_DIR": str(home), "REVMON_LOG_LEVEL": "WARNING"}
    env.pop("REVMON_DATABASE_URL", None)
    env.pop("REVMON_CONFIG", None)
    return env


def export_jsonl(env: dict[str, str]) -> list[dict]:
    result = revmon(env, "export", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_demo_runs_twice_without_duplicates(demo_env: dict[str, str]) -> None:
    port = free_port()
    first = revmon(demo_env, "demo", "--no-dashboard", "--port", port)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "reviews stored:" in first.stdout
    delivered = re.search(r"webhook received (\d+) alerts", first.stdout)
    assert delivered and int(delivered.group(1)) >= 3
    records = export_jsonl(demo_env)

    platforms = Counter(r["platform"] for r in records)
    assert len(records) >= 10
    assert {"trustpilot", "twogis", "schema_org"} <= set(platforms)
    assert all(r["sentiment"] and r["sentiment"]["label"] in {"negative", "neutral", "positive"}
               for r in records)  # fmt: skip
    assert {r["language"] for r in records} >= {"en", "ru", "pl"}
    assert any(r["reply_text"] for r in records)

    by_id = {(r["platform"], r["external_id"]): r for r in records}
    poisoning = next(r for r in records if "Отравился" in r["text"])
    assert poisoning["rating"] == 1.0
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    assert poisoning["published_at"] == f"{six_days_ago}T12:03:11.402000+00:00"  # 19:03 +07
    assert poisoning["sentiment"]["label"] == "negative"
    assert poisoning["triage"]["status"] == "new"
    assert poisoning["triage"]["due_at"] is not None
    assert poisoning["location_key"] == "northwind-novosibirsk"
    polish = {r["author"]: r["rating"] for r in records if r["platform"] == "schema_org"}
    assert len(polish) == 7 and all(1.0 <= rating <= 5.0 for rating in polish.values())
    assert polish["Tomasz"] < polish["Magda"] < polish["Piotr W."] < polish["Marek"] == 5.0

    oldest = min(datetime.fromisoformat(r["published_at"]) for r in records)
    assert datetime.now(UTC) - oldest < timedelta(days=180)  # inside Trends' default range
    sarcastic = next(r for r in records if "Truly outstanding" in r["text"])
    assert sarcastic["rating"] == 5.0 and sarcastic["triage"]["status"] == "new"  # mixed: queued
    recovered = next(r for r in records if r["text"].startswith("Update: after my first review"))
    assert recovered["rating"] == 4.0 and recovered["reply_text"]
    assert "recovery: 2 of 3 answered negative reviews came round" in first.stdout

    result = revmon(demo_env, "report", "insights", "--days", "180", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["recovery"]["replied"], report["recovery"]["recovered"]) == (3, 2)
    [incident] = report["incidents"]
    assert set(incident["platforms"]) == {"trustpilot", "twogis", "schema_org"}
    assert incident["size"] >= 4
    [topic] = report["emerging_topics"]
    assert topic["location"] == "northwind-warsaw" and "charged" in topic["words"]
    assert {row["location"] for row in report["sci"]} >= {"northwind-warsaw", "rival-roasters"}

    second = revmon(demo_env, "demo", "--no-dashboard", "--port", port)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "webhook received 0 alerts" in second.stdout  # never sent twice
    again = export_jsonl(demo_env)
    assert len(again) == len(records)
    assert {(r["platform"], r["external_id"]) for r in again} == set(by_id)


def test_export_csv_has_flat_columns(demo_env: dict[str, str]) -> None:
    result = revmon(demo_env, "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) >= 10
    assert {"sentiment.label", "triage.status", "raw"} <= set(rows[0])
    assert all(row["sentiment.label"] for row in rows)


def test_demo_refuses_a_busy_port(demo_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = revmon(demo_env, "demo", "--no-dashboard", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2
    assert "is busy" in result.stderr and "Traceback" not in result.stderr
