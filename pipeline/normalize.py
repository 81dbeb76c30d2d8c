"""Validation and normalisation of a ReviewItem into the values stored in ``reviews``.

A bad item raises :class:`InvalidItem` with a reason a person can act on; callers count it and go
on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import dateparser

from crawlers.items import KINDS, PLATFORMS
from pipeline.language import detect_language

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
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

    @cached_property
    def content_hash(self) -> str:
        """What makes an edit: title, text, rating and reply. Author renames are not edits."""
        payload = json.dumps(
            [self.title, self.text, self.rating, self.reply_text], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def row(self) -> dict[str, Any]:
        """Column values for ``reviews`` (a shallow copy: ``raw`` is not duplicated)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["content_hash"] = self.content_hash
        return values


def clean_text(value: Any) -> str:
    """Plain text: tags removed, entities decoded, runs of spaces folded, paragraphs kept."""
    if value is None:
        return ""
    text = _BREAK.sub("\n", str(value))
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def parse_datetime(value: Any, field_name: str) -> datetime:
    """ISO 8601 or a human date in any language to aware UTC (UTC assumed when none is given)."""
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        parsed = _parse_date_string(value.strip())
    else:
        parsed = None
    if parsed is None:
        raise InvalidItem(f"{field_name}: cannot parse date {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_date_string(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return dateparser.parse(value, settings={"RETURN_AS_TIMEZONE_AWARE": False})


def parse_rating(value: Any) -> float | None:
    """A rating already on 1..5 (spiders normalise scales); strings with comma decimals accepted."""
    if value is None or value == "":
        return None
    try:
        rating = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InvalidItem(f"rating: not a number: {value!r}") from None
    if not 1.0 <= rating <= 5.0:
        raise InvalidItem(f"rating: {rating} is outside 1..5")
    return rating


def _optional_str(value: Any, limit: int | None = None) -> str | None:
    text = clean_text(value) if value is not None else ""
    if not text:
        return None
    return text[:limit] if limit else text


def normalize(item: Any) -> CleanReview:
    """Validate one ReviewItem (dataclass or mapping); raise InvalidItem naming the bad field."""
    data = asdict(item) if is_dataclass(item) and not isinstance(item, type) else dict(item)
    platform = str(data.get("platform") or "")
    if platform not in PLATFORMS:
        raise InvalidItem(f"platform: unknown {platform!r}")
    external_id = str(data.get("external_id") or "").strip()
    if not external_id:
        raise InvalidItem("external_id: missing")
    kind = data.get("kind") or "review"
    if kind not in KINDS:
        raise InvalidItem(f"kind: must be one of {sorted(KINDS)}, got {kind!r}")
    url = str(data.get("url") or "").strip()
    if not url:
        raise InvalidItem("url: missing")
    text = clean_text(data.get("text"))
    reply_text = _optional_str(data.get("reply_text"))
    reply_at = data.get("reply_at")
    language = (data.get("language") or "").strip().lower()[:2] or None
    if language and not _LANG.match(language):
        language = None
    title = _optional_str(data.get("title"))
    return CleanReview(
        platform=platform,
        external_id=external_id[:255],
        kind=kind,
        location_key=data.get("location_key") or None,
        url=url,
        author=_optional_str(data.get("author"), 255),
        rating=parse_rating(data.get("rating")),
        title=title,
        text=text,
        language=language or detect_language(" ".join(filter(None, [title, text]))),
        published_at=parse_datetime(data.get("published_at"), "published_at"),
        reply_text=reply_text,
        reply_at=parse_datetime(reply_at, "reply_at") if reply_at else None,
        raw=data.get("raw") or {},
    )
