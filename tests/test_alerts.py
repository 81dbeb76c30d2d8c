"""Alert rules -> outbox rows, and the outbox's delivery guarantees, on SQLite and PostgreSQL.

Channels here are in-memory recorders; tests/test_alerts_delivery.py uses real local servers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.alerts import deliver_pending, queue_alerts, render_alert
from pipeline.config import Settings
from pipeline.models import Alert, Review
from pipeline.notifiers import DeliveryError, Message
from pipeline.outbox import backoff, claim
from pipeline.triage import enqueue_new, escalate_overdue
from tests.seeding import location, review

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday


class Recorder:
    """A channel that records what it was asked to send and fails on demand."""

    def __init__(self, name: str, fail: int = 0, permanent: bool = False) -> None:
        self.name, self.fail, self.permanent = name, fail, permanent
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if self.fail:
            self.fail -= 1
            raise DeliveryError(f"{self.name}: HTTP 503", permanent=self.permanent)
        self.sent.append(message)

    def close(self) -> None:
        pass


def make_settings(**alerts: object) -> Settings:
    channels = {
        "ops": {"type": "slack", "webhook_url_env": "REVMON_TEST_SLACK"},
        "boss": {"type": "slack", "webhook_url_env": "REVMON_TEST_SLACK"},
    }
    return Settings(
        locations=[
            {"key": "main", "name": "Main Street", "timezone": "Europe/Warsaw"},
            {"key": "calm", "name": "Calm Corner"},
            {"key": "rival", "name": "Rival", "is_competitor": True},
        ],
        alerts={"channels": channels, **alerts},
    )


NEGATIVE = {"rules": [{"name": "neg", "channels": ["ops", "boss"], "negative": True}]}


@pytest.fixture
def places(session: Session) -> None:
    location(session, "main", "Europe/Warsaw", name="Main Street")
    location(session, "calm")
    location(session, "rival", is_competitor=True)


@pytest.fixture
def sessions(session: Session) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's connection: each commit is a savepoint, rolled back at the end."""
    yield sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def alerts(session: Session) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_negative_rule_queues_one_row_per_channel_once(session: Session, places: None) -> None:
    bad = review(session, seen=NOW, text="Rude staff, <script>alert(1)</script>", title="Never")
    review(session, label="positive", seen=NOW)
    review(session, seen=NOW - timedelta(days=5))  # a backfilled old review stays quiet
    review(session, seen=NOW, location_key="rival")  # competitors are not ours to answer
    review(session, label=None, seen=NOW)  # not scored yet
    settings = make_settings(**NEGATIVE)
    enqueue_new(session, settings, now=NOW)
    assert queue_alerts(session, settings, now=NOW) == 2
    assert queue_alerts(session, settings, now=NOW + timedelta(minutes=5)) == 0
    rows = alerts(session)
    assert [(a.rule, a.review_id, a.channel, a.key) for a in rows] == [
        ("neg", bad.id, "ops", f"review:{bad.id}"),
        ("neg", bad.id, "boss", f"review:{bad.id}"),
    ]
    row = rows[0]
    assert (row.state, row.attempts, row.last_error, row.sent_at) == ("pending", 0, None, None)
    assert row.created_at == row.next_attempt_at == NOW
    assert row.payload == {
        "kind": "review",
        "review_id": bad.id,
        "platform": "trustpilot",
        "location": "main",
        "location_name": "Main Street",
        "author": bad.author,
        "rating": 1.0,
        "title": "Never",
        "text": "Rude staff, <script>alert(1)</script>",
        "url": bad.url,
        "published_at": NOW.isoformat(),
        "label": "negative",
        "mixed": False,
        "urgency": 50,
        "signals": [],
        "status": "new",
        "due_at": "2026-11-25T09:00:00+00:00",
    }
    message = render_alert(row)
    assert message.key == f"revmon-alert-{row.id}"
    assert message.subject == "[revmon] 1★ negative review of Main Street on trustpilot"
    assert "Never\nRude staff, <script>alert(1)</script>" in message.text
    assert "respond by 2026-11-25T09:00 UTC" in message.text
    assert message.url == bad.url and message.data["rule"] == "neg"


