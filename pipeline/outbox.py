"""Delivering the alerts outbox: each row is claimed, sent, and settled in its own transaction.

Why this protocol (and what "once" means here)
----------------------------------------------
A network send cannot share a transaction with the database, so exactly-once over Slack or SMTP
is impossible in general; the outbox narrows the gap to one short, documented window:

1. **Queue** (``pipeline.alerts.queue_alerts``): rows are inserted with ``ON CONFLICT DO
   NOTHING`` against the unique (rule, review, channel) -- or (rule, channel, key) for a
   spike or a digest. However often rules are re-evaluated, after a crash or by two processes
   at once, there is at most one row, hence at most one message, per rule, review and channel.
2. **Claim**: one conditional ``UPDATE ... SET state='sending', lease_until=now+lease,
   attempts=attempts+1 WHERE id=? AND (due pending/failed OR sending with an expired lease)``,
   committed before the network call. Only the process whose UPDATE matched owns the row, on
   SQLite (the write lock) and PostgreSQL (the row lock re-checks the WHERE) alike, so two
   workers (the service and a manual ``revmon alerts``) never send the same row.
3. **Send**, outside any transaction.
4. **Settle**: ``sent`` (with ``sent_at``), or ``failed`` with ``next_attempt_at`` backed off
   exponentially, or ``dead`` after ``max_attempts`` or a permanent refusal; committed at once
   and only if the lease is still ours (``lease_until`` is the owner's token).

While a send runs, the sender renews its lease every third of ``lease_seconds`` (the send runs
in a worker thread; the database is touched only from the caller's thread), so a slow SMTP server
or a send of several requests can never outlive the lease and be claimed by a second worker; the
config also refuses a lease no longer than a channel's timeout.

A delivered alert is settled whatever happens to the database connection meanwhile: the settle is
retried on a fresh connection, and if the database stays away it is kept in memory, settled first
by the next pass, and never claimed (so never sent) again by this process. An email's recipients
are settled one by one (``delivered_to``): a refused recipient is retried, the others are not
written to again.

A process killed before step 3 leaves a ``sending`` row whose lease expires; the next pass
sends it: the alert is **never lost**. A process killed between a successful step 3 and step 4
(milliseconds) sends that one alert again after the lease: **at-least-once** in that window,
exactly once everywhere else. We choose that over at-most-once because a lost health-and-safety
alert costs more than a rare duplicate; receivers can drop duplicates by the stable id we send
(``X-Revmon-Delivery`` on webhooks, ``Message-ID`` in email).

Alerts that ended ``dead`` (a channel refused them, or ``max_attempts`` ran out) stay until an
admin re-queues them (``revmon alerts requeue``, or the dashboard's Alerts page) once the channel
is fixed: :func:`requeue_dead` makes them ``pending`` with fresh attempts, still one row each, so
each is delivered once (and an email only to the recipients that have not got it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillSending
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.config import RetryConfig, Settings
from pipeline.models import Alert
from pipeline.notifiers import DeliveryError, Message, Notifier, build_notifiers
from pipeline.settle import (
    owned,
    settle_leftovers,
    settle_sent,
    settled_elsewhere,
    with_fresh_connection,
)

log = logging.getLogger(__name__)
BATCH = 100


@dataclass
class DeliveryReport:
    """What one pass did; ``errors`` holds one line per failed send (never a secret)."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    triaged: int = 0  # set by run_alerts_once: reviews newly queued for a response
    escalated: int = 0  # ... and items that passed their deadline in this pass

    def __str__(self) -> str:
        return (
            f"triaged {self.triaged}, escalated {self.escalated}, queued {self.queued}, "
            f"sent {self.sent}, failed {self.failed}, dead {self.dead}"
        )


