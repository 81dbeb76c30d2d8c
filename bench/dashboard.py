"""Benchmark: the dashboard's inbox and trends queries at 1M reviews, with and without indexes.

    python bench/dashboard.py [--rows 1000000] [--postgres URL | --no-postgres]

Builds a realistic database per backend: three years of reviews over 12 locations (2 of them
competitors) and 6 platforms, every review scored, a triage row for each negative one (the
last 30 days still open, the rest responded or ignored). Rows go in with ``executemany`` on
SQLite and ``COPY`` on PostgreSQL. Each query from ``pipeline.queries`` is timed (median of a few
runs after a warm-up) with the schema's indexes, then again after dropping them, in the same run;
the ratio printed is time without / time with. PostgreSQL runs in a throw-away database created
from the given one (default: the ``test`` database) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pipeline import queries
from pipeline.db import make_engine, migrate, scratch_postgres
from pipeline.models import Location
from pipeline.queries import Filters

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPAN_DAYS = 3 * 365
LOCATIONS = [(f"loc-{i:02d}", f"Branch {i}", i >= 10) for i in range(12)]
PLATFORMS = ("google", "yandex_maps", "twogis", "trustpilot", "tripadvisor", "app_store")
LANGUAGES = ("en", "ru", "pl", "uk", "de", "es")
ASPECTS = ("staff", "wait_time", "price", "quality", "cleanliness", "delivery")
ASSIGNEES = ("anna", "boris", "chen", None)
INDEXES = {
    "ix_reviews_location_published": "reviews (location_key, published_at)",
    "ix_reviews_platform_published": "reviews (platform, published_at)",
    "ix_sentiment_label_urgency": "sentiment (label, urgency)",
    "ix_triage_status_due": "triage (status, due_at)",
    "ix_triage_assignee": "triage (assignee)",
}
REVIEW_COLUMNS = (
    "id", "platform", "external_id", "kind", "location_key", "url", "author", "rating", "title",
    "text", "language", "published_at", "reply_text", "reply_at", "raw", "content_hash",
    "first_seen", "last_seen",
)  # fmt: skip
SENTIMENT_COLUMNS = (
    "review_id", "label", "score", "probs", "mixed", "aspects", "signals", "urgency", "model_id",
    "model_version", "content_hash", "scored_at",
)  # fmt: skip
TRIAGE_COLUMNS = ("review_id", "status", "assignee", "due_at", "responded_at", "created_at",
                  "updated_at")  # fmt: skip


def dataset(n: int, postgres: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Rows per table, generated with numpy so that a million take seconds, not minutes;
    deterministic for a given ``n``."""
    rng = np.random.default_rng(42)
    ids = np.arange(1, n + 1)
    now = int(NOW.timestamp())
    published = now - rng.integers(0, SPAN_DAYS * 86400, n)
    rating = rng.choice(np.arange(1, 6), n, p=[0.12, 0.08, 0.10, 0.25, 0.45])
    replied = rng.random(n) < 0.5
    reply_at = published + rng.integers(3600, 96 * 3600, n)
    location = ids % len(LOCATIONS)
    competitor = np.array([c for _, _, c in LOCATIONS])[location]
    negative = rating <= 2
    label = np.where(negative, "negative", np.where(rating == 3, "neutral", "positive"))
    urgency = np.where(negative, rng.integers(40, 100, n), rng.integers(0, 30, n))
    combos = [json.dumps(list(c)) for k in range(3) for c in itertools.combinations(ASPECTS, k)]
    aspects = np.array(combos)[rng.integers(0, len(combos), n)]
    stamp = _stamps(postgres)
    pub, rep = stamp(published), stamp(reply_at)
    reviews = [
        (i, PLATFORMS[i % 6], f"r{i}", "review", LOCATIONS[loc][0], f"https://example.com/r/{i}",
         f"Author {i % 5000}", float(r), None, f"Review text number {i} about the visit.",
         LANGUAGES[i % 6], p, "Thanks!" if rp else None, ra if rp else None, "{}", f"{i:064x}",
         p, p)
        for i, loc, r, p, rp, ra in zip(ids.tolist(), location.tolist(), rating.tolist(), pub,
                                        replied.tolist(), rep, strict=True)
    ]  # fmt: skip
    sentiment = [
        (i, lab, -0.7 if lab == "negative" else 0.6, "{}", False, asp, "[]", u, "bench", "1",
         f"{i:064x}", p)
        for i, lab, asp, u, p in zip(ids.tolist(), label.tolist(), aspects.tolist(),
                                     urgency.tolist(), pub, strict=True)
    ]  # fmt: skip
    queued = np.flatnonzero(negative & ~competitor)
    recent = published[queued] > now - 30 * 86400
    status = np.where(recent, rng.choice(["new", "new", "in_progress"], len(queued)),
                      np.where(rng.random(len(queued)) < 0.8, "responded", "ignored"))  # fmt: skip
    responded = np.where(replied[queued], reply_at[queued], published[queued] + 30 * 3600)
    due, answered = stamp(published[queued] + 86400), stamp(responded)
    assignee = rng.choice(np.array(ASSIGNEES, dtype=object), len(queued))
    triage = [
        (int(ids[q]), st, who, d, a if st == "responded" else None, pub[q], pub[q])
        for q, st, who, d, a in zip(queued.tolist(), status.tolist(), assignee.tolist(), due,
                                    answered, strict=True)
    ]  # fmt: skip
    return {"reviews": reviews, "sentiment": sentiment, "triage": triage}