def test_rating_urgency_keyword_and_location_conditions(session: Session, places: None) -> None:
    low = review(session, rating=2, label="neutral", seen=NOW)
    review(session, rating=3, label="negative", seen=NOW)
    urgent = review(session, rating=None, urgency=85, seen=NOW, text="Kid got sick after lunch")
    poisoned = review(session, rating=4, label="positive", seen=NOW, text="Я ОТРАВИЛСЯ тут")
    elsewhere = review(session, rating=1, seen=NOW, location_key="calm")
    rules = [
        {"name": "low", "channels": ["ops"], "max_rating": 2, "locations": ["main"]},
        {"name": "urgent", "channels": ["ops"], "min_urgency": 80},
        {"name": "words", "channels": ["ops"], "keywords": ["отравил", "lawyer"]},
        {"name": "calm-low", "channels": ["ops"], "max_rating": 1, "locations": ["calm"]},
    ]
    assert queue_alerts(session, make_settings(rules=rules), now=NOW) == 4
    fired = {(a.rule, a.review_id) for a in alerts(session)}
    assert fired == {
        ("low", low.id),
        ("urgent", urgent.id),
        ("words", poisoned.id),
        ("calm-low", elsewhere.id),
    }


def test_overdue_rule_fires_after_escalation(session: Session, places: None) -> None:
    late = review(session, seen=NOW)
    settings = make_settings(rules=[{"name": "late", "channels": ["boss"], "overdue": True}])
    enqueue_new(session, settings, now=NOW)
    assert queue_alerts(session, settings, now=NOW) == 0
    after_deadline = NOW + timedelta(days=1)  # due Wednesday 10:00 Warsaw = 09:00 UTC
    assert escalate_overdue(session, now=after_deadline) == 1
    assert queue_alerts(session, settings, now=after_deadline) == 1
    row = alerts(session)[0]
    assert (row.rule, row.review_id, row.payload["kind"]) == ("late", late.id, "overdue")
    assert render_alert(row).subject.startswith("[revmon] Overdue: 1★ negative review")


def test_spike_compares_with_the_usual_share(session: Session, places: None) -> None:
    for day in range(2, 22):  # 20 earlier reviews at main, 2 negative: usual ~10 %
        review(session, label="negative" if day < 4 else "positive", seen=NOW - timedelta(days=day))
    for hour in range(5):  # today: 4 of 5 negative
        review(session, label="negative" if hour else "positive", seen=NOW - timedelta(hours=hour))
    for day in range(2, 12):  # calm: usually half negative, today 2 of 4 -> no spike
        review(
            session,
            label="negative" if day % 2 else "positive",
            location_key="calm",
            seen=NOW - timedelta(days=day),
        )
    for hour in range(4):
        review(
            session,
            label="negative" if hour % 2 else "positive",
            location_key="calm",
            seen=NOW - timedelta(hours=hour),
        )
    for hour in range(4):  # a competitor's bad day is not our alert
        review(session, location_key="rival", seen=NOW - timedelta(hours=hour))
    spikes = [{"name": "spike", "channels": ["ops"], "factor": 2, "min_negatives": 3}]
    settings = make_settings(spikes=spikes)
    assert queue_alerts(session, settings, now=NOW) == 1
    assert queue_alerts(session, settings, now=NOW + timedelta(hours=1)) == 0  # once a day
    row = alerts(session)[0]
    assert (row.rule, row.review_id, row.key) == ("spike", None, "spike:main:2026-11-24")
    assert row.payload == {
        "kind": "spike",
        "location": "main",
        "location_name": "Main Street",
        "reviews": 5,
        "negatives": 4,
        "share": 0.8,
        "usual_share": round((2 + 1.5) / 30, 4),
        "baseline_reviews": 20,
        "window_hours": 24.0,
    }
    subject = render_alert(row).subject
    assert subject == "[revmon] Negative spike at Main Street: 4 of 5 reviews in 24 h"


def test_digest_once_a_day_after_its_hour(session: Session, places: None) -> None:
    old = review(session, seen=NOW - timedelta(days=3), urgency=90, text="Burnt coffee")
    fresh = review(session, seen=NOW - timedelta(hours=2), urgency=40, text="Slow")
    review(session, label="positive", seen=NOW - timedelta(hours=1))
    digests = [
        {"name": "daily", "channels": ["ops", "boss"], "hour": 14, "timezone": "Europe/Warsaw"}
    ]
    settings = make_settings(digests=digests)
    enqueue_new(session, settings, now=NOW)
    assert queue_alerts(session, settings, now=NOW) == 0  # 13:00 in Warsaw: not yet
    at_two = NOW + timedelta(hours=1)
    assert queue_alerts(session, settings, now=at_two) == 2
    assert queue_alerts(session, settings, now=at_two + timedelta(hours=5)) == 0
    rows = alerts(session)
    assert [(a.channel, a.key, a.review_id) for a in rows] == [
        ("ops", "digest:2026-11-24", None),
        ("boss", "digest:2026-11-24", None),
    ]
    payload = rows[0].payload
    assert payload["locations"] == [
        {"key": "main", "name": "Main Street", "reviews": 2, "negatives": 1},
        {"key": "calm", "name": "Calm Corner", "reviews": 0, "negatives": 0},
    ]
    assert (payload["open"], payload["overdue"]) == (2, 1)
    assert [item["review_id"] for item in payload["top"]] == [old.id, fresh.id]
    subject, text = render_alert(rows[0]).subject, render_alert(rows[0]).text
    assert subject == "[revmon] Daily digest 2026-11-24: 2 open, 1 overdue"
    assert "- Main Street: 2 reviews, 1 negative" in text and "Burnt coffee" in text
    next_day = at_two + timedelta(days=1)
    assert queue_alerts(session, settings, now=next_day) == 2


