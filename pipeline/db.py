"""Engine and session factory. Nothing connects at import time; entry points call these."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
BEGIN_OPTION = "sqlite_begin"  # execution option: how a SQLite transaction begins


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout (crawler + dashboard)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "postgresql":
        # a connection the server dropped (restart, failover, idle timeout) is replaced at
        # checkout instead of failing the next page of a crawl
        kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Take transaction control from pysqlite, whose implicit transactions break SAVEPOINT (the
    SQLAlchemy docs' recipe), then set WAL so the dashboard reads while a crawl writes."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: dashboard aggregates over 1M rows
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """``BEGIN IMMEDIATE`` unless the session reads only (:func:`read_only`).

    A deferred transaction that reads and then writes cannot wait for the write lock: when
    another process committed since its read, SQLite answers "database is locked" at once,
    whatever the busy timeout. Taking the write lock at BEGIN makes a second writer wait its
    turn (up to the 30 s timeout) instead; readers stay deferred and never wait (WAL)."""
    mode = connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
    if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        raise ValueError(f"{BEGIN_OPTION} must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")


def read_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The same sessions for code that only reads: on SQLite their transactions begin deferred,
    so a read never queues behind a writer. Writing through them is a bug (it can fail with
    "database is locked" under load); on PostgreSQL they are the same sessions."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return sessions
    options = {key: value for key, value in sessions.kw.items() if key != "bind"}
    return sessionmaker(bind.execution_options(**{BEGIN_OPTION: "DEFERRED"}), **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The one session factory; use it as ``with factory.begin() as session:`` at entry points."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine``, so migrations run without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@contextmanager
def scratch_postgres(server_url: str, prefix: str = "revmon_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url``'s server, dropped on exit.

    For tests and benchmarks that commit rows and must neither see nor leave anyone else's: the
    URL's own database is only used to issue CREATE/DROP DATABASE."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema (``revmon init``); safe to run on every start."""
    command.upgrade(alembic_config(engine), revision)