def deliver_pending(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: datetime | None = None,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    render: Callable[[Alert], Message] | None = None,
) -> DeliveryReport:
    """Send every due outbox row once (see the module docstring for the guarantees).

    Once a channel fails with a retryable error, its other due rows are deferred to the same
    retry time (no attempt spent), so a Slack outage costs one timeout per pass, not one per
    alert, and does not hold back email."""
    from pipeline.alerts import render_alert  # the message shape lives with the rules

    own = notifiers is None
    channels = build_notifiers(settings.alerts) if notifiers is None else notifiers
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    report = DeliveryReport()
    report.sent += settle_leftovers(sessions)  # delivered earlier while the database was away
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="revmon-send") as sender:
            delivery = _Pass(
                sessions, channels, settings.alerts.retry, clock, render or render_alert, sender,
                report,
            )  # fmt: skip
            after = 0  # walk the due rows in id order, so a row that fails is not retried in-pass
            while batch := _due_rows(sessions, delivery.clock(), after):
                for alert_id, channel in batch:
                    after = alert_id
                    if settled_elsewhere(sessions, alert_id):
                        continue  # delivered; its settle waits for the database
                    if channel in delivery.unavailable:
                        defer(sessions, alert_id, delivery.unavailable[channel], delivery.clock())
                    else:
                        delivery.deliver(alert_id)
    finally:
        if own:
            for notifier in channels.values():
                notifier.close()
    return report


@dataclass
class _Pass:
    """One delivery pass: its channels, clock, and what it has learned and done so far."""

    sessions: sessionmaker[Session]
    channels: Mapping[str, Notifier]
    retry: RetryConfig
    clock: Callable[[], datetime]
    render: Callable[[Alert], Message]
    sender: ThreadPoolExecutor
    report: DeliveryReport = field(default_factory=DeliveryReport)
    unavailable: dict[str, datetime] = field(default_factory=dict)  # channel -> retry at
    lease: datetime = datetime.min.replace(tzinfo=UTC)  # the current claim's token (renewed)

    def deliver(self, alert_id: int) -> None:
        claimed = claim(self.sessions, alert_id, self.clock(), self.retry.lease_seconds)
        if claimed is None:
            return  # another worker has it, or it was settled meanwhile
        alert, self.lease = claimed
        notifier = self.channels.get(alert.channel)
        try:
            if notifier is None:
                raise DeliveryError(f"channel {alert.channel!r} is not configured", permanent=True)
            message = replace(self.render(alert), skip=frozenset(alert.delivered_to or ()))
            self._send_keeping_the_lease(notifier, message, alert.id)
        except DeliveryError as exc:
            self._failed(alert, self.lease, exc)
            return
        except Exception as exc:  # a bug in one message must not stall the outbox
            log.exception("alert %s: unexpected error while sending", alert.id)
            self._failed(alert, self.lease, DeliveryError(f"{alert.channel}: {type(exc).__name__}"))
            return
        if settle_sent(self.sessions, alert.id, self.lease, self.clock()):
            self.report.sent += 1

    def _send_keeping_the_lease(self, notifier: Notifier, message: Message, alert_id: int) -> None:
        """Send in the worker thread; renew the lease from here until the send is done
        (``self.lease`` is always the current token, which the settle needs)."""
        sending: Future[None] = self.sender.submit(notifier.send, message)
        interval = self.retry.lease_seconds / 3
        while True:
            try:
                return sending.result(timeout=interval)
            except StillSending:
                self.lease = renew(self.sessions, alert_id, self.lease, self.clock(), self.retry)

    def _failed(self, alert: Alert, lease: datetime, exc: DeliveryError) -> None:
        now = self.clock()
        delivered = sorted({*(alert.delivered_to or ()), *exc.delivered})
        state = settle_failure(
            self.sessions, alert, lease, str(exc), exc.permanent, self.retry, now, delivered
        )
        if not exc.permanent:
            self.unavailable[alert.channel] = now + backoff(alert.attempts, self.retry)
        self.report.dead += state == "dead"
        self.report.failed += state == "failed"
        self.report.errors.append(f"alert {alert.id} ({alert.rule} -> {alert.channel}): {exc}")
        log.warning("alert %s to %s failed (%s): %s", alert.id, alert.channel, state, exc)


