"""schema.org Review and AggregateRating from JSON-LD and microdata, for every site that has them.

JSON-LD blocks are read one by one, so that one malformed blob is reported and the others (and
the microdata, read by extruct) still count. Values arrive as strings in any locale ("4,5"), on
any ``worstRating..bestRating`` scale, with dates in any language: all are normalised here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import extruct
from scrapy.http import TextResponse

from crawlers.items import ReviewItem, stable_id
from crawlers.parsers.common import (
    PageError,
    iso_datetime,
    load_json,
    plain,
    scale_rating,
    text_or_none,
    to_int,
)

_WRAPPERS = re.compile(r"^\s*(<!--|<!\[CDATA\[)|(-->|\]\]>)\s*$")


@dataclass
class SchemaData:
    """Every schema.org node of a page, flattened, and the JSON-LD blobs that would not parse."""

    nodes: list[dict[str, Any]]
    errors: list[str]

    def reviews(self) -> list[dict[str, Any]]:
        return [node for node in self.nodes if _is_review(node)]

    def aggregate(self) -> tuple[int | None, float | None]:
        """The page's AggregateRating as (review count, rating on 1..5), if it has one."""
        for node in self.nodes:
            if "AggregateRating" in _types(node):
                count = to_int(node.get("reviewCount")) or to_int(node.get("ratingCount"))
                rating = scale_rating(
                    node.get("ratingValue"), node.get("bestRating"), node.get("worstRating")
                )
                return count, rating
        return None, None


def schema_data(response: TextResponse) -> SchemaData:
    """Read JSON-LD (block by block) and microdata from a page."""
    roots: list[Any] = []
    errors: list[str] = []
    blobs = response.css('script[type="application/ld+json"]::text').getall()
    for number, blob in enumerate(blobs, start=1):
        try:
            blob_data = load_json(_WRAPPERS.sub("", blob), f"JSON-LD block {number}")
            roots.append(_decode_entities(blob_data))
        except PageError as exc:
            errors.append(f"{response.url}: {exc}")
    microdata = extruct.extract(
        response.text, base_url=response.url, syntaxes=["microdata"], uniform=True
    )
    roots.extend(microdata["microdata"])
    return SchemaData(nodes=list(_walk(roots)), errors=errors)


def _decode_entities(value: Any) -> Any:
    """JSON-LD strings with HTML entities decoded once: sites fill JSON-LD from HTML-escaped
    templates (``&nbsp;``, ``&#39;``). Tags are not touched: a ``<`` in a review stays."""
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, dict):
        return {key: _decode_entities(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_entities(item) for item in value]
    return value


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
) -> ReviewItem:
    """A ReviewItem from one schema.org Review node; PageError names a node that cannot be one."""
    published = iso_datetime(
        node.get("datePublished") or node.get("dateCreated") or node.get("dateModified"),
        timezone=timezone,
    )
    if published is None:
        raise PageError(f"{page_url}: review without a readable datePublished: {_brief(node)}")
    author = _name(node.get("author"))
    text = plain(node.get("reviewBody") or node.get("text") or node.get("description"))
    rating_node = node.get("reviewRating")
    if isinstance(rating_node, dict):
        rating = scale_rating(
            rating_node.get("ratingValue"),
            rating_node.get("bestRating"),
            rating_node.get("worstRating"),
        )
    else:
        rating = scale_rating(rating_node)
    url = text_or_none(node.get("url")) or page_url
    own_id = text_or_none(node.get("@id")) or text_or_none(node.get("id"))
    return ReviewItem(
        platform=platform,
        external_id=own_id or stable_id(url, author, published, text or ""),
        url=url,
        author=author,
        rating=rating,
        title=plain(node.get("name") or node.get("headline")),
        text=text or "",
        language=_language(node.get("inLanguage")) or language,
        published_at=published,
        raw=node,
    )


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON-LD/microdata tree: nested reviews and ``@graph`` members included."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type") or []
    names = raw if isinstance(raw, list) else [raw]
    return {str(name).rstrip("/").rsplit("/", 1)[-1] for name in names}


def _is_review(node: dict[str, Any]) -> bool:
    return any(name.endswith("Review") for name in _types(node))


def _name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName")
    return plain(value)


def _language(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("alternateName") or value.get("name")
    code = text_or_none(value)
    return code.split("-")[0].lower() if code else None


def _brief(node: dict[str, Any]) -> str:
    return str({key: node[key] for key in list(node)[:4]})[:200]
