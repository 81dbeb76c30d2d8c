"""Benchmark: batched upsert (pipeline.ingest) vs one ORM add per row, on SQLite and PostgreSQL.

    python bench/ingest.py [--rows 100000] [--postgres URL | --no-postgres]

Both paths validate and normalise every item the same way (pipeline.normalize) and both end with
one commit, so the figures compare the write paths: a multi-row INSERT .. ON CONFLICT per chunk
against a SELECT + INSERT per row through the ORM unit of work. A second batched pass (a re-crawl
where nothing changed) is timed too. Prints rows/s and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.db import make_engine, migrate, scratch_postgres
from pipeline.ingest import IngestResult, upsert_reviews
from pipeline.models import Review
from pipeline.normalize import CleanReview, normalize

PHRASES = (
    "The delivery was late and nobody answered the phone.",
    "Great coffee, friendly staff, will come back.",
    "Очень долго ждали заказ, официант был груб.",
    "Obsługa miła, ale ceny wysokie.",
)


def synthetic(n: int) -> list[CleanReview]:
    """``n`` valid reviews across platforms, normalised once up front (language given, so no
    detection cost muddies the write-path comparison)."""
    platforms = ("trustpilot", "twogis", "google", "schema_org")
    return [
        normalize(
            ReviewItem(
                platform=platforms[i % 4],
                external_id=f"r{i}",
                url=f"https://example.com/r/{i}",
                text=f"{PHRASES[i % 4]} #{i}",
                published_at=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00",
                author=f"Author {i % 997}",
                rating=1 + i % 5,
                language="en",
                location_key=f"loc-{i % 20}",
                raw={"id": i},
            )
        )
        for i in range(n)
    ]


def batched(engine: Engine, reviews: list[CleanReview]) -> None:
    with Session(engine) as session, session.begin():
        upsert_reviews(session, reviews, IngestResult())


def orm_per_row(engine: Engine, reviews: list[CleanReview]) -> None:
    """The naive way: look the row up, add it through the ORM, flush, one row at a time."""
    with Session(engine) as session, session.begin():
        for review in reviews:
            found = session.scalar(
                select(Review.id).where(
                    Review.platform == review.platform, Review.external_id == review.external_id
                )
            )
            if found is None:
                session.add(Review(**review.row()))
                session.flush()


def timed(label: str, fn: Callable[[], None], rows: int) -> float:
    start = time.perf_counter()
    fn()
    rate = rows / (time.perf_counter() - start)
    print(f"  {label:<34} {rate:>10,.0f} rows/s")
    return rate


def fresh(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reviews"))
    return engine


def run(name: str, engine: Engine, reviews: list[CleanReview]) -> None:
    migrate(engine)
    print(f"{name}: {len(reviews):,} reviews")
    fast = timed("batched upsert (new rows)", lambda: batched(fresh(engine), reviews), len(reviews))
    timed("batched upsert (re-crawl, unchanged)", lambda: batched(engine, reviews), len(reviews))
    slow = timed("one ORM add per row", lambda: orm_per_row(fresh(engine), reviews), len(reviews))
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Review)) == len(reviews)
    print(f"  ratio batched / per-row: {fast / slow:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    reviews = synthetic(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        run("SQLite", engine, reviews)
        engine.dispose()
    if not args.no_postgres:
        with scratch_postgres(args.postgres, "revmon_bench") as url:
            engine = make_engine(url)
            run("PostgreSQL", engine, reviews)
            engine.dispose()


if __name__ == "__main__":
    main()
