"""Text as revmon stores it: plain text, every character the writer typed, nothing that breaks a
database or a JSON encoder.

Two ways in, because sources deliver two kinds of field:

- :func:`plain_text` for fields that are plain text (most JSON APIs, text already taken out of a
  page by a selector): ``<``, ``>`` and ``&`` are characters like any other ("price < 10 zł",
  "Food <3" keep them); only whitespace is folded.
- :func:`html_to_text` for fields that are HTML (Mastodon's ``content``, a post's inner HTML):
  lxml's HTML parser reads the markup, block elements and ``<br>`` become line breaks, scripts
  and styles are dropped, and entities are decoded exactly once, so ``&lt;4€`` becomes ``<4€``
  and stays that. Inline elements join as the reader sees them: ``#<span>Acme</span>`` is
  ``#Acme`` (html-text, which extruct uses, puts a space there, so it is not used here).

Both clean what no database accepts: NUL and other control characters are removed, and a lone
UTF-16 surrogate (broken JSON escapes, ``"\\ud83d"`` alone) becomes U+FFFD instead of making the
write fail.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACE = re.compile(r"[ \t\f\v\u00a0]+")
_NEWLINE = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
))  # fmt: skip
_SKIPPED = frozenset({"script", "style", "template", "noscript", "head", "title"})


def storable(value: str) -> str:
    """``value`` without the characters a database or an encoder rejects (NUL, lone surrogates)."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", value))


def plain_text(value: Any) -> str:
    """Plain text kept as written: runs of spaces folded, blank lines dropped, paragraphs kept."""
    if value is None:
        return ""
    text = _NEWLINE.sub("\n", storable(str(value)))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(value: Any) -> str:
    """The text a reader sees in an HTML fragment: tags parsed (not stripped by pattern),
    entities decoded once, block elements and ``<br>`` as line breaks."""
    if value is None:
        return ""
    markup = storable(str(value))
    if not markup.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return plain_text(markup)
    parts: list[str] = []
    _collect(root, parts)
    return plain_text("".join(parts))


def _collect(element: Any, parts: list[str]) -> None:
    """Append an element's visible text to ``parts``, line breaks where the layout has them."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in _SKIPPED or not tag:  # comments and processing instructions have no text
        return
    block = tag in _BLOCKS
    if block or tag == "br":
        parts.append("\n")
    parts.append(element.text or "")
    for child in element:
        _collect(child, parts)
        parts.append(child.tail or "")
    if block:
        parts.append("\n")
