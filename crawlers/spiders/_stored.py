"""What the database already holds, so an incremental crawl stops where the last one ended.

A page whose reviews are all stored with the same content hash (title, text, rating, reply) adds
nothing; the pages after it are older still. An edited review changes its hash, so a page that
holds one is not "caught up" and paging goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from scrapy.settings import BaseSettings
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.db import make_engine
from pipeline.ingest import stored_hashes
from pipeline.normalize import InvalidItem, normalize

log = logging.getLogger(__name__)


class StoredReviews:
    """A read-only look at stored content hashes; the engine opens on first use."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoredReviews:
        """The database the store pipeline writes to: ``REVMON_DATABASE_URL`` or revmon's own."""
        return cls(settings.get("REVMON_DATABASE_URL") or None)

    def unchanged(self, platform: str, items: Sequence[ReviewItem]) -> bool:
        """True when every item is stored and unchanged (an invalid item counts as new)."""
        hashes: dict[str, str] = {}
        for item in items:
            try:
                clean = normalize(item)
            except InvalidItem:
                return False
            hashes[clean.external_id] = clean.content_hash
        return bool(hashes) and self._stored(platform, hashes) == hashes

    def all_known(self, platform: str, external_ids: Iterable[str]) -> bool:
        """True when every id is stored (for list pages that show ids, not content)."""
        ids = set(external_ids)
        return bool(ids) and set(self._stored(platform, ids)) == ids

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _stored(self, platform: str, external_ids: Iterable[str]) -> dict[str, str]:
        try:
            with Session(self._connect()) as session:
                return stored_hashes(session, platform, external_ids)
        except SQLAlchemyError as exc:
            # No database yet (first run with storage off): nothing is known, crawl on.
            log.warning("incremental check skipped, database not readable: %s", exc)
            return {}

    def _connect(self) -> Engine:
        if self._engine is None:
            url = self.database_url
            if not url:
                from pipeline.config import load_settings

                url = load_settings().db_url
            self._engine = make_engine(url)
        return self._engine
