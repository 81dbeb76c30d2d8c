"""Settling an alert whatever the database connection does meanwhile (see ``pipeline.outbox``).

A send takes seconds; a PostgreSQL failover, a restarted server or a dropped TCP connection can
fall into those seconds. What was delivered must then still be recorded, or the row's lease runs
out and the alert goes out again. So each settle runs in its own transaction and is retried on a
fresh connection (SQLAlchemy invalidates a connection that failed with a disconnect and the pool
hands out a new one). If the database stays away, the delivered alert is remembered in this
process: the next pass settles it before anything else and never claims it meanwhile.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.models import Alert

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0)  # about 7.5 s in all
T = TypeVar("T")

_unsettled: dict[tuple[str, int], tuple[datetime, datetime]] = {}  # (db, alert) -> (lease, sent)
_lock = threading.Lock()


def with_fresh_connection(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    attempts: int | None = None,
) -> T:
    """``work(session)`` in its own transaction; a lost connection or a locked database is
    retried on a new connection (``attempts`` times in all, default all of ``RETRY_DELAYS``)
    before the error is raised."""
    delays = RETRY_DELAYS[:attempts] if attempts else RETRY_DELAYS
    for attempt, delay in enumerate(delays, 1):
        time.sleep(delay)
        try:
            with sessions.begin() as session:
                return work(session)
        except DBAPIError as exc:
            if attempt >= len(delays) or not _transient(exc):
                raise
            log.warning("database error (%s); retrying on a fresh connection", type(exc).__name__)
    raise ValueError("attempts must be at least 1")


def settle_sent(
    sessions: sessionmaker[Session], alert_id: int, lease: datetime, now: datetime
) -> bool:
    """Record a delivered alert as ``sent``; True when this call recorded it. When the database
    cannot be reached the fact is kept for the next pass, and the error is raised."""
    try:
        return with_fresh_connection(sessions, lambda s: _mark_sent(s, alert_id, lease, now))
    except DBAPIError:
        with _lock:
            _unsettled[(_database(sessions), alert_id)] = (lease, now)
        log.error(
            "alert %s was delivered but cannot be recorded (database unreachable); the next "
            "pass records it and does not send it again",
            alert_id,
        )
        raise


def settle_leftovers(sessions: sessionmaker[Session]) -> int:
    """Record the alerts an earlier pass delivered while the database was away; how many."""
    database = _database(sessions)
    with _lock:
        waiting = {key: value for key, value in _unsettled.items() if key[0] == database}
    done = 0
    for key, (lease, sent_at) in waiting.items():
        mark = functools.partial(_mark_sent, alert_id=key[1], lease=lease, now=sent_at)
        done += with_fresh_connection(sessions, mark)
        with _lock:
            _unsettled.pop(key, None)
    return done


def settled_elsewhere(sessions: sessionmaker[Session], alert_id: int) -> bool:
    """Whether this process delivered ``alert_id`` and still has to record it."""
    with _lock:
        return (_database(sessions), alert_id) in _unsettled


def owned(alert_id: int, lease: datetime):  # type: ignore[no-untyped-def]
    """An UPDATE of the row only while ``lease`` (the owner's token) still holds it."""
    return (
        update(Alert)
        .where(Alert.id == alert_id, Alert.state == "sending", Alert.lease_until == lease)
        .execution_options(synchronize_session=False)
    )


def _mark_sent(session: Session, alert_id: int, lease: datetime, now: datetime) -> bool:
    values = {"state": "sent", "sent_at": now, "lease_until": None, "last_error": None}
    if session.execute(owned(alert_id, lease).values(**values)).rowcount == 1:
        return True
    # the lease ran out meanwhile (the database was away longer than it): delivered all the same
    late = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.state != "sent")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if late.rowcount:
        log.warning("alert %s was recorded as sent after its lease ended", alert_id)
    return late.rowcount == 1


def _transient(exc: DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def _database(sessions: sessionmaker[Session]) -> str:
    bind = sessions.kw.get("bind")
    engine = getattr(bind, "engine", bind)
    return str(getattr(engine, "url", ""))
