"""Benchmark: the dashboard's queries at 1M (SQLite) and 10M (PostgreSQL) reviews.

    python bench/dashboard.py [--rows 10000000] [--sqlite-rows N] [--postgres URL | --no-postgres]
                              [--no-sqlite] [--inbox] [--runs 20]

Builds a realistic database per backend: three years of reviews over 12 locations (2 of them
competitors) and 6 platforms, every review scored (aspects with polarity, SCI signals), a triage
row for each negative one (the last 30 days still open, the rest responded or ignored), and a
crawl run per location, platform and day with the platform's displayed rating and count. Rows
are generated with numpy in chunks of ``CHUNK`` and go in with ``executemany`` on SQLite and
``COPY`` on PostgreSQL. SQLite gets ``--sqlite-rows`` (default: ``--rows``, at most 1M).

Trends: the rollups are built once (timed), then every query the Trends page runs is timed
``--runs`` times after a warm-up and its p95 printed beside the same figure from the raw tables
(median of ``--raw-runs``; the ratio is raw / rollup). ``--inbox`` also times the inbox queries
with the schema's indexes and again without them. PostgreSQL runs in a throw-away database
created from the given one (default: the ``test`` database) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pipeline import queries
from pipeline.db import make_engine, migrate, scratch_postgres
from pipeline.models import Location
from pipeline.queries import Filters, insights
from pipeline.queries import trends as raw
from pipeline.rollups import refresh_rollups

# today noon: the dashboard's default range (the last six months) then holds the data
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
SPAN_DAYS = 3 * 365
CHUNK = 500_000
LOCATIONS = [(f"loc-{i:02d}", f"Branch {i}", i >= 10) for i in range(12)]
PLATFORMS = ("google", "yandex_maps", "twogis", "trustpilot", "tripadvisor", "app_store")
LANGUAGES = ("en", "ru", "pl", "uk", "de", "es")
ASPECTS = ("staff", "wait_time", "price", "quality", "cleanliness", "delivery")
ASSIGNEES = ("anna", "boris", "chen", "")
INDEXES = {
    "ix_reviews_location_published": "reviews (location_key, published_at)",
    "ix_reviews_platform_published": "reviews (platform, published_at)",
    "ix_sentiment_label_urgency": "sentiment (label, urgency)",
    "ix_triage_status_due": "triage (status, due_at)",
    "ix_triage_assignee": "triage (assignee)",
}
REVIEW_COLUMNS = (
    "id", "platform", "external_id", "kind", "location_key", "url", "author", "rating", "title",
    "text", "language", "published_at", "published_estimated", "reply_text", "reply_at",
    "removed", "raw", "content_hash", "first_seen", "last_seen",
)  # fmt: skip
SENTIMENT_COLUMNS = (
    "review_id", "label", "score", "probs", "mixed", "aspects", "signals", "urgency",
    "aspect_polarity", "needs_check", "sci_satisfied", "sci_return", "sci_recommend", "model_id",
    "model_version", "content_hash", "scored_at",
)  # fmt: skip
TRIAGE_COLUMNS = ("review_id", "status", "assignee", "due_at", "responded_at", "created_at",
                  "updated_at")  # fmt: skip
RUN_COLUMNS = ("source", "platform", "location_key", "started_at", "finished_at", "items", "new",
               "updated", "errors", "pages", "platform_total", "platform_rating", "status",
               "error_log", "rejected", "pages_failed", "outcomes", "full", "complete")  # fmt: skip
COLUMNS = {"reviews": REVIEW_COLUMNS, "sentiment": SENTIMENT_COLUMNS, "triage": TRIAGE_COLUMNS,
           "crawl_runs": RUN_COLUMNS}  # fmt: skip


# --- data ----------------------------------------------------------------------------------------


def _stamps(seconds: np.ndarray, postgres: bool) -> np.ndarray:
    """Epoch seconds -> the text each backend stores (SQLite: SQLAlchemy's own format)."""
    out = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="us")
    out = np.char.replace(out, "T", " ")
    return np.char.add(out, "+00") if postgres else out