def queued(session: Session, sessions: sessionmaker[Session], n: int = 2) -> list[Review]:
    rows = [review(session, seen=NOW) for _ in range(n)]
    assert queue_alerts(session, make_settings(**NEGATIVE), now=NOW) == 2 * n
    session.commit()  # releases the savepoint: the delivery sessions see the rows
    return rows


def test_delivered_once(session: Session, places: None, sessions: sessionmaker[Session]) -> None:
    queued(session, sessions)
    channels = {"ops": Recorder("ops"), "boss": Recorder("boss")}
    report = deliver_pending(sessions, make_settings(**NEGATIVE), NOW, notifiers=channels)
    assert (report.sent, report.failed, report.dead, report.errors) == (4, 0, 0, [])
    again = deliver_pending(sessions, make_settings(**NEGATIVE), NOW, notifiers=channels)
    assert again.sent == 0
    assert len(channels["ops"].sent) == len(channels["boss"].sent) == 2
    for row in alerts(session):
        assert (row.state, row.attempts, row.sent_at, row.lease_until) == ("sent", 1, NOW, None)


def test_failing_channel_backs_off_then_delivers(
    session: Session, places: None, sessions: sessionmaker[Session]
) -> None:
    queued(session, sessions, n=1)
    settings = make_settings(**NEGATIVE)
    channels = {"ops": Recorder("ops", fail=2), "boss": Recorder("boss")}
    first = deliver_pending(sessions, settings, NOW, notifiers=channels)
    assert (first.sent, first.failed) == (1, 1)
    assert first.errors == [f"alert {alerts(session)[0].id} (neg -> ops): ops: HTTP 503"]
    ops = alerts(session)[0]
    assert (ops.state, ops.attempts, ops.last_error) == ("failed", 1, "ops: HTTP 503")
    assert ops.next_attempt_at == NOW + timedelta(seconds=60)
    assert (
        deliver_pending(sessions, settings, NOW + timedelta(seconds=59), notifiers=channels).failed
        == 0
    )
    t2 = NOW + timedelta(seconds=60)
    assert deliver_pending(sessions, settings, t2, notifiers=channels).failed == 1
    assert alerts(session)[0].next_attempt_at == t2 + timedelta(seconds=120)
    t3 = t2 + timedelta(seconds=120)
    assert deliver_pending(sessions, settings, t3, notifiers=channels).sent == 1
    ops = alerts(session)[0]
    assert (ops.state, ops.attempts, ops.sent_at, ops.last_error) == ("sent", 3, t3, None)
    assert len(channels["ops"].sent) == len(channels["boss"].sent) == 1


def test_permanent_refusal_and_too_many_attempts_are_dead(
    session: Session, places: None, sessions: sessionmaker[Session]
) -> None:
    queued(session, sessions, n=1)
    settings = make_settings(**NEGATIVE, retry={"max_attempts": 2, "base_seconds": 1})
    channels = {"ops": Recorder("ops", fail=9, permanent=True), "boss": Recorder("boss", fail=9)}
    report = deliver_pending(sessions, settings, NOW, notifiers=channels)
    assert (report.dead, report.failed) == (1, 1)
    later = NOW + timedelta(seconds=5)
    assert deliver_pending(sessions, settings, later, notifiers=channels).dead == 1
    assert [(a.channel, a.state, a.attempts) for a in alerts(session)] == [
        ("ops", "dead", 1),
        ("boss", "dead", 2),
    ]
    assert (
        deliver_pending(sessions, settings, later + timedelta(days=1), notifiers=channels).dead == 0
    )


def test_unknown_channel_is_dead_not_stuck(
    session: Session, places: None, sessions: sessionmaker[Session]
) -> None:
    queued(session, sessions, n=1)
    report = deliver_pending(
        sessions, make_settings(**NEGATIVE), NOW, notifiers={"ops": Recorder("ops")}
    )
    assert (report.sent, report.dead) == (1, 1)
    assert "channel 'boss' is not configured" in alerts(session)[1].last_error


