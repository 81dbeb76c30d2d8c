"""Rows for triage and alert tests, written straight to the tables (no crawler, no model)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from pipeline.models import Location, Review, Sentiment

_ids = count(1)


def location(session: Session, key: str, timezone: str = "UTC", **kw: Any) -> Location:
    loc = Location(key=key, name=kw.pop("name", key.title()), timezone=timezone, **kw)
    session.add(loc)
    session.flush()
    return loc


def review(
    session: Session,
    *,
    label: str | None = "negative",
    seen: datetime = datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    published: datetime | None = None,
    location_key: str | None = "main",
    rating: float | None = 1.0,
    text: str = "Cold food and a rude waiter.",
    mixed: bool = False,
    urgency: int = 50,
    signals: list[str] | None = None,
    corrected: str | None = None,
    **fields: Any,
) -> Review:
    """One review, scored with ``label`` unless it is None."""
    n = next(_ids)
    row = Review(
        platform=fields.pop("platform", "trustpilot"),
        external_id=f"seed-{n}",
        url=f"https://example.test/r/{n}",
        author=fields.pop("author", f"Guest {n}"),
        rating=rating,
        text=text,
        location_key=location_key,
        published_at=published or seen,
        first_seen=seen,
        last_seen=seen,
        content_hash=f"h{n}",
        **fields,
    )
    session.add(row)
    session.flush()
    if label is not None:
        session.add(
            Sentiment(
                review_id=row.id,
                label=label,
                score=-0.8 if label == "negative" else 0.5,
                mixed=mixed,
                urgency=urgency,
                signals=signals or [],
                aspects=[],
                model_id="test",
                model_version="1",
                content_hash=row.content_hash,
                corrected_label=corrected,
            )
        )
        session.flush()
    return row
