"""schema.org Review and AggregateRating, read the same way from JSON-LD, microdata and RDFa.

:mod:`crawlers.parsers.schema_graph` brings the three syntaxes to one shape; this module reads
reviews out of it, wherever they sit (at the top level, or nested in a Product, LocalBusiness,
Book, Recipe, ... under ``review``/``reviews``). Values arrive as strings in any locale
("4,5"), as language-tagged objects (``{"@value": "...", "@language": "en"}``, or a list of
them: the one in the review's language is taken), on any ``worstRating..bestRating`` scale, with
dates in any language: all are normalised here.

Identity: a review's own ``@id`` (or microdata ``itemid``) when it has one; otherwise a hash of
the site's host, the author, the day and the body, each case- and space-folded. Never the page
URL or the place in the markup: a review that moves to page 2, or a site that changes its markup
from microdata to JSON-LD, keeps its id. The host is part of it because ``schema_org`` reviews of
every site share one platform, and two shops' "Anonymous, no text" reviews of the same day are
two reviews. A review without a date is kept, dated when it was fetched and marked
``published_estimated`` (the store keeps the earliest date it saw); its id then leaves the day
out, so the next crawl finds the same review.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import TextResponse

from crawlers.items import ReviewItem
from crawlers.parsers.common import (
    PageError,
    iso_datetime,
    plain,
    scale_rating,
    text_or_none,
    to_int,
)
from crawlers.parsers.schema_graph import page_graph

_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


@dataclass
class SchemaData:
    """Every schema.org node of a page, flattened, and the markup that could not be read."""

    nodes: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)

    def reviews(self) -> list[dict[str, Any]]:
        return [node for node in self.nodes if _is_review(node)]

    def aggregate(self) -> tuple[int | None, float | None]:
        """The page's AggregateRating as (review count, rating on 1..5), if it has one."""
        for node in self.nodes:
            if "AggregateRating" in types(node):
                count = to_int(value(node.get("reviewCount"))) or to_int(
                    value(node.get("ratingCount"))
                )
                rating = scale_rating(
                    value(node.get("ratingValue")),
                    value(node.get("bestRating")),
                    value(node.get("worstRating")),
                )
                return count, rating
        return None, None


def schema_data(response: TextResponse) -> SchemaData:
    """Read JSON-LD (block by block), microdata and RDFa from a page."""
    nodes, errors = page_graph(response)
    return SchemaData(nodes=nodes, errors=errors)


def page_language(response: TextResponse) -> str | None:
    """The page's declared language (``<html lang="pl-PL">`` -> ``pl``)."""
    lang = response.xpath("/html/@lang").get() or ""
    return lang.split("-")[0].strip().lower() or None


def review_item(
    node: dict[str, Any],
    *,
    platform: str,
    page_url: str,
    language: str | None = None,
    timezone: str = "UTC",
    fetched_at: str | None = None,
) -> ReviewItem:
    """A ReviewItem from one schema.org Review node; PageError names a node that cannot be one.

    A node without any date is dated ``fetched_at`` (now) and marked as estimated; a date that
    is there but unreadable is an error (the site changed its format: say so, loudly).
    """
    raw_date = value(node.get("datePublished") or node.get("dateCreated"))
    raw_date = raw_date or value(node.get("dateModified"))
    published = iso_datetime(raw_date, timezone=timezone)
    if published is None and text_or_none(raw_date):
        raise PageError(
            f"{page_url}: review with an unreadable date {raw_date!r:.60}: {_brief(node)}"
        )
    own_language = _language(node.get("inLanguage"))
    body, body_language = tagged(
        node.get("reviewBody") or node.get("text") or node.get("description"),
        own_language or language,
    )
    title, _ = tagged(node.get("name") or node.get("headline"), own_language or language)
    pros, cons = notes(node.get("positiveNotes")), notes(node.get("negativeNotes"))
    author = _name(node.get("author"))
    body_text = plain(body) or ""
    rating_node = node.get("reviewRating")
    if isinstance(rating_node, dict):
        rating = scale_rating(
            value(rating_node.get("ratingValue")),
            value(rating_node.get("bestRating")),
            value(rating_node.get("worstRating")),
        )
    else:
        rating = scale_rating(value(rating_node))
    day = published[:10] if published else ""
    return ReviewItem(
        platform=platform,
        external_id=own_id(node) or review_identity(page_url, author, day, body_text),
        url=text_or_none(value(node.get("url"))) or page_url,
        author=author,
        rating=rating,
        title=plain(title),
        text=reader_text(body_text, pros, cons),
        language=own_language or body_language or language,
        published_at=published or fetched_at or datetime.now(UTC).isoformat(),
        published_estimated=published is None,
        raw={**node, "parts": parts(plain(title), body_text, pros, cons)},
    )


