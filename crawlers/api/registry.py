"""Which client serves which platform name on the command line and in ``revmon.toml``."""

from __future__ import annotations

from importlib import import_module

from crawlers.api.base import ApiClient
from crawlers.api.errors import ConfigError

# name -> "module:Class", imported on first use so one broken client cannot break the others.
CLIENTS: dict[str, str] = {
    "google_business": "crawlers.api.google_business:GoogleBusinessClient",
    "app_store": "crawlers.api.app_store:AppStoreClient",
    "reddit": "crawlers.api.reddit:RedditClient",
    "vk": "crawlers.api.vk:VkClient",
    "mastodon": "crawlers.api.mastodon:MastodonClient",
    "google_places": "crawlers.api.google_places:GooglePlacesClient",
    "yelp": "crawlers.api.yelp:YelpClient",
    "tripadvisor": "crawlers.api.tripadvisor:TripAdvisorClient",
}


def client_names() -> list[str]:
    return sorted(CLIENTS)


def client_class(name: str) -> type[ApiClient]:
    """The client class for ``name``; ConfigError listing the known names otherwise."""
    spec = CLIENTS.get(name)
    if spec is None:
        raise ConfigError(
            name, "no API client of that name", f"use one of {', '.join(client_names())}"
        )
    module, cls = spec.split(":")
    return getattr(import_module(module), cls)  # type: ignore[no-any-return]