def claim(
    sessions: sessionmaker[Session], alert_id: int, now: datetime, lease_seconds: float
) -> tuple[Alert, datetime] | None:
    """Take the row for sending, committed before any network call; None if not ours."""
    lease = now + timedelta(seconds=lease_seconds)
    with sessions.begin() as session:
        result = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, _due(now))
            .values(state="sending", lease_until=lease, attempts=Alert.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        alert = session.get(Alert, alert_id, populate_existing=True)
        assert alert is not None
        session.expunge(alert)
    return alert, lease


def renew(
    sessions: sessionmaker[Session],
    alert_id: int,
    lease: datetime,
    now: datetime,
    retry: RetryConfig,
) -> datetime:
    """Push a held lease forward while its send runs; the new lease is the new token. A renewal
    that cannot reach the database keeps the old token (the settle sorts it out)."""
    renewed = max(lease, now + timedelta(seconds=retry.lease_seconds))

    def write(session: Session) -> bool:
        done = session.execute(owned(alert_id, lease).values(lease_until=renewed))
        return done.rowcount == 1

    try:
        if with_fresh_connection(sessions, write, attempts=2):
            return renewed
    except Exception:
        log.exception("alert %s: could not renew the lease", alert_id)
        return lease
    log.warning("alert %s: the lease was lost during the send; raise lease_seconds", alert_id)
    return lease


def settle_failure(
    sessions: sessionmaker[Session],
    alert: Alert,
    lease: datetime,
    error: str,
    permanent: bool,
    retry: RetryConfig,
    now: datetime,
    delivered: list[str] | None = None,
) -> str:
    """``failed`` with the next try backed off, or ``dead`` when retrying cannot help; the
    recipients that did get it are recorded, so the retry skips them."""
    dead = permanent or alert.attempts >= retry.max_attempts
    state = "dead" if dead else "failed"
    values = {
        "state": state,
        "last_error": error[:1000],
        "lease_until": None,
        "next_attempt_at": now + backoff(alert.attempts, retry),
        "delivered_to": delivered if delivered is not None else list(alert.delivered_to or ()),
    }
    with_fresh_connection(sessions, lambda s: s.execute(owned(alert.id, lease).values(**values)))
    return state


def defer(sessions: sessionmaker[Session], alert_id: int, until: datetime, now: datetime) -> None:
    """Move a due, unclaimed row to ``until`` without spending an attempt."""
    with sessions.begin() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.state.in_(("pending", "failed")))
            .where(Alert.next_attempt_at <= now)
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )


def requeue_dead(
    session: Session,
    *,
    now: datetime | None = None,
    channel: str | None = None,
    rule: str | None = None,
    ids: tuple[int, ...] = (),
) -> int:
    """Give ``dead`` alerts (all, or those of one channel, rule or id) a fresh start: pending,
    no attempts spent, due now. Recipients that already have an email are still skipped."""
    query = update(Alert).where(Alert.state == "dead")
    if channel:
        query = query.where(Alert.channel == channel)
    if rule:
        query = query.where(Alert.rule == rule)
    if ids:
        query = query.where(Alert.id.in_(ids))
    result = session.execute(
        query.values(
            state="pending", attempts=0, lease_until=None, next_attempt_at=now or datetime.now(UTC)
        ).execution_options(synchronize_session=False)
    )
    return result.rowcount


def backoff(attempts: int, retry: RetryConfig) -> timedelta:
    """base * 2**(attempts-1), capped at max_seconds: 1 min, 2, 4, ... 1 h by default."""
    seconds = retry.base_seconds * 2 ** max(0, min(attempts - 1, 30))
    return timedelta(seconds=min(seconds, retry.max_seconds))


def _due(now: datetime):  # type: ignore[no-untyped-def]
    waiting = and_(Alert.state.in_(("pending", "failed")), Alert.next_attempt_at <= now)
    abandoned = and_(Alert.state == "sending", Alert.lease_until < now)
    return or_(waiting, abandoned)


def _due_rows(sessions: sessionmaker[Session], now: datetime, after: int) -> list[tuple[int, str]]:
    query = select(Alert.id, Alert.channel).where(Alert.id > after, _due(now))
    with sessions() as session:
        return [(i, c) for i, c in session.execute(query.order_by(Alert.id).limit(BATCH))]