def test_a_crashing_channel_does_not_stall_the_outbox(
    session: Session, places: None, sessions: sessionmaker[Session]
) -> None:
    queued(session, sessions, n=1)

    class Buggy(Recorder):
        def send(self, message: Message) -> None:
            raise KeyError("token=hunter2")

    channels = {"ops": Buggy("ops"), "boss": Recorder("boss")}
    report = deliver_pending(sessions, make_settings(**NEGATIVE), NOW, notifiers=channels)
    assert (report.sent, report.failed) == (1, 1)
    ops, boss = alerts(session)
    assert (ops.state, ops.last_error, ops.attempts) == ("failed", "ops: KeyError", 1)
    assert boss.state == "sent"


def test_a_claimed_row_is_not_sent_by_another_worker_until_its_lease_ends(
    session: Session, places: None, sessions: sessionmaker[Session]
) -> None:
    queued(session, sessions, n=1)
    first_id = alerts(session)[0].id
    claimed = claim(sessions, first_id, NOW, lease_seconds=300)  # a worker that then dies
    assert claimed is not None and claimed[0].attempts == 1
    assert claim(sessions, first_id, NOW, lease_seconds=300) is None  # a second worker
    channels = {"ops": Recorder("ops"), "boss": Recorder("boss")}
    settings = make_settings(**NEGATIVE)
    assert (
        deliver_pending(sessions, settings, NOW + timedelta(seconds=299), notifiers=channels).sent
        == 1
    )
    assert channels["ops"].sent == []  # still leased by the dead worker
    assert alerts(session)[0].state == "sending"
    assert (
        deliver_pending(sessions, settings, NOW + timedelta(seconds=301), notifiers=channels).sent
        == 1
    )
    row = alerts(session)[0]
    assert (row.state, row.attempts, len(channels["ops"].sent)) == ("sent", 2, 1)


def test_backoff_is_exponential_and_capped() -> None:
    retry = make_settings().alerts.retry
    assert [backoff(n, retry).total_seconds() for n in (1, 2, 3, 7, 50)] == [
        60,
        120,
        240,
        3600,
        3600,
    ]


def test_bad_alert_config_names_the_field() -> None:
    bad = [
        ({"rules": [{"name": "x", "channels": ["nope"], "negative": True}]}, "unknown channel"),
        ({"rules": [{"name": "x", "channels": ["ops"]}]}, "needs a condition"),
        (
            {"rules": [{"name": "x", "channels": ["ops"], "max_rating": 9, "negative": True}]},
            "alerts.rules.0.max_rating",
        ),
        ({"spikes": [{"name": "s", "channels": ["ops"], "factor": 1}]}, "alerts.spikes.0.factor"),
        (
            {"digests": [{"name": "d", "channels": ["ops"], "timezone": "Mars/Base"}]},
            "alerts.digests.0.timezone",
        ),
        (
            {
                "rules": [{"name": "d", "channels": ["ops"], "negative": True}],
                "digests": [{"name": "d", "channels": ["ops"]}],
            },
            "duplicate rule name",
        ),
    ]
    for alerts_config, expected in bad:
        with pytest.raises(ValueError, match=expected):
            make_settings(**alerts_config)
    with pytest.raises(ValueError, match="alerts.channels.x.webhook.secret_env"):
        Settings(
            alerts={"channels": {"x": {"type": "webhook", "url": "http://h", "secret_env": "KEY"}}}
        )
    with pytest.raises(ValueError, match="alerts.channels.x.email.to"):
        Settings(alerts={"channels": {"x": {"type": "email", "from_addr": "a@b.c", "to": []}}})


def test_concurrent_workers_never_send_a_row_twice(engine: Engine) -> None:
    """Four passes at once on real connections (committed rows, cleaned up after)."""
    settings = Settings(
        alerts={
            "channels": {"ops": {"type": "slack", "webhook_url_env": "REVMON_TEST_SLACK"}},
            "rules": [{"name": "race", "channels": ["ops"], "negative": True}],
        }
    )
    sessions = sessionmaker(engine, expire_on_commit=False)
    try:
        with sessions.begin() as session:
            for _ in range(24):
                review(session, seen=NOW, location_key="race-test")
            assert queue_alerts(session, settings, now=NOW) == 24

        class Slow(Recorder):
            def send(self, message: Message) -> None:
                time.sleep(0.005)
                super().send(message)

        channel = Slow("ops")
        reports = []
        workers = [
            threading.Thread(
                target=lambda: reports.append(
                    deliver_pending(sessions, settings, NOW, notifiers={"ops": channel})
                )
            )
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        keys = [m.key for m in channel.sent]
        assert len(keys) == len(set(keys)) == 24
        assert sum(r.sent for r in reports) == 24 and len(reports) == 4
    finally:
        with sessions.begin() as session:
            for row in session.scalars(select(Review).where(Review.location_key == "race-test")):
                session.delete(row)
            session.execute(delete(Alert).where(Alert.rule == "race"))
