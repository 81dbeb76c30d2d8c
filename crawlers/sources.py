"""The one registry of source kinds: every spider and every API client revmon has.

Kinds are discovered, not listed: spiders the way Scrapy finds them (``SPIDER_MODULES``), API
clients by importing each module of ``crawlers.api`` and keeping the :class:`ApiClient`
subclasses it defines. A new platform is a new file; nothing else needs to name it. Each kind
declares what the rest of revmon needs to know about it: the platform its items carry, how it
authenticates (the ``REVMON_*`` settings it reads), whether it can post replies, and how often
it should run unless the configuration says otherwise.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from scrapy.settings import Settings as ScrapySettings
from scrapy.spiderloader import SpiderLoader

from crawlers import api
from crawlers.api.base import ApiClient
from crawlers.api.errors import ConfigError

log = logging.getLogger(__name__)
Collector = Literal["spider", "api"]


@dataclass(frozen=True)
class SourceKind:
    """What a configured source is collected with."""

    name: str  # spider or client name: `scrapy crawl NAME`, `revmon collect NAME`
    platform: str  # ReviewItem.platform of what it yields
    collector: Collector
    factory: type
    credentials: tuple[str, ...] = ()  # settings fields, i.e. REVMON_<FIELD> variables
    can_reply: bool = False
    default_interval_minutes: float | None = None
    example: str = ""

    @property
    def needs(self) -> str:
        """What a configured source of this kind must give: a start ``url`` or an API ``target``."""
        return "url" if self.collector == "spider" else "target"


@lru_cache(maxsize=1)
def source_kinds() -> dict[str, SourceKind]:
    """Every kind this installation has, by name (spiders and clients never share a name)."""
    kinds = {kind.name: kind for kind in _api_kinds()}
    for kind in _spider_kinds():
        if kind.name in kinds:
            raise RuntimeError(f"a spider and an API client are both named {kind.name!r}")
        kinds[kind.name] = kind
    return kinds


def source_kind(name: str) -> SourceKind:
    """The kind called ``name``; ConfigError listing the known ones otherwise."""
    kinds = source_kinds()
    if name not in kinds:
        raise ConfigError(name, "no spider or API client of that name", f"use one of {names()}")
    return kinds[name]


def api_client(name: str) -> type[ApiClient]:
    """The API client class called ``name`` (``revmon collect NAME``)."""
    kind = source_kinds().get(name)
    if kind is None:
        raise ConfigError(name, "no API client of that name", f"use one of {names('api')}")
    if kind.collector != "api":
        raise ConfigError(name, "is a spider, not an API client", f"use `revmon crawl {name}`")
    return kind.factory


def reply_kind(platform: str) -> SourceKind | None:
    """The API client that can post replies for reviews of ``platform``, if there is one."""
    for kind in source_kinds().values():
        if kind.can_reply and platform in {kind.platform, kind.name}:
            return kind
    return None


def names(collector: Collector | None = None) -> str:
    return ", ".join(
        sorted(k.name for k in source_kinds().values() if collector in (None, k.collector))
    )


def _api_kinds() -> list[SourceKind]:
    kinds = []
    for module_info in pkgutil.iter_modules(api.__path__):
        try:
            module = importlib.import_module(f"{api.__name__}.{module_info.name}")
        except ImportError as exc:  # one broken client must not take the others down
            log.warning("API client module %s did not load: %s", module_info.name, exc)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if _is_client(cls, module.__name__):
                kinds.append(
                    SourceKind(
                        name=cls.name,
                        platform=cls.platform,
                        collector="api",
                        factory=cls,
                        credentials=tuple(cls.credentials),
                        can_reply=callable(getattr(cls, "post_reply", None)),
                        default_interval_minutes=cls.default_interval_minutes,
                        example=cls.target_example,
                    )
                )
    return kinds


def _is_client(cls: type, module: str) -> bool:
    return (
        issubclass(cls, ApiClient)
        and cls.__module__ == module
        and not inspect.isabstract(cls)
        and bool(getattr(cls, "name", None))
    )


def _spider_kinds() -> list[SourceKind]:
    project = ScrapySettings()
    project.setmodule("crawlers.settings", priority="project")
    loader = SpiderLoader.from_settings(project)
    kinds = []
    for name in loader.list():
        spider = loader.load(name)
        kinds.append(
            SourceKind(
                name=name,
                platform=getattr(spider, "platform", name),
                collector="spider",
                factory=spider,
                default_interval_minutes=getattr(spider, "default_interval_minutes", None),
                example=getattr(spider, "example", ""),
            )
        )
    return kinds
