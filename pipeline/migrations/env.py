"""Alembic environment: runs on the engine revmon hands it, or on the configured database."""

from __future__ import annotations

from alembic import context

from pipeline.models import Base


def _engine():  # type: ignore[no-untyped-def]
    engine = context.config.attributes.get("engine")
    if engine is None:
        from pipeline.config import load_settings
        from pipeline.db import make_engine

        engine = make_engine(load_settings().db_url)
    return engine


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
