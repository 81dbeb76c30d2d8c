"""The composition root: one place that wires settings, database and classifier for every entry
point (CLI commands, the service, the dashboard). Tests build their own with fakes where needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline import logs
from pipeline.config import Settings, load_settings
from pipeline.db import make_engine, migrate, session_factory
from pipeline.locations import sync_locations

if TYPE_CHECKING:
    from sentiment import SentimentClassifier


@dataclass
class Runtime:
    """What a running revmon holds: settings, the engine, the session factory, the model."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _classifier: Any = field(default=None, repr=False)

    @property
    def classifier(self) -> SentimentClassifier:
        """The sentiment model, loaded on first use only (it takes seconds and memory)."""
        if self._classifier is None:
            from sentiment import load_classifier

            self._classifier = load_classifier(
                self.settings.sentiment_model, precision=self.settings.sentiment_precision
            )
        return self._classifier


def build_runtime(settings: Settings | None = None, *, migrate_db: bool = True) -> Runtime:
    """Wire a runtime; migrating on start makes `revmon init` optional but harmless."""
    settings = settings or load_settings()
    logs.protect_settings(settings)
    engine = make_engine(settings.db_url)
    if migrate_db:
        migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        sync_locations(session, settings.locations)
    return Runtime(settings=settings, engine=engine, sessions=sessions)
