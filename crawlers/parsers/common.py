"""What every parser returns, and the value clean-ups every site needs (dates, ratings, JSON).

Sites change their markup without notice, so a parser fails loudly: a page it cannot read raises
:class:`PageError` (the spider logs and counts it and goes on), a single bad record goes into
``Page.errors`` while the rest of the page still lands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dateparser

from crawlers.items import ReviewItem
from pipeline.text import html_to_text, plain_text

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_SPACES = re.compile(r"[\s\u00a0\u202f]")
_YEAR = re.compile(r"\d{4}")


class PageError(ValueError):
    """The page cannot be read at all (malformed JSON, the markup is gone); the crawl goes on."""


@dataclass
class Page:
    """What one page gave: its items, where to go next, and what the site says about totals.

    ``links`` are detail pages to visit (list -> review sites); ``listed_ids`` the review ids a
    list page shows, so that incremental crawls can stop on list pages too.
    """

    items: list[ReviewItem] = field(default_factory=list)
    next_url: str | None = None
    links: list[str] = field(default_factory=list)
    listed_ids: list[str] = field(default_factory=list)
    total: int | None = None
    rating: float | None = None
    errors: list[str] = field(default_factory=list)


def load_json(text: str | bytes, what: str) -> Any:
    """Parse JSON or raise PageError naming what was being read and where it broke."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise PageError(f"{what}: malformed JSON ({exc})") from None


def dig(data: Any, *path: str | int) -> Any:
    """``data[a][b]..`` or None when any step is missing: site JSON drops keys without notice."""
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def to_number(value: Any) -> float | None:
    """``4,5``, ``"4.5"``, ``"1 234"`` or ``4`` as a float; None when there is no number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER.search(_SPACES.sub("", str(value)))
    return float(match.group().replace(",", ".")) if match else None


def to_int(value: Any) -> int | None:
    number = to_number(value)
    return int(number) if number is not None else None


def scale_rating(value: Any, best: Any = None, worst: Any = None) -> float | None:
    """A rating on any ``worst..best`` scale mapped linearly onto 1..5 (schema.org defaults 1..5).

    Linear, not proportional: on a 1..10 scale both ends stay ends (1 -> 1, 10 -> 5), and a 0..100
    percentage maps 0 to 1. Out-of-range values pass through so that validation rejects and counts
    them instead of hiding a parser bug behind a clamp.
    """
    rating = to_number(value)
    if rating is None:
        return None
    high = to_number(best) or 5.0
    low = to_number(worst)
    low = 1.0 if low is None else low
    if (low, high) == (1.0, 5.0) or high <= low:
        return rating
    return round(1.0 + (rating - low) * 4.0 / (high - low), 2)


def iso_datetime(
    value: Any,
    *,
    languages: list[str] | None = None,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> str | None:
    """ISO 8601 with an offset, from ISO strings, Unix times or dates like ``5 марта 2024``.

    An offset the source gives is kept (a 2GIS time stays ``+07:00``); a time without one is
    read in ``timezone`` (the site's own zone, UTC unless the parser knows better). Sites show
    this year's dates without the year ("28 декабря, 09:15"); such a date that would lie in the
    future (read on 2 December) was written last year.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    text = str(value).strip()
    zone = ZoneInfo(timezone)
    now = now or datetime.now(UTC)
    try:
        parsed: datetime | None = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        site_now = now.astimezone(zone).replace(tzinfo=None)  # "вчера" is the site's yesterday
        parsed = dateparser.parse(
            text,
            languages=languages,
            settings={
                "TIMEZONE": timezone,
                "RETURN_AS_TIMEZONE_AWARE": True,
                "RELATIVE_BASE": site_now,
            },
        )
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if not _YEAR.search(text) and parsed > now:
        parsed = _year_before(parsed)
    return parsed.isoformat()


def _year_before(moment: datetime) -> datetime:
    """The same day and time a year earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def text_or_none(value: Any) -> str | None:
    """Stripped text, or None for missing and blank values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def plain(value: Any) -> str | None:
    """A plain-text field as the item contract wants it: every character kept, spaces folded."""
    return plain_text(value) or None


def from_html(value: Any) -> str | None:
    """A field that is HTML, as the text a reader sees (parsed, entities decoded once)."""
    return html_to_text(value) or None
