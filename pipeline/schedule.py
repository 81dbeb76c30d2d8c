"""When each source is due, and which process holds it: leases in the shared database.

Several ``revmon run`` processes (on several machines, one PostgreSQL) look at the same
``source_schedule`` rows. A process takes the due sources with one conditional ``UPDATE ..
RETURNING``: on PostgreSQL a second process updating the same row waits for the first and then
finds the lease taken, on SQLite writers are serialised, so a source is taken by exactly one
process. The holder collects it and settles the row: next due one interval after the start. A
process that dies keeps its lease until ``lease_until``; then another one takes the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.models import SourceSchedule, utcnow


def ensure_rows(session: Session, keys: Iterable[str], now: datetime | None = None) -> None:
    """A schedule row per source key, due at once when new."""
    rows = [{"key": key, "next_due_at": now or utcnow()} for key in keys]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(SourceSchedule).on_conflict_do_nothing(), rows)


def _due(now: datetime) -> object:
    free = or_(SourceSchedule.lease_until.is_(None), SourceSchedule.lease_until < now)
    return and_(SourceSchedule.next_due_at <= now, free)


def next_due(session: Session, keys: Iterable[str]) -> datetime | None:
    """The earliest moment one of ``keys`` is due and free (None when there are no rows)."""
    rows = session.execute(
        select(SourceSchedule.next_due_at, SourceSchedule.lease_until).where(
            SourceSchedule.key.in_(list(keys))
        )
    ).all()
    moments = [max(due, lease) if lease else due for due, lease in rows]
    return min(moments, default=None)


def claim_due(
    session: Session,
    keys: Iterable[str],
    owner: str,
    *,
    lease: timedelta,
    now: datetime | None = None,
) -> list[str]:
    """Take the lease of every due, free source among ``keys``; returns the keys taken."""
    now = now or utcnow()
    keys = list(keys)
    ensure_rows(session, keys, now)
    statement = (
        update(SourceSchedule)
        .where(SourceSchedule.key.in_(keys), _due(now))
        .values(lease_owner=owner, lease_until=now + lease, last_started_at=now)
        .returning(SourceSchedule.key)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement).all())


def settle(
    session: Session,
    outcomes: Mapping[str, str],
    owner: str,
    intervals: Mapping[str, timedelta],
    now: datetime | None = None,
) -> None:
    """Release the leases ``owner`` holds on ``outcomes``' keys: next due an interval after the
    start (at once if the run took longer than that), with the run's status."""
    now = now or utcnow()
    rows = session.scalars(
        select(SourceSchedule).where(
            SourceSchedule.key.in_(list(outcomes)), SourceSchedule.lease_owner == owner
        )
    )
    for row in rows:
        started = row.last_started_at or now
        row.next_due_at = started + intervals[row.key]
        row.lease_owner = None
        row.lease_until = None
        row.last_status = outcomes[row.key]
    session.flush()
