"""Every schema.org node of a page, whatever the markup: JSON-LD, microdata and RDFa, one shape.

Sites mark reviews up in any of the three syntaxes, sometimes in two at once, so all three are
read and brought to the shape JSON-LD authors write (short property names, nested objects):

- JSON-LD blocks are parsed one by one, so that one malformed blob is reported and the others
  still count; string values get HTML entities decoded once (sites fill JSON-LD from escaped
  templates: ``&nbsp;``, ``&#39;``). Tags are never touched: a ``<`` in a review stays.
- microdata comes from extruct in its uniform shape (already nested).
- RDFa comes from extruct (pyRdfa) *expanded and flattened*: full IRIs as keys, every value a
  list, nested things as separate nodes referenced by ``@id``. It is compacted here: schema.org
  IRIs become property names, ``{"@value": v}`` becomes ``v`` (a language-tagged value keeps its
  ``{"@value", "@language"}`` object), one-element lists become their element.

Finally ``{"@id": ...}`` references (RDFa, and JSON-LD ``@graph`` pages that reference a Person
or a Review by id) are replaced by the node they name, so a reader finds ``review.author.name``
the same way in every syntax. A node that references itself, directly or not, stays a reference
there instead of looping.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import extruct
from extruct.utils import parse_xmldom_html
from scrapy.http import TextResponse

from crawlers.parsers.common import PageError, load_json

_WRAPPERS = re.compile(r"^\s*(<!--|<!\[CDATA\[)|(-->|\]\]>)\s*$")
_SCHEMA_IRI = re.compile(r"^https?://schema\.org/")
_MAX_DEPTH = 12


def page_graph(response: TextResponse) -> tuple[list[dict[str, Any]], list[str]]:
    """Every node of the page (nested ones included) and what could not be read."""
    roots, errors = _json_ld(response)
    tree = parse_xmldom_html(response.text, encoding="UTF-8")
    for syntax in ("microdata", "rdfa"):
        try:
            found = extruct.extract(tree, base_url=response.url, syntaxes=[syntax], uniform=True)
        except Exception as exc:  # noqa: BLE001 (extruct raises whatever its parsers raise)
            errors.append(f"{response.url}: {syntax} markup unreadable: {exc!r:.200}")
            continue
        nodes = found.get(syntax) or []
        roots.extend(compact_rdfa(nodes) if syntax == "rdfa" else nodes)
    return list(walk(embed_references(roots))), errors


def _json_ld(response: TextResponse) -> tuple[list[Any], list[str]]:
    roots: list[Any] = []
    errors: list[str] = []
    blobs = response.css('script[type="application/ld+json"]::text').getall()
    for number, blob in enumerate(blobs, start=1):
        try:
            roots.append(
                decode_entities(load_json(_WRAPPERS.sub("", blob), f"JSON-LD block {number}"))
            )
        except PageError as exc:
            errors.append(f"{response.url}: {exc}")
    return roots, errors


def decode_entities(value: Any) -> Any:
    """JSON-LD strings with HTML entities decoded once; tags are not touched."""
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, dict):
        return {key: decode_entities(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_entities(item) for item in value]
    return value


def compact_rdfa(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """extruct's expanded RDFa nodes in the compact JSON-LD shape (references left to embed)."""
    return [
        {_term(key): _compact_values(key, values) for key, values in node.items()} for node in nodes
    ]


def _term(key: str) -> str:
    return _SCHEMA_IRI.sub("", key)


def _compact_values(key: str, values: Any) -> Any:
    if key == "@id":
        return values
    items = values if isinstance(values, list) else [values]
    if key == "@type":
        compact = [_term(str(name)) for name in items]
    else:
        compact = [_compact_value(value) for value in items]
    return compact[0] if len(compact) == 1 else compact


def _compact_value(value: Any) -> Any:
    if isinstance(value, dict) and "@value" in value:
        if value.get("@language"):
            return {"@value": value["@value"], "@language": value["@language"]}
        return value["@value"]
    return value


def embed_references(roots: list[Any]) -> list[Any]:
    """Replace ``{"@id": x}`` references by the node with that ``@id``; drop nodes only
    referenced (they are reached through their referrer)."""
    named: dict[str, dict[str, Any]] = {}
    for node in walk(roots):
        node_id = node.get("@id")
        if isinstance(node_id, str) and len(node) > 1:
            named.setdefault(node_id, node)
    referenced = {
        node["@id"] for node in walk(roots) if _is_reference(node) and node["@id"] in named
    }
    kept = [
        root
        for root in roots
        if not (isinstance(root, dict) and root.get("@id") in referenced and len(root) > 1)
    ]
    return [_embed(root, named, ()) for root in kept]


def _is_reference(node: dict[str, Any]) -> bool:
    return set(node) == {"@id"} and isinstance(node["@id"], str)


def _embed(value: Any, named: dict[str, dict[str, Any]], path: tuple[str, ...]) -> Any:
    if isinstance(value, list):
        return [_embed(item, named, path) for item in value]
    if not isinstance(value, dict) or len(path) > _MAX_DEPTH:
        return value
    if _is_reference(value):
        target = value["@id"]
        if target not in named or target in path:
            return value
        value = named[target]
    node_id = value.get("@id")
    inner = (*path, node_id) if isinstance(node_id, str) else path
    return {
        key: _embed(item, named, inner)
        for key, item in value.items()
        if not (key == "@id" and _is_blank(item))  # RDFa's "_:N1f..": new on every read
    }


def _is_blank(node_id: Any) -> bool:
    return isinstance(node_id, str) and node_id.startswith("_:")


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a tree of nodes, depth first: nested reviews and ``@graph`` members too."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)
