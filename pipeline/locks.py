"""A named lock across processes, for work that one process at a time should do.

On PostgreSQL this is a session-level advisory lock (``pg_try_advisory_lock``), held on its own
connection for the duration of the block; the lock dies with the connection, so a killed process
never leaves it taken. On SQLite, which one machine shares between its processes and which
serialises writers itself, every caller gets the lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def lock_id(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


@contextmanager
def try_lock(engine: Engine, name: str) -> Iterator[bool]:
    """``with try_lock(engine, "revmon:alerts") as mine:`` -- ``mine`` is False when another
    process holds the lock; the caller then skips its turn rather than waiting."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_id(name)
    with engine.connect() as connection:
        mine = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()
        try:
            yield mine
        finally:
            if mine:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
