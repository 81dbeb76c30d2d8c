"""The review platforms and item kinds revmon knows (ARCHITECTURE.md, ReviewItem).

They live here, below the crawlers, because storage validates against them and the
configuration checks sources against them; spiders and API clients name one of these as the
``platform`` of what they yield.
"""

from __future__ import annotations

PLATFORMS = frozenset(
    {
        "google",
        "yandex_maps",
        "twogis",
        "trustpilot",
        "tripadvisor",
        "otzovik",
        "irecommend",
        "yelp",
        "app_store",
        "google_play",
        "vk",
        "telegram",
        "reddit",
        "mastodon",
        "schema_org",
    }
)
KINDS = frozenset({"review", "mention"})

# Platforms that more than one collector reads (Google through the Business Profile API and the
# Places API; an app through the App Store RSS feed and App Store Connect). Each collector names a
# review its own way, so the store matches such reviews by author and text as well as by id.
SHARED_PLATFORMS = frozenset({"google", "app_store", "google_play"})
