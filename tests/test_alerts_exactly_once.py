"""Exactly once under faults, against real servers: an SMTP server (aiosmtpd) that refuses one
recipient, answers QUIT oddly or is slow; a Telegram-like server that answers 200 without JSON or
refuses long messages; a PostgreSQL server that drops the connection mid-send; two workers on
one SQLite file; and dead alerts re-queued from the command line."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner
from werkzeug import Request, Response

from pipeline import settle
from pipeline.alerts import deliver_pending, queue_alerts
from pipeline.config import Settings, TelegramChannel
from pipeline.db import make_engine, migrate, scratch_postgres, session_factory
from pipeline.models import Alert
from pipeline.notifiers import Message, TelegramNotifier, utf16_len
from revmon.cli import app
from tests.conftest import POSTGRES_URL
from tests.local_smtp import smtp_server
from tests.seeding import location, review

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FROM = "revmon@example.test"
TOKEN = "123456:telegram-token"
LATER = NOW + timedelta(hours=2)


def mail(port: int, to: list[str], **extra: object) -> dict[str, object]:
    return {"type": "email", "smtp_host": "127.0.0.1", "smtp_port": port, "from_addr": FROM,
            "to": to, **extra}  # fmt: skip


def settings_for(channel: dict[str, object], **retry: float) -> Settings:
    return Settings(
        locations=[{"key": "main", "name": "Main Street"}],
        alerts={
            "channels": {"ch": channel},
            "rules": [{"name": "neg", "channels": ["ch"], "negative": True}],
            "retry": {"base_seconds": 60, **retry},
        },
    )


@pytest.fixture
def sessions(session: Session) -> Iterator[sessionmaker[Session]]:
    yield sessionmaker(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def seed(session: Session, settings: Settings, n: int = 1, now: datetime = NOW) -> None:
    location(session, "main", name="Main Street")
    for i in range(n):
        review(session, seen=now, text=f"Cold soup, rude staff ({i})")
    assert queue_alerts(session, settings, now=now) == n
    session.commit()


def alerts_in(session: Session) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).order_by(Alert.id)))


# --- email: one outcome per recipient, and a QUIT that changes nothing ----------------------


def test_a_refused_recipient_is_retried_and_the_others_are_not_sent_again(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    to = ["manager@example.test", "later@example.test", "owner@example.test"]
    with smtp_server() as (inbox, port):
        settings = settings_for(mail(port, to))
        seed(session, settings)
        first = deliver_pending(sessions, settings, NOW)
        assert (first.sent, first.failed, first.dead) == (0, 1, 0)
        [row] = alerts_in(session)
        assert row.state == "failed"
        assert row.delivered_to == ["manager@example.test", "owner@example.test"]
        assert "SMTP refused 1 of 3 recipients [451]" in first.errors[0]

        inbox.deferring = False  # the mailbox is back
        second = deliver_pending(sessions, settings, NOW + timedelta(seconds=61))
        third = deliver_pending(sessions, settings, LATER)
    assert (second.sent, second.failed, third.sent) == (1, 0, 0)
    assert inbox.envelopes == [
        (FROM, ["manager@example.test", "owner@example.test"]),
        (FROM, ["later@example.test"]),
    ]
    assert len({m["Message-ID"] for m in inbox.messages}) == 1  # the same mail, twice split
    assert alerts_in(session)[0].state == "sent"


def test_a_permanently_refused_recipient_ends_dead_without_resending_the_others(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    with smtp_server() as (inbox, port):
        settings = settings_for(mail(port, ["manager@example.test", "bounce@example.test"]))
        seed(session, settings)
        report = deliver_pending(sessions, settings, NOW)
    assert (report.sent, report.dead) == (0, 1)
    assert inbox.envelopes == [(FROM, ["manager@example.test"])]
    assert alerts_in(session)[0].delivered_to == ["manager@example.test"]


def test_a_quit_answered_with_something_else_than_221_is_still_delivered(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    with smtp_server() as (inbox, port):
        inbox.quit_reply = "421 4.3.2 shutting down"
        settings = settings_for(mail(port, ["manager@example.test"]))
        seed(session, settings)
        first = deliver_pending(sessions, settings, NOW)
        again = deliver_pending(sessions, settings, LATER)
    assert (first.sent, first.failed, again.sent, again.failed) == (1, 0, 0, 0)
    assert len(inbox.messages) == 1
    assert alerts_in(session)[0].state == "sent"


# --- Telegram: a 200 without JSON, and the 4096 UTF-16 unit limit ---------------------------


def telegram(httpserver: HTTPServer) -> dict[str, object]:
    return {"type": "telegram", "base_url": httpserver.url_for("/tg"),
            "bot_token_env": "REVMON_T_TG", "chat_id": "42"}  # fmt: skip


def test_a_telegram_200_that_is_not_json_counts_as_delivered(
    session: Session,
    sessions: sessionmaker[Session],
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REVMON_T_TG", TOKEN)
    httpserver.expect_request(f"/tg/bot{TOKEN}/sendMessage").respond_with_data(
        "<html>OK</html>", content_type="text/html"
    )
    settings = settings_for(telegram(httpserver))
    seed(session, settings)
    first = deliver_pending(sessions, settings, NOW)
    again = deliver_pending(sessions, settings, LATER)
    assert (first.sent, first.failed, again.sent, again.failed) == (1, 0, 0, 0)
    assert len(httpserver.log) == 1
    assert alerts_in(session)[0].state == "sent"


def like_telegram(request: Request) -> Response:
    """Telegram's rule: at most 4096 UTF-16 code units, else 400 "message is too long"."""
    text = request.get_json()["text"]
    if utf16_len(text) > 4096:
        body = {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
        return Response(json.dumps(body), status=400, content_type="application/json")
    return Response(json.dumps({"ok": True, "result": {}}), content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        "Zimna pizza 🍕🍕 i długie czekanie. " * 200,  # astral emoji: two units each
        "word " * 815 + "https://example.test/a-link-that-the-limit-falls-inside-of " + "x " * 99,
    ],
    ids=["emoji", "link-at-the-limit"],
)
def test_a_long_telegram_message_is_shortened_safely(httpserver: HTTPServer, body: str) -> None:
    httpserver.expect_request(f"/tg/bot{TOKEN}/sendMessage").respond_with_handler(like_telegram)
    channel = TelegramChannel(**telegram(httpserver))  # type: ignore[arg-type]
    notifier = TelegramNotifier("tg", channel, SecretStr(TOKEN))
    url = "https://example.test/r/1"
    notifier.send(Message(key="k", subject="[revmon] 1★ negative review", text=body, url=url))
    notifier.close()
    [(request, response)] = httpserver.log
    assert response.status_code == 200
    sent = request.get_json()["text"]
    assert utf16_len(sent) <= 4096
    sent.encode("utf-16", "strict")  # no lone surrogate
    assert sent.startswith("[revmon] 1★ negative review\n\n")
    assert sent.endswith("…\n\nhttps://example.test/r/1")  # the link is kept whole
    kept = sent.removeprefix("[revmon] 1★ negative review\n\n").removesuffix("…\n\n" + url)
    assert body.startswith(kept) and body[len(kept)].isspace()  # cut between words
    assert "https://example.test/a-link" not in kept or kept.endswith("-of")


