"""Shared fixtures: every storage test runs on SQLite and on the real PostgreSQL.

PostgreSQL tests use a throw-away database per test session (created from the `test` database the
machine provides), so parallel runs never see each other's rows. Set REVMON_TEST_POSTGRES_URL to
point elsewhere, or to `skip` to run SQLite only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline.db import make_engine, migrate, scratch_postgres

POSTGRES_URL = os.environ.get(
    "REVMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if POSTGRES_URL == "skip":
        pytest.skip("REVMON_TEST_POSTGRES_URL=skip")
    with scratch_postgres(POSTGRES_URL, "revmon_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'revmon.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated engine, once per backend per test session."""
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory for code that opens its own transactions (``with sessions.begin()``):
    each becomes a savepoint in one outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        finally:
            transaction.rollback()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test: nothing leaks."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()
