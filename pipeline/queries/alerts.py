"""The alert outbox as an admin sees it: how many alerts are in each state per channel, and the
dead ones (a channel refused them or retries ran out), which an admin can re-queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.models import Alert

DEAD_SHOWN = 200


@dataclass(frozen=True)
class DeadAlert:
    id: int
    rule: str
    channel: str
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[tuple[str, str], int]  # (channel, state) -> alerts
    dead: list[DeadAlert]  # the most recent first, at most DEAD_SHOWN
    dead_total: int


def outbox_status(session: Session) -> OutboxStatus:
    counts = {
        (channel, state): n
        for channel, state, n in session.execute(
            select(Alert.channel, Alert.state, func.count()).group_by(Alert.channel, Alert.state)
        )
    }
    rows = session.execute(
        select(
            Alert.id, Alert.rule, Alert.channel, Alert.attempts, Alert.last_error, Alert.created_at
        )
        .where(Alert.state == "dead")
        .order_by(Alert.id.desc())
        .limit(DEAD_SHOWN)
    )
    dead = [DeadAlert(*row) for row in rows]
    total = sum(n for (_, state), n in counts.items() if state == "dead")
    return OutboxStatus(counts=counts, dead=dead, dead_total=total)