def parts(title: str | None, body: str, pros: list[str], cons: list[str]) -> dict[str, Any]:
    """The review's parts, for scoring each on its own (one note a line)."""
    return {
        "title": title,
        "body": body or None,
        "pros": "\n".join(pros) or None,
        "cons": "\n".join(cons) or None,
    }


def reader_text(body: str, pros: list[str], cons: list[str]) -> str:
    """The body, then the pros and cons as lists the way review pages show them (+ and -)."""
    lines = [body] if body else []
    lines += [f"+ {note}" for note in pros]
    lines += [f"- {note}" for note in cons]
    return "\n".join(lines)


def review_identity(page_url: str, author: str | None, day: str, body: str) -> str:
    """The fallback id: site host, author, day and body, folded; never the page or the markup."""
    host = (urlsplit(page_url).hostname or "").removeprefix("www.")
    key = "\x1f".join([host, fold(author), day, fold(body)])
    return "h" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def fold(text: str | None) -> str:
    """Case- and whitespace-folded, so markup differences (line breaks, capitals) do not count."""
    return " ".join((text or "").casefold().split())


def own_id(node: dict[str, Any]) -> str | None:
    """The node's own id (JSON-LD ``@id``, microdata ``itemid``) when it is an absolute IRI.

    Blank nodes (``_:b0``) are not ids, and neither are relative ones (``#review-1``, ``5``):
    every site's reviews share the ``schema_org`` platform, so those would collide."""
    for key in ("@id", "id"):
        found = text_or_none(value(node.get(key)))
        if found and urlsplit(found).scheme not in {"", "_"}:
            return found
    return None


def value(raw: Any) -> Any:
    """A plain value out of a language-tagged object or a one-element list."""
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if isinstance(raw, dict) and "@value" in raw:
        return raw["@value"]
    return raw


def tagged(raw: Any, language: str | None) -> tuple[str | None, str | None]:
    """(text, its language) from a string, a ``{"@value", "@language"}`` object or a list of
    them: the value in ``language`` when there is one, else the first."""
    options = raw if isinstance(raw, list) else [raw]
    found: list[tuple[str, str | None]] = []
    for option in options:
        if isinstance(option, dict) and "@value" in option:
            found.append((str(option["@value"]), _language(option.get("@language"))))
        elif isinstance(option, str | int | float) and not isinstance(option, bool):
            found.append((str(option), None))
    if not found:
        return None, None
    return next((pair for pair in found if language and pair[1] == language), found[0])


def notes(raw: Any) -> list[str]:
    """positiveNotes/negativeNotes: an ItemList of ListItems, a list, or one text."""
    if isinstance(raw, dict) and "itemListElement" in raw:
        raw = raw["itemListElement"]
    items = raw if isinstance(raw, list) else [raw]
    if all(isinstance(item, dict) and "position" in item for item in items):
        items = sorted(items, key=lambda item: to_int(value(item.get("position"))) or 0)
    found = []
    for item in items:
        if isinstance(item, dict) and "@value" not in item:
            item = item.get("name") or item.get("item") or item.get("description")
        text = plain(tagged(item, None)[0])
        if text:
            found.append(text)
    return found


def types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type") or []
    names = raw if isinstance(raw, list) else [raw]
    return {str(name).rstrip("/").rsplit("/", 1)[-1] for name in names}


def _is_review(node: dict[str, Any]) -> bool:
    return any(name.endswith("Review") for name in types(node))


def _name(raw: Any) -> str | None:
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if isinstance(raw, dict) and "@value" not in raw:
        raw = raw.get("name") or raw.get("alternateName")
    return plain(tagged(raw, None)[0])


def _language(raw: Any) -> str | None:
    if isinstance(raw, dict) and "@value" not in raw:
        raw = raw.get("alternateName") or raw.get("name")
    code = (text_or_none(value(raw)) or "").split("-")[0].lower()
    return code if _LANGUAGE_CODE.fullmatch(code) else None


def _brief(node: dict[str, Any]) -> str:
    return str({key: node[key] for key in list(node)[:4]})[:200]
