"""Validation and normalisation of a ReviewItem into the values stored in ``reviews``.

A bad item raises :class:`InvalidItem` with a reason a person can act on; callers count it and go
on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import dateparser

from pipeline.language import detect_language
from pipeline.platforms import KINDS, PLATFORMS, SHARED_PLATFORMS
from pipeline.text import plain_text, storable

_LANG = re.compile(r"^[a-z]{2}$")


class InvalidItem(ValueError):
    """An item that cannot be stored; the message says which field and why."""


@dataclass(frozen=True)
class CleanReview:
    """A validated review, ready for upsert."""

    platform: str
    external_id: str
    kind: str
    location_key: str | None
    url: str
    author: str | None
    rating: float | None
    title: str | None
    text: str
    language: str | None
    published_at: datetime
    reply_text: str | None
    reply_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)
    published_estimated: bool = False
    removed: bool = False

    @cached_property
    def content_hash(self) -> str:
        """What makes an edit: title, text, rating and reply. Author renames are not edits."""
        payload = json.dumps(
            [self.title, self.text, self.rating, self.reply_text], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @cached_property
    def identity_key(self) -> str | None:
        """Who said what about which place, without the platform's id: the same review seen by
        two collectors of a shared platform (Google Business + Places) has the same key. None
        where ids alone decide (one collector per platform, mentions, no author or no text)."""
        if self.platform not in SHARED_PLATFORMS or self.kind != "review":
            return None
        if not (self.author and self.text):
            return None
        folded = [self.platform, self.location_key or "", self.author, self.text]
        payload = "\x1f".join(" ".join(part.casefold().split()) for part in folded)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def row(self) -> dict[str, Any]:
        """Column values for ``reviews`` (a shallow copy: ``raw`` is not duplicated)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["content_hash"] = self.content_hash
        values["identity_key"] = self.identity_key
        return values


# What the columns of ``reviews`` hold (pipeline.models); longer values never reach the database.
MAX_ID = 255
MAX_AUTHOR = 255
MAX_LOCATION_KEY = 64
# Reviews are about the past: a date far ahead is a parser reading the wrong field, and one
# before the web had reviews is a parser reading a zero. A day of slack covers clocks and zones.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def parse_datetime(value: Any, field_name: str, now: datetime | None = None) -> datetime:
    """ISO 8601 or a human date in any language to aware UTC (UTC assumed when none is given).

    Every failure is an :class:`InvalidItem` naming the field: unparseable text, a timestamp
    out of range, a date before 1990 or more than a day in the future.
    """
    try:
        parsed = _parse_any_date(value)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise InvalidItem(f"{field_name}: cannot parse date {value!r:.80} ({exc})") from None
    if parsed is None:
        raise InvalidItem(f"{field_name}: cannot parse date {value!r:.80}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidItem(f"{field_name}: date out of range {value!r:.80}") from None
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK
    if not EARLIEST <= parsed <= latest:
        raise InvalidItem(f"{field_name}: {parsed.isoformat()} is not a plausible review date")
    return parsed


def _parse_any_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        return _parse_date_string(value.strip())
    return None


def _parse_date_string(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return dateparser.parse(value, settings={"RETURN_AS_TIMEZONE_AWARE": False})


def parse_rating(value: Any) -> float | None:
    """A rating already on 1..5 (spiders normalise scales); strings with comma decimals accepted."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidItem(f"rating: not a number: {value!r:.80}")
    try:
        rating = float(value.replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InvalidItem(f"rating: not a number: {value!r:.80}") from None
    if not 1.0 <= rating <= 5.0:  # NaN fails this too
        raise InvalidItem(f"rating: {rating} is outside 1..5")
    return rating


def _text_field(data: dict[str, Any], name: str) -> str:
    """A text field as stored; anything but a string (or nothing) is a parser bug, said so."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidItem(f"{name}: expected text, got {type(value).__name__}")
    return plain_text(value)


def _optional_text(data: dict[str, Any], name: str, limit: int | None = None) -> str | None:
    text = _text_field(data, name)
    return (text[:limit] if limit else text) or None


def _external_id(value: Any) -> str:
    """The platform's id; one too long for the column keeps a prefix and a hash of the whole,
    so that it stays unique and stable instead of colliding when cut."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not storable(value).strip():
        raise InvalidItem("external_id: missing")
    external_id = storable(value).strip()
    if len(external_id) > MAX_ID:
        digest = hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:24]
        external_id = f"{external_id[: MAX_ID - 25]}#{digest}"
    return external_id


def _url(value: Any) -> str:
    """A link a person can open: http(s) only, so no page can plant ``javascript:`` in the inbox."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidItem("url: missing")
    url = storable(value).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        raise InvalidItem(f"url: not an http(s) link: {url[:80]!r}")
    return url


def _location_key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_LOCATION_KEY:
        raise InvalidItem(f"location_key: must be text of at most {MAX_LOCATION_KEY} characters")
    return value


def _language(value: Any) -> str | None:
    """An ISO 639-1 code when the source gives a usable one; otherwise detection decides."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower()[:2]
    return code if _LANG.match(code) else None


def _raw(value: Any) -> dict[str, Any]:
    """The source's record, made storable as JSON: strings cleaned, odd values as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidItem(f"raw: expected an object, got {type(value).__name__}")
    return _jsonable(value)  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return storable(str(value))


def normalize(item: Any, now: datetime | None = None) -> CleanReview:
    """Validate one ReviewItem (dataclass or mapping); raise InvalidItem naming the bad field.

    Every field is checked against what its column holds, so that a bad item fails here, alone,
    and never in the database where it would take its batch down with it.
    """
    if is_dataclass(item) and not isinstance(item, type):
        data = asdict(item)
    elif isinstance(item, dict):
        data = dict(item)
    else:
        raise InvalidItem(f"not a review item: {type(item).__name__}")
    platform = data.get("platform")
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise InvalidItem(f"platform: unknown {platform!r:.40}")
    kind = data.get("kind") or "review"
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidItem(f"kind: must be one of {sorted(KINDS)}, got {kind!r:.40}")
    title = _optional_text(data, "title")
    text = _text_field(data, "text")
    reply_text = _optional_text(data, "reply_text")
    reply_at = data.get("reply_at")
    return CleanReview(
        platform=platform,
        external_id=_external_id(data.get("external_id")),
        kind=kind,
        location_key=_location_key(data.get("location_key")),
        url=_url(data.get("url")),
        author=_optional_text(data, "author", MAX_AUTHOR),
        rating=parse_rating(data.get("rating")),
        title=title,
        text=text,
        language=_language(data.get("language"))
        or detect_language(" ".join(filter(None, [title, text]))),
        published_at=parse_datetime(data.get("published_at"), "published_at", now),
        reply_text=reply_text,
        reply_at=parse_datetime(reply_at, "reply_at", now) if reply_at else None,
        raw=_raw(data.get("raw")),
        published_estimated=data.get("published_estimated") is True,
        removed=data.get("removed") is True,
    )
