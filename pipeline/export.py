"""``revmon export``: every review as the ReviewItem fields plus its sentiment and triage."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.models import Review

ITEM_FIELDS = (
    "platform", "external_id", "kind", "location_key", "url", "author", "rating", "title", "text",
    "language", "published_at", "reply_text", "reply_at", "raw",
)  # fmt: skip
SENTIMENT_FIELDS = ("label", "score", "aspects", "urgency")
TRIAGE_FIELDS = ("status", "assignee", "due_at", "responded_at")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def review_record(review: Review) -> dict[str, Any]:
    """One review as the export contract shapes it (nested ``sentiment`` and ``triage``)."""
    record = {name: _iso(getattr(review, name)) for name in ITEM_FIELDS}
    sentiment = review.sentiment
    record["sentiment"] = (
        {name: getattr(sentiment, name) for name in SENTIMENT_FIELDS} if sentiment else None
    )
    if sentiment and sentiment.corrected_label:
        record["sentiment"]["label"] = sentiment.corrected_label
    triage = review.triage
    record["triage"] = (
        {name: _iso(getattr(triage, name)) for name in TRIAGE_FIELDS} if triage else None
    )
    return record


def iter_records(session: Session, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Stream all reviews in id order, a batch at a time, so a million rows fit in memory."""
    last_id = 0
    while True:
        query = (
            select(Review)
            .where(Review.id > last_id)
            .order_by(Review.id)
            .limit(batch)
            .options(selectinload(Review.sentiment), selectinload(Review.triage))
        )
        reviews = session.scalars(query).all()
        if not reviews:
            return
        yield from (review_record(review) for review in reviews)
        last_id = reviews[-1].id
        session.expunge_all()


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for count, record in enumerate(records, start=1):  # noqa: B007
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return count


def flat_columns() -> list[str]:
    return [
        *ITEM_FIELDS,
        *(f"sentiment.{name}" for name in SENTIMENT_FIELDS),
        *(f"triage.{name}" for name in TRIAGE_FIELDS),
    ]


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """CSV cells: nested objects become dotted columns, lists and dicts JSON strings."""
    row = {name: record[name] for name in ITEM_FIELDS}
    for group, names in (("sentiment", SENTIMENT_FIELDS), ("triage", TRIAGE_FIELDS)):
        values = record[group] or {}
        row.update({f"{group}.{name}": values.get(name) for name in names})
    return {key: _cell(value) for key, value in row.items()}


def _cell(value: Any) -> Any:
    """Review text is untrusted: a cell starting like a formula is quoted so that a spreadsheet
    shows it as text instead of running it (CSV injection)."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def write_csv(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=flat_columns())
    writer.writeheader()
    count = 0
    for count, record in enumerate(records, start=1):  # noqa: B007
        writer.writerow(flatten(record))
    return count