def _stamps(postgres: bool) -> Callable[[np.ndarray], list[str]]:
    """Epoch seconds -> the text each backend stores (SQLite: SQLAlchemy's own format)."""

    def convert(seconds: np.ndarray) -> list[str]:
        text_ = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="us")
        text_ = np.char.replace(text_, "T", " ")
        return [f"{t}+00" for t in text_.tolist()] if postgres else text_.tolist()

    return convert


COLUMNS = {"reviews": REVIEW_COLUMNS, "sentiment": SENTIMENT_COLUMNS, "triage": TRIAGE_COLUMNS}


def load_sqlite(engine: Engine, n: int) -> None:
    data = dataset(n, postgres=False)
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table, columns in COLUMNS.items():
            marks = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            raw.executemany(statement, data[table])


def load_postgres(engine: Engine, n: int) -> None:
    data = dataset(n, postgres=True)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for table, columns in COLUMNS.items():
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for record in data[table]:
                    copy.write_row(record)


def set_indexes(engine: Engine, present: bool) -> None:
    with engine.begin() as conn:
        for name, target in INDEXES.items():
            if present:
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        conn.execute(text("ANALYZE"))


def workload() -> dict[str, Callable[[Session], Any]]:
    """The queries a page load runs: the inbox's first page (with its count) and the trends."""
    since_90 = NOW - timedelta(days=90)
    since_180 = NOW - timedelta(days=180)
    one = Filters(locations=("loc-03",))
    return {
        "inbox: first page": lambda s: queries.inbox(s, Filters(), now=NOW),
        "inbox: one location": lambda s: queries.inbox(s, one, now=NOW),
        "inbox: negative, unassigned": lambda s: queries.inbox(
            s, Filters(labels=("negative",), assignees=("",)), now=NOW
        ),
        "trends: summary 90 d": lambda s: queries.summary(s, Filters(since=since_90)),
        "trends: weekly 180 d, one location": lambda s: queries.trend(
            s, Filters(locations=("loc-03",), since=since_180), "week"
        ),
        "trends: by location 90 d": lambda s: queries.breakdown(
            s, Filters(since=since_90, include_competitors=True), "location"
        ),
        "trends: aspects 90 d, one platform": lambda s: queries.aspect_trend(
            s, Filters(platforms=("google",), since=since_90), "week"
        ),
    }


def timed(engine: Engine, query: Callable[[Session], Any], repeat: int = 3) -> float:
    """Median seconds of ``repeat`` runs after one warm-up run."""
    times = []
    with Session(engine) as session:
        query(session)
        for _ in range(repeat):
            start = time.perf_counter()
            query(session)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, engine: Engine, n: int, load: Callable[[Engine, int], None]) -> None:
    migrate(engine)
    with Session(engine) as session, session.begin():
        session.add_all(Location(key=k, name=v, is_competitor=c) for k, v, c in LOCATIONS)
    set_indexes(engine, present=False)
    start = time.perf_counter()
    load(engine, n)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    set_indexes(engine, present=True)
    print(f"\n{name}: {n:,} reviews loaded in {loaded:.1f} s, indexed in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    with_index = {label: timed(engine, query) for label, query in workload().items()}
    set_indexes(engine, present=False)
    without = {label: timed(engine, query) for label, query in workload().items()}
    print(f"{'query':38} {'indexed ms':>11} {'no index ms':>12} {'ratio':>7}")
    for label, seconds in with_index.items():
        ratio = without[label] / seconds
        print(f"{label:38} {seconds * 1000:11.1f} {without[label] * 1000:12.1f} {ratio:6.1f}x")
    page = sum(v for k, v in with_index.items() if k.startswith("inbox: first"))
    print(f"inbox page load (first page + count): {page * 1000:.0f} ms with indexes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        bench("SQLite", engine, args.rows, load_sqlite)
        engine.dispose()
    if args.no_postgres:
        return
    with scratch_postgres(args.postgres, "revmon_bench") as url:
        engine = make_engine(url)
        bench("PostgreSQL", engine, args.rows, load_postgres)
        engine.dispose()


if __name__ == "__main__":
    main()
