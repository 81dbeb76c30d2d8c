"""The parts of a review on Otzovik and irecommend: title, pros, cons, body and the verdict.

Both sites show a review as a title, a "Достоинства" (pros) block, a "Недостатки" (cons) block,
the body and the reviewer's own "Рекомендую друзьям: ДА/НЕТ" (the recommend signal: a later
scorer reads each part on its own). The item's text stays what a reader sees; the parts go into
``raw["parts"]`` with their labels taken off.

The verdict is found by its words, not by a class name: Otzovik shows it as a table row
("Рекомендую друзьям" | "ДА"), irecommend as a badge ("Рекомендую" / "Не рекомендую").
"""

from __future__ import annotations

import re
from typing import Any

from scrapy.http import TextResponse

from crawlers.parsers.common import plain

VERDICT_LABEL = "Рекомендую друзьям"
_ANSWER = re.compile(r"^\s*:?\s*(ДА|НЕТ)\b")  # right after the label, as the site writes it
_ONLY_ANSWER = re.compile(r"^\s*(ДА|НЕТ)\s*$", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(Достоинства|Недостатки)\s*:?\s*", re.IGNORECASE)
_NOT_SCRIPT = "not(ancestor-or-self::script) and not(ancestor-or-self::style)"


def verdict(response: TextResponse) -> str | None:
    """``"ДА"`` or ``"НЕТ"``: does the reviewer recommend it to friends; None when not shown."""
    labelled = response.xpath(
        f'//*[{_NOT_SCRIPT}][contains(normalize-space(text()), "{VERDICT_LABEL}")]'
    )
    for node in labelled:
        own = " ".join(node.css("::text").getall()).split(VERDICT_LABEL, 1)[-1]
        after = " ".join(node.xpath("following-sibling::*[1]//text()").getall())
        answer = _ANSWER.match(own) or (_ONLY_ANSWER.match(after) if not own.strip(" :") else None)
        if answer:
            return answer.group(1).upper()
    badge = " ".join(" ".join(response.css(".verdict ::text").getall()).split()).casefold()
    if badge.startswith("не рекомендую"):
        return "НЕТ"
    if badge.startswith("рекомендую"):
        return "ДА"
    return None


def block_text(response: TextResponse, selector: str) -> str | None:
    """A pros or cons block as the page shows it: list items joined with ", ", spaces folded."""
    blocks = response.css(selector)
    if not blocks:
        return None
    points = [" ".join(" ".join(li.css("::text").getall()).split()) for li in blocks.css("li")]
    if any(points):
        return ", ".join(point for point in points if point)
    return plain(" ".join(" ".join(blocks.css("::text").getall()).split()))


def unlabelled(text: str | None) -> str | None:
    """``"Достоинства: вкусный кофе"`` -> ``"вкусный кофе"`` (the part without its label)."""
    return plain(_LABEL.sub("", text)) if text else None


def parts(
    title: str | None, pros: str | None, cons: str | None, body: str, answer: str | None
) -> dict[str, Any]:
    return {
        "title": title,
        "pros": unlabelled(pros),
        "cons": unlabelled(cons),
        "body": body or None,
        "verdict": answer,
    }


def verdict_line(answer: str | None) -> list[str]:
    return [f"{VERDICT_LABEL}: {answer}"] if answer else []
