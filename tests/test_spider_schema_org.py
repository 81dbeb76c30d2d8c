"""The real `scrapy crawl schema_org` against two saved shop pages on a local server.

Page 1 (Polish, JSON-LD): comma decimals, a Polish month name, a review without a date (counted,
not stored). Page 2 (Russian, microdata): a 1..10 scale, Russian month names, an empty body, and
a malformed JSON-LD blob (counted; the microdata still lands). Its rel=next points into a path
robots.txt disallows, which must not be fetched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.items import stable_id
from crawlers.parsers.common import iso_datetime, scale_rating
from tests.sitesupport import SiteServer, scrapy_crawl, stored, without_raw

START = "/produkt/kawa-3000"
PAGE2 = "/produkt/kawa-3000?strona=2"
DISALLOWED = "/private/produkt/kawa-3000?strona=3"


def expected_items(base: str) -> list[dict]:
    page1, page2 = base + START, base + PAGE2

    def review(url: str, author: str, published: str, text: str, **fields: object) -> dict:
        return {
            "platform": "schema_org",
            "external_id": stable_id(url, author, published, text),
            "url": url,
            "kind": "review",
            "published_estimated": False,
            "removed": False,
            "location_key": None,
            "author": author,
            "text": text,
            "published_at": published,
            "title": None,
            "reply_text": None,
            "reply_at": None,
            **fields,
        }

    own = "https://sklep.northwind.example/produkt/kawa-3000#opinia-8812"
    return [
        {
            **review(
                own,
                "Marta z Gdańska",
                "2024-01-12T00:00:00+00:00",
                "Kawa pyszna, pianka gęsta. Młynek jest niestety głośny o poranku.",
            ),
            "external_id": own,
            "rating": 4.5,
            "title": "Świetna kawa, głośny młynek",
            "language": "pl",
        },
        review(
            page1,
            "Tomasz",
            "2023-12-28T19:04:00+01:00",
            "Po miesiącu przestał działać spieniacz. Serwis odpisał po tygodniu.",
            rating=2.0,
            language="pl",
        ),
        review(
            page2,
            "Ольга",
            "2024-03-05T00:00:00+00:00",
            "Пользуюсь полгода, капучино как в кофейне.",
            rating=4.11,  # 8 on 1..10
            title="Отличная машина",
            language="ru",
        ),
        review(page2, "Дмитрий", "2024-02-14T00:00:00+00:00", "", rating=1.0, language="ru"),
    ]


def test_crawl_json_ld_and_microdata_pages_obeying_robots(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer(robots="User-agent: *\nDisallow: /private/\n") as site:
        site.page(START, "schema_org/product_pl.html")
        site.page(PAGE2, "schema_org/product_ru_page2.html")
        site.page(DISALLOWED, "schema_org/product_pl.html")
        result = scrapy_crawl("schema_org", site.url(START), db, tmp_path / "out.jsonl")
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == ["/robots.txt", START, PAGE2]  # never the disallowed page
        assert "'robotstxt/forbidden': 1" in result.log
        assert without_raw(result.items) == expected_items(site.base)
        assert result.items[2]["raw"]["reviewRating"]["bestRating"] == "10"

    state = stored(db)
    assert len(state.reviews) == 4
    [run] = state.runs
    assert (run["items"], run["new"], run["errors"], run["status"]) == (4, 4, 3, "degraded")
    # the page robots.txt forbids is counted, not skipped silently: the listing is not complete
    assert run["outcomes"] == {"ok": 2, "robots": 1} and run["complete"] is False
    assert (run["platform_total"], run["platform_rating"]) == (57, 4.4)
    assert "review without a readable datePublished" in run["error_log"][0]
    assert "JSON-LD block 1: malformed JSON" in run["error_log"][1]


@pytest.mark.parametrize(
    ("value", "best", "worst", "expected"),
    [
        ("4,5", "5", None, 4.5),
        ("4.5", None, None, 4.5),
        (8, 10, 1, 4.11),
        ("10", "10", "1", 5.0),
        ("80", "100", "0", 4.2),
        ("3", "5", "0", 3.4),
        ("", None, None, None),
        ("n/a", None, None, None),
        (7, None, None, 7.0),  # out of range passes through; validation counts it
    ],
)
def test_scale_rating(value, best, worst, expected) -> None:
    assert scale_rating(value, best, worst) == expected


@pytest.mark.parametrize(
    ("value", "timezone", "expected"),
    [
        ("2024-03-05T19:42:11+07:00", "UTC", "2024-03-05T19:42:11+07:00"),
        ("2024-03-05T14:22:31.000Z", "UTC", "2024-03-05T14:22:31+00:00"),
        ("2024-03-05 10:00", "Europe/Moscow", "2024-03-05T10:00:00+03:00"),
        ("5 марта 2024", "UTC", "2024-03-05T00:00:00+00:00"),
        ("12 stycznia 2024, 18:30", "Europe/Warsaw", "2024-01-12T18:30:00+01:00"),
        (1709650000, "UTC", "2024-03-05T14:46:40+00:00"),
        ("not a date at all", "UTC", None),
        (None, "UTC", None),
    ],
)
def test_iso_datetime(value, timezone, expected) -> None:
    assert iso_datetime(value, timezone=timezone) == expected