def chunk_frames(start: int, stop: int, postgres: bool) -> dict[str, pd.DataFrame]:
    """Rows for ids [start, stop) per table, deterministic per chunk; numpy keeps a million
    rows to seconds."""
    rng = np.random.default_rng(start)
    n = stop - start
    ids = np.arange(start + 1, stop + 1)
    now = int(NOW.timestamp())
    published = now - rng.integers(0, SPAN_DAYS * 86400, n)
    rating = rng.choice(np.arange(1, 6), n, p=[0.12, 0.08, 0.10, 0.25, 0.45]).astype(float)
    replied = rng.random(n) < 0.5
    reply_at = published + rng.integers(3600, 96 * 3600, n)
    location = ids % len(LOCATIONS)
    competitor = np.array([c for _, _, c in LOCATIONS])[location]
    negative = rating <= 2
    label = np.where(negative, "negative", np.where(rating == 3, "neutral", "positive"))
    pub, rep = _stamps(published, postgres), _stamps(reply_at, postgres)
    hashes = np.char.zfill(np.char.mod("%x", ids), 64)
    reviews = pd.DataFrame({
        "id": ids, "platform": np.array(PLATFORMS)[ids % 6],
        "external_id": np.char.add("r", ids.astype(str)),
        "kind": "review", "location_key": np.array([k for k, _, _ in LOCATIONS])[location],
        "url": np.char.add("https://example.com/r/", ids.astype(str)),
        "author": np.char.add("Author ", (ids % 5000).astype(str)), "rating": rating, "title": None,
        "text": np.char.add("Review text number ", ids.astype(str)),
        "language": np.array(LANGUAGES)[ids % 6], "published_at": pub,
        "published_estimated": False, "reply_text": np.where(replied, "Thanks!", None),
        "reply_at": np.where(replied, rep, None), "removed": False, "raw": "{}",
        "content_hash": hashes, "first_seen": pub, "last_seen": pub,
    })  # fmt: skip
    picks = rng.integers(0, len(ASPECTS), (n, 2))
    count = rng.integers(0, 3, n)
    polarity = np.where(negative, -1, np.where(rating >= 4, 1, 0))
    aspects = [json.dumps([ASPECTS[a] for a in row[:k]])
               for row, k in zip(picks, count, strict=True)]  # fmt: skip
    polarities = [json.dumps({ASPECTS[a]: int(p) for a in row[:k]})
                  for row, k, p in zip(picks, count, polarity, strict=True)]  # fmt: skip
    secure = (rating == 5) & (rng.random(n) < 0.3)
    sentiment = pd.DataFrame({
        "review_id": ids, "label": label, "score": np.where(negative, -0.7, 0.6), "probs": "{}",
        "mixed": False, "aspects": aspects, "signals": "[]",
        "urgency": np.where(negative, rng.integers(40, 100, n), rng.integers(0, 30, n)),
        "aspect_polarity": polarities, "needs_check": (rating == 3) & (rng.random(n) < 0.2),
        "sci_satisfied": np.where(negative, -1, (rating >= 4).astype(int)),
        "sci_return": np.where(secure | (rng.random(n) < 0.1), 1, 0),
        "sci_recommend": np.where(secure, 1, 0), "model_id": "bench", "model_version": "1",
        "content_hash": hashes, "scored_at": pub,
    })  # fmt: skip
    queued = np.flatnonzero(negative & ~competitor)
    recent = published[queued] > now - 30 * 86400
    status = np.where(recent, rng.choice(["new", "new", "in_progress"], len(queued)),
                      np.where(rng.random(len(queued)) < 0.8, "responded", "ignored"))  # fmt: skip
    answered = np.where(replied[queued], reply_at[queued], published[queued] + 30 * 3600)
    assignee = rng.choice(np.array(ASSIGNEES), len(queued))
    triage = pd.DataFrame({
        "review_id": ids[queued], "status": status,
        "assignee": np.where(assignee == "", None, assignee),
        "due_at": _stamps(published[queued] + 86400, postgres),
        "responded_at": np.where(status == "responded", _stamps(answered, postgres), None),
        "created_at": pub[queued], "updated_at": pub[queued],
    })  # fmt: skip
    return {"reviews": reviews, "sentiment": sentiment, "triage": triage}


