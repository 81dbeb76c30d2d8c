"""Keep every derived table current: rollups (cheap, every pass), incidents (every
``INCIDENT_EVERY``) and emerging topics (every ``TOPIC_EVERY``), each in its own transaction.

Called by ``revmon score`` after scoring, by ``revmon alerts`` (and so by ``revmon run``) before
the rules are evaluated, and by the demo. The dashboard refreshes the rollups alone before it
reads. Each pass records when it ran in ``rollup_state``, so several processes share the work.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from pipeline.incidents import detect_incidents
from pipeline.insight_models import RollupState
from pipeline.models import utcnow
from pipeline.rollups import refresh_rollups
from pipeline.topics import refresh_topics

log = logging.getLogger(__name__)
INCIDENT_EVERY = timedelta(minutes=10)
TOPIC_EVERY = timedelta(hours=1)


def refresh_insights(
    sessions: sessionmaker[Session], now: datetime | None = None, *, force: bool = False
) -> str:
    """Refresh what is due; returns a one-line summary for logs. A failing pass is logged and
    the others still run: a broken topic model must not stop the rollups or the alerts."""
    now = now or utcnow()
    done = []
    for name, every, work in (
        ("rollups", timedelta(0), lambda s: str(refresh_rollups(s, now=now))),
        ("incidents", INCIDENT_EVERY, lambda s: str(detect_incidents(s, now))),
        ("topics", TOPIC_EVERY, lambda s: f"topics: {len(refresh_topics(s, now))} emerging"),
    ):
        try:
            with sessions.begin() as session:
                if name == "rollups" or force or _due(session, name, every, now):
                    done.append(work(session))
                    if name != "rollups":  # the rollups keep their own watermark
                        _mark(session, name, now)
        except Exception:  # logged with its traceback; the next pass tries again
            log.exception("insight pass %s failed", name)
    return "; ".join(done)


def _due(session: Session, name: str, every: timedelta, now: datetime) -> bool:
    state = session.get(RollupState, name)
    return state is None or state.refreshed_at + every <= now


def _mark(session: Session, name: str, now: datetime) -> None:
    state = session.get(RollupState, name) or RollupState(name=name, max_review_id=0)
    state.refreshed_at = now
    session.add(state)
