"""Mirror the configured locations into the ``locations`` table, for joins and the dashboard."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.config import LocationConfig
from pipeline.models import Location


def sync_locations(session: Session, configured: Iterable[LocationConfig]) -> list[Location]:
    """Insert new locations and update changed ones; rows no longer configured are kept, since
    their reviews stay in the database."""
    existing = {loc.key: loc for loc in session.scalars(select(Location))}
    synced = []
    for config in configured:
        location = existing.get(config.key) or Location(key=config.key)
        location.name = config.name
        location.timezone = config.timezone
        location.is_competitor = config.is_competitor
        session.add(location)
        synced.append(location)
    session.flush()
    return synced