def crawl_runs(postgres: bool) -> pd.DataFrame:
    """One run per location, platform and day: the platform's displayed rating and count."""
    days = np.arange(SPAN_DAYS)
    rows = []
    for key, _, _ in LOCATIONS:
        for i, platform in enumerate(PLATFORMS):
            at = int(NOW.timestamp()) - (SPAN_DAYS - days) * 86400 + 3600 * i
            stamps = _stamps(at, postgres)
            total = 100 + days // 3
            rating = np.round(3.8 + 0.4 * np.sin(days / 90 + i), 2)
            rows.append(pd.DataFrame({
                "source": platform, "platform": platform, "location_key": key,
                "started_at": stamps, "finished_at": stamps, "items": 3, "new": 1, "updated": 0,
                "errors": 0, "pages": 1, "platform_total": total, "platform_rating": rating,
                "status": "ok", "error_log": "[]", "rejected": 0, "pages_failed": 0,
                "outcomes": "{}", "full": False, "complete": True,
            }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def chunks(n: int, postgres: bool) -> Iterator[dict[str, pd.DataFrame]]:
    for start in range(0, n, CHUNK):
        yield chunk_frames(start, min(n, start + CHUNK), postgres)


def _records(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    frame = frame.astype(object).where(frame.notna(), None)
    return [tuple(row) for row in frame.itertuples(index=False, name=None)]


def load_sqlite(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        raw_conn = conn.connection.driver_connection
        for frames in [*chunks(n, postgres=False), {"crawl_runs": crawl_runs(False)}]:
            for table, frame in frames.items():
                columns = COLUMNS[table]
                marks = ", ".join("?" * len(columns))
                statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                raw_conn.executemany(statement, _records(frame[list(columns)]))


def load_postgres(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for frames in [*chunks(n, postgres=True), {"crawl_runs": crawl_runs(True)}]:
            for table, frame in frames.items():
                columns = COLUMNS[table]
                buffer = io.StringIO()
                frame[list(columns)].to_csv(buffer, index=False, header=False, na_rep="\\N")
                names = ", ".join(f'"{c}"' for c in columns)  # "full" is a keyword
                statement = f"COPY {table} ({names}) FROM STDIN (FORMAT csv, NULL '\\N')"
                with cursor.copy(statement) as copy:
                    copy.write(buffer.getvalue())


def set_indexes(engine: Engine, present: bool) -> None:
    with engine.begin() as conn:
        for name, target in INDEXES.items():
            if present:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        conn.execute(text("ANALYZE"))


# --- workloads -----------------------------------------------------------------------------------

DAY0 = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC) + timedelta(days=1)
WINDOW = Filters(since=DAY0 - timedelta(days=180), until=DAY0)
ONE = Filters(locations=("loc-03",), since=DAY0 - timedelta(days=180), until=DAY0)
EVERYONE = Filters(since=DAY0 - timedelta(days=180), until=DAY0, include_competitors=True)
PREVIOUS = Filters(since=DAY0 - timedelta(days=360), until=DAY0 - timedelta(days=180))


Query = Callable[[Session], Any]


def trends_workload() -> dict[str, tuple[Query, Query | None]]:
    """The queries one Trends page load runs (180 days, the default), each with its raw-table
    counterpart (None: it has no raw form, e.g. the platforms' displayed figures)."""
    return {
        "summary 180 d": (lambda s: queries.summary(s, WINDOW),
                          lambda s: raw.raw_summary(s, WINDOW)),
        "summary, previous 180 d": (lambda s: queries.summary(s, PREVIOUS),
                                    lambda s: raw.raw_summary(s, PREVIOUS)),
        "weekly trend 180 d": (lambda s: queries.trend(s, WINDOW, "week"),
                               lambda s: raw.raw_trend(s, WINDOW, "week")),
        "weekly trend, one location": (lambda s: queries.trend(s, ONE, "week"),
                                       lambda s: raw.raw_trend(s, ONE, "week")),
        "per location + competitors": (lambda s: queries.breakdown(s, EVERYONE, "location"),
                                       lambda s: raw.raw_breakdown(s, EVERYONE, "location")),
        "per location": (lambda s: queries.breakdown(s, WINDOW, "location"),
                         lambda s: raw.raw_breakdown(s, WINDOW, "location")),
        "per platform": (lambda s: queries.breakdown(s, WINDOW, "platform"),
                         lambda s: raw.raw_breakdown(s, WINDOW, "platform")),
        "aspects weekly": (lambda s: queries.aspect_trend(s, WINDOW, "week"),
                           lambda s: raw.raw_aspect_trend(s, WINDOW, "week")),
        "aspects praise/complaints": (lambda s: insights.aspect_sentiment(s, WINDOW),
                                      lambda s: raw.raw_aspect_trend(s, WINDOW, "month")),
        "recovery": (lambda s: insights.recovery(s, WINDOW), None),
        "public picture": (lambda s: insights.public_picture(s, EVERYONE), None),
        "trend filter options": (lambda s: insights.trend_options(s), None),
        "location names": (lambda s: insights.location_names(s), None),
    }  # fmt: skip


def inbox_workload() -> dict[str, Callable[[Session], Any]]:
    one = Filters(locations=("loc-03",))
    return {
        "inbox: first page": lambda s: queries.inbox(s, Filters(), now=NOW),
        "inbox: one location": lambda s: queries.inbox(s, one, now=NOW),
        "inbox: negative, unassigned": lambda s: queries.inbox(
            s, Filters(labels=("negative",), assignees=("",)), now=NOW
        ),
    }


def timings(engine: Engine, query: Callable[[Session], Any], runs: int) -> list[float]:
    """Seconds of ``runs`` runs after one warm-up run."""
    out = []
    with Session(engine) as session:
        query(session)
        for _ in range(runs):
            start = time.perf_counter()
            query(session)
            out.append(time.perf_counter() - start)
    return out


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


# --- the run -------------------------------------------------------------------------------------


def build(name: str, engine: Engine, n: int, load: Callable[[Engine, int], None]) -> None:
    migrate(engine)
    with Session(engine) as session, session.begin():
        session.add_all(Location(key=k, name=v, is_competitor=c) for k, v, c in LOCATIONS)
    set_indexes(engine, present=False)
    start = time.perf_counter()
    load(engine, n)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    set_indexes(engine, present=True)
    indexed = time.perf_counter() - start
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        refresh_rollups(session, full=True, now=NOW)
    rolled = time.perf_counter() - start
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"\n{name}: {n:,} reviews loaded in {loaded:.0f} s, indexed in {indexed:.0f} s, "
          f"rollups built in {rolled:.0f} s")  # fmt: skip


def bench_trends(engine: Engine, runs: int, raw_runs: int) -> None:
    print(f"{'Trends query':30} {'rollup p95 ms':>14} {'raw ms':>10} {'raw/rollup':>11}")
    worst = 0.0
    for label, (fast, slow) in trends_workload().items():
        rolled = p95(timings(engine, fast, runs))
        worst = max(worst, rolled)
        if slow is None:
            print(f"{label:30} {rolled * 1000:14.1f} {'—':>10} {'—':>11}")
            continue
        plain = statistics.median(timings(engine, slow, raw_runs))
        print(f"{label:30} {rolled * 1000:14.1f} {plain * 1000:10.0f} {plain / rolled:10.0f}x")
    verdict = "under" if worst < 0.2 else "OVER"
    print(f"slowest Trends query p95: {worst * 1000:.1f} ms ({verdict} the 200 ms goal)")


def bench_inbox(engine: Engine, runs: int) -> None:
    workload = inbox_workload()
    with_index = {k: statistics.median(timings(engine, q, runs)) for k, q in workload.items()}
    set_indexes(engine, present=False)
    without = {k: statistics.median(timings(engine, q, 1)) for k, q in workload.items()}
    set_indexes(engine, present=True)
    print(f"{'inbox query':30} {'indexed ms':>11} {'no index ms':>12} {'ratio':>7}")
    for label, seconds in with_index.items():
        print(f"{label:30} {seconds * 1000:11.1f} {without[label] * 1000:12.1f} "
              f"{without[label] / seconds:6.1f}x")  # fmt: skip


def run_backend(name: str, engine: Engine, n: int, load: Callable[[Engine, int], None],
                args: argparse.Namespace) -> None:  # fmt: skip
    build(name, engine, n, load)
    raw_runs = args.raw_runs or (1 if n >= 5_000_000 else 3)
    bench_trends(engine, args.runs, raw_runs)
    if args.inbox:
        bench_inbox(engine, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=None, help="default: min(rows, 1M)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--inbox", action="store_true", help="also the inbox, with/without indexes")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per rollup query")
    parser.add_argument("--raw-runs", type=int, default=0, help="default: 3, or 1 from 5M rows")
    args = parser.parse_args()

    if not args.no_sqlite:
        rows = args.sqlite_rows or min(args.rows, 1_000_000)
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            run_backend("SQLite", engine, rows, load_sqlite, args)
            engine.dispose()
    if args.no_postgres:
        return
    with scratch_postgres(args.postgres, "revmon_bench") as url:
        engine = make_engine(url)
        run_backend("PostgreSQL", engine, args.rows, load_postgres, args)
        engine.dispose()


if __name__ == "__main__":
    main()
