"""The configured sources, resolved against the source registry when revmon starts.

``revmon.toml`` says, per location, what to watch (a platform or collector name, a start URL or
an API target). Here each entry is matched to the spider or API client that collects it, with
the interval it runs at, so that a typo stops revmon at start with one line naming the field
instead of a source that silently never runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawlers.sources import SourceKind, source_kinds
from pipeline.config import LocationConfig, Settings, SourceConfig


class SourceError(ValueError):
    """A configured source that cannot be collected; the message starts with its field path."""


@dataclass(frozen=True)
class Source:
    """One configured source, ready to collect."""

    key: str  # "location/collector/hash of the target": stable, for schedules and selection
    kind: SourceKind
    location_key: str
    url: str | None  # a spider's start URL
    target: str | None  # an API client's target, or a spider's target under its base URL
    interval_minutes: float
    allow_hosts: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """What the run records as its target: the start URL or the API target."""
        return self.url or self.target or ""

    def matches(self, wanted: set[str]) -> bool:
        names = {self.key, self.kind.name, self.kind.platform, self.location_key}
        return bool(names & wanted)


def configured_sources(settings: Settings) -> list[Source]:
    """Every source of every location; SourceError naming the first bad entry."""
    kinds = source_kinds()
    return [
        _resolve(settings, location, config, f"locations.{i}.sources.{j}", kinds)
        for i, location in enumerate(settings.locations)
        for j, config in enumerate(location.sources)
    ]


def select(sources: Sequence[Source], only: Iterable[str] = ()) -> list[Source]:
    """The sources named by key, collector, platform or location key (all when none given)."""
    wanted = set(only)
    return [source for source in sources if not wanted or source.matches(wanted)]


def _resolve(
    settings: Settings,
    location: LocationConfig,
    config: SourceConfig,
    where: str,
    kinds: dict[str, SourceKind],
) -> Source:
    name = config.name or config.platform
    kind = kinds.get(name)
    if kind is None:
        offers = sorted(k.name for k in kinds.values() if k.platform == name)
        hint = f"set `name` to one of {', '.join(offers)}" if offers else _known(kinds)
        raise SourceError(f"{where}.name: no spider or API client {name!r}; {hint}")
    if kind.collector == "api" and config.url:
        raise SourceError(
            f"{where}.url: {kind.name} is collected through its API; give `target` "
            f"(e.g. {kind.example!r}), not a page URL"
        )
    if kind.collector == "api" and not config.target:
        raise SourceError(f"{where}.target: {kind.name} needs a target, e.g. {kind.example!r}")
    if (
        kind.collector == "spider"
        and not config.url
        and not getattr(kind.factory, "target_path", None)
    ):
        raise SourceError(
            f"{where}.url: the {kind.name} spider needs a start URL, e.g. {kind.example!r}"
        )
    minutes = (
        config.interval
        or settings.service.platform_minutes.get(kind.name)
        or settings.service.platform_minutes.get(kind.platform)
        or kind.default_interval_minutes
        or settings.service.crawl_minutes
    )
    target = config.url or config.target or ""
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:10]
    return Source(
        key=f"{location.key}/{kind.name}/{digest}",
        kind=kind,
        location_key=location.key,
        url=config.url,
        target=config.target,
        interval_minutes=float(minutes),
        allow_hosts=tuple(config.allow_hosts),
    )


def _known(kinds: dict[str, SourceKind]) -> str:
    return "known: " + ", ".join(sorted(kinds))