# --- leases: a send longer than the lease, and a lease shorter than a channel's timeout ------


def test_a_send_that_outlasts_the_lease_is_not_taken_by_a_second_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'revmon.db'}"
    engine = make_engine(url)
    migrate(engine)
    to = ["a@example.test", "b@example.test", "c@example.test"]
    reports = []
    with smtp_server() as (inbox, port):
        inbox.delay_s = 0.7  # each RCPT and DATA: one send takes ~3 s, each wait < the timeout
        settings = settings_for(mail(port, to, timeout_seconds=1), lease_seconds=1.5)
        with session_factory(engine)() as session:
            seed(session, settings, n=2, now=datetime.now(UTC))

        def worker(start_after: float) -> None:
            time.sleep(start_after)
            own = make_engine(url)
            reports.append(deliver_pending(session_factory(own), settings))
            own.dispose()

        threads = [threading.Thread(target=worker, args=(d,)) for d in (0.0, 2.0)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert len(ids) == 2 and set(ids.values()) == {1}, ids
    assert sum(r.sent for r in reports) == 2
    with session_factory(engine)() as session:
        assert [a.state for a in alerts_in(session)] == ["sent", "sent"]
    engine.dispose()


def test_a_slow_send_that_fails_after_renewing_its_lease_is_still_settled(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    to = ["a@example.test", "later@example.test", "c@example.test"]
    with smtp_server() as (inbox, port):
        inbox.delay_s = 0.7  # ~3 s in all: the lease is renewed during the send
        settings = settings_for(mail(port, to, timeout_seconds=1), lease_seconds=1.5)
        seed(session, settings)
        report = deliver_pending(sessions, settings)
    assert (report.sent, report.failed) == (0, 1)
    [row] = alerts_in(session)
    assert row.state == "failed" and row.lease_until is None  # settled with the renewed token
    assert row.delivered_to == ["a@example.test", "c@example.test"]


def test_a_lease_no_longer_than_a_channel_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"lease_seconds \(1\) must be longer than .*'ch'"):
        settings_for(mail(25, ["a@example.test"], timeout_seconds=10), lease_seconds=1)


# --- the database connection lost during a send (PostgreSQL) ---------------------------------


@pytest.fixture
def postgres() -> Iterator[str]:
    """A database of this test's own: it commits, and its connections get killed."""
    if POSTGRES_URL == "skip":
        pytest.skip("REVMON_TEST_POSTGRES_URL=skip")
    with scratch_postgres(POSTGRES_URL, "revmon_drop") as url:
        yield url


def kill_connections(url: str, *, block: bool = False) -> None:
    """What a failover or a server restart does to the clients of database ``url``."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as connection:
        if block:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {not block}'))
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    admin.dispose()


def allow_connections(url: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" ALLOW_CONNECTIONS true'))
    admin.dispose()


def hook_settings(httpserver: HTTPServer) -> Settings:
    return settings_for(
        {"type": "webhook", "url": httpserver.url_for("/hook"), "secret_env": "REVMON_T_KEY"}
    )


def test_a_connection_dropped_during_a_send_does_not_resend_the_alert(
    postgres: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVMON_T_KEY", "hook-key")

    def deliver_and_kill(request: Request) -> Response:
        kill_connections(postgres)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(deliver_and_kill)
    engine = make_engine(postgres)
    migrate(engine)
    sessions = session_factory(engine)
    settings = hook_settings(httpserver)
    with sessions() as session:
        seed(session, settings)
    report = deliver_pending(sessions, settings, NOW)  # settles on a fresh connection
    again = deliver_pending(sessions, settings, LATER)  # long after the lease
    assert (report.sent, report.failed, again.sent) == (1, 0, 0)
    assert len(httpserver.log) == 1
    with sessions() as session:
        assert [a.state for a in alerts_in(session)] == ["sent"]
    engine.dispose()


def test_a_delivered_alert_waits_for_the_database_and_is_never_sent_again(
    postgres: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVMON_T_KEY", "hook-key")
    monkeypatch.setattr(settle, "RETRY_DELAYS", (0.0, 0.1, 0.1))

    def deliver_and_lock_out(request: Request) -> Response:
        kill_connections(postgres, block=True)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(deliver_and_lock_out)
    engine = make_engine(postgres)
    migrate(engine)
    sessions = session_factory(engine)
    settings = hook_settings(httpserver)
    with sessions() as session:
        seed(session, settings)
    try:
        with pytest.raises(OperationalError):  # the pass cannot go on without its database
            deliver_pending(sessions, settings, NOW)
    finally:
        allow_connections(postgres)
    report = deliver_pending(sessions, settings, LATER)  # the lease has long run out
    assert report.sent == 1  # recorded, not sent again
    assert len(httpserver.log) == 1
    with sessions() as session:
        assert [a.state for a in alerts_in(session)] == ["sent"]
    engine.dispose()


# --- dead alerts re-queued by an admin ---------------------------------------------------------


def test_dead_alerts_are_requeued_from_the_command_line_and_delivered_once(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = threading.Event()
    accepted: list[str] = []

    def hook(request: Request) -> Response:
        if not fixed.is_set():
            return Response("no such hook", status=404)  # a permanent refusal: dead at once
        accepted.append(request.headers["X-Revmon-Delivery"])
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(hook)
    config = tmp_path / "revmon.toml"
    config.write_text(
        '[[locations]]\nkey = "main"\nname = "Main Street"\n'
        f'[alerts.channels.hook]\ntype = "webhook"\nurl = "{httpserver.url_for("/hook")}"\n'
        'secret_env = "REVMON_T_KEY"\n'
        '[[alerts.rules]]\nname = "neg"\nchannels = ["hook"]\nnegative = true\n',
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    for key, value in {"REVMON_CONFIG": str(config), "REVMON_DATABASE_URL": db,
                       "REVMON_T_KEY": "hook-key"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    engine = make_engine(db)
    migrate(engine)
    with session_factory(engine).begin() as session:
        for i in range(2):
            review(session, seen=datetime.now(UTC), text=f"Awful {i}")
    runner = CliRunner()

    first = runner.invoke(app, ["alerts"])
    assert "sent 0, failed 0, dead 2" in first.stdout, first.output
    nothing = runner.invoke(app, ["alerts"])
    assert "sent 0, failed 0, dead 0" in nothing.stdout  # dead stays dead ...
    fixed.set()
    requeued = runner.invoke(app, ["alerts", "requeue", "--channel", "hook"])
    assert requeued.exit_code == 0 and "re-queued 2 dead alerts" in requeued.stdout
    delivered = runner.invoke(app, ["alerts"])
    again = runner.invoke(app, ["alerts", "requeue"])
    last = runner.invoke(app, ["alerts"])
    assert "sent 2, failed 0, dead 0" in delivered.stdout, delivered.output
    assert "re-queued 0 dead alerts" in again.stdout  # sent ones are never re-queued
    assert "sent 0, failed 0, dead 0" in last.stdout
    assert sorted(accepted) == ["revmon-alert-1", "revmon-alert-2"]
    engine.dispose()
