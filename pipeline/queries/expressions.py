"""SQL expressions that the raw-table queries, the rollup refresh and the rollup readers share,
so that both sides of "rollups equal the raw tables" compute a figure the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Float, Integer, cast, func, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.insight_models import RollupState
from pipeline.models import Review, Sentiment, Triage
from pipeline.queries.filters import dialect

ROLLUP_STATE = "rollups"


def day_expr(session: Session, column: Any = Review.published_at) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp, as the rollups key it."""
    if dialect(session) == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def response_seconds(session: Session) -> ColumnElement[float]:
    """Seconds from publication to the first known answer (public reply, else marked)."""
    answered = func.coalesce(Review.reply_at, Triage.responded_at)
    if dialect(session) == "postgresql":
        return cast(func.extract("epoch", answered - Review.published_at), Float)
    return (func.julianday(answered) - func.julianday(Review.published_at)) * 86400.0


def location_expr() -> ColumnElement[str]:
    """A review's location key, ``''`` for none (rollup keys cannot be NULL)."""
    return func.coalesce(Review.location_key, "")


def aspect_elements(session: Session) -> tuple[Any, ColumnElement[Any]]:
    """A table-valued expansion of ``sentiment.aspects`` and that aspect's polarity (1, 0, -1;
    NULL for reviews scored before polarity existed)."""
    if dialect(session) == "postgresql":
        elements = func.json_array_elements_text(Sentiment.aspects).table_valued("value")
        polarity = cast(Sentiment.aspect_polarity.op("->>")(elements.c.value), Integer)
    else:
        elements = func.json_each(Sentiment.aspects).table_valued("value")
        path = literal('$."') + elements.c.value + literal('"')
        polarity = cast(func.json_extract(Sentiment.aspect_polarity, path), Integer)
    return elements, polarity


def rollups_ready(session: Session) -> bool:
    """Whether the rollups were built at least once (else readers use the raw tables)."""
    return session.get(RollupState, ROLLUP_STATE) is not None
