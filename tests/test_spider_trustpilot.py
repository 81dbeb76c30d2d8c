"""The real `scrapy crawl trustpilot` against saved Trustpilot pages on a local server.

Page 1: three reviews (en; de with a company reply; pl without text). Page 2: a broken
__NEXT_DATA__ blob, so the JSON-LD fallback gives its reviews and the page is counted as an error.
Page 3: the last page (no next). Then: a re-crawl stops at page 1 (all stored, unchanged); an edit
on page 1 makes the crawl update it with a revision and go on to page 2; `full=1` reads all pages.

Trustpilot's public pages (as served at trustpilot.com/review/DOMAIN) list one language unless
`languages=all` is asked for, while `numberOfReviews` counts every language: the crawl asks for all
languages and takes the total from `filters.pagination.totalCount`, what the pages list. An
edited company reply keeps `publishedDate` and carries `updatedDate`: the later one is the reply's
date. Plain-text fields keep `<` and `>` as typed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.sitesupport import SiteServer, scrapy_crawl, stored, without_raw

CONFIGURED = "/review/example.com"  # the URL in the config: it names no language
START = "/review/example.com?languages=all"
PAGE2 = "/review/example.com?languages=all&page=2"
PAGE3 = "/review/example.com?languages=all&page=3"


def expected_items(base: str) -> list[dict]:
    def review(id_: str, **fields: object) -> dict:
        return {
            "platform": "trustpilot",
            "external_id": id_,
            "url": f"{base}/reviews/{id_}",
            "kind": "review",
            "published_estimated": False,
            "removed": False,
            "location_key": "northwind-web",
            "reply_text": None,
            "reply_at": None,
            **fields,
        }

    return [
        review(
            "65f1c2a9e4b0a1b2c3d4e5f6",
            author="Jane Doe",
            rating=5.0,
            title="Fast delivery, great support",
            # __NEXT_DATA__ escapes <, > and & as \u003c.. (Next.js does): plain text as typed
            text="Ordered on Monday, arrived Wednesday. Support answered within an hour "
            "& sorted a sizing issue. Shipping < 10 zł, quality > expected.",
            language="en",
            published_at="2024-03-05T14:22:31+00:00",
        ),
        review(
            "65e0a7b3c4d5e6f7a8b9c0d1",
            author="Klaus Müller",
            rating=2.0,
            title="Ware beschädigt, Erstattung langsam",
            text="Die Jacke kam mit einem Riss an. Rücksendung dauerte drei Wochen.\n"
            "Erstattung erst nach zwei Mahnungen.",
            language="de",
            published_at="2024-02-28T09:10:00+00:00",
            reply_text="Hallo Klaus, das tut uns leid. Wir haben die Erstattung heute veranlasst.",
            reply_at="2024-03-02T10:15:00+00:00",
        ),
        review(
            "65d9e8f7a6b5c4d3e2f1a0b9",
            author="Zofia Wiśniewska",
            rating=1.0,
            title="Nie polecam",
            text="",
            language="pl",
            published_at="2024-02-20T18:45:12+00:00",
        ),
        # page 2: from JSON-LD (its __NEXT_DATA__ is broken)
        review(
            "65c1b2a3f4e5d6c7b8a9f0e1",
            url=f"{base}/reviews/65c1b2a3f4e5d6c7b8a9f0e1",
            author="Алексей Смирнов",
            rating=4.0,
            title="Хороший магазин",
            text="Доставка в Ригу заняла пять дней, всё пришло целым. Буду заказывать ещё.",
            language="ru",
            published_at="2024-02-10T07:30:00+00:00",
        ),
        review(
            "65b0a1f2e3d4c5b6a7f8e9d0",
            author="Tom B.",
            rating=3.0,
            title="Okay",
            text="Decent prices, the website is slow at checkout.",
            language="en",
            published_at="2024-01-29T21:05:44+00:00",
        ),
        review(
            "65a9f8e7d6c5b4a3f2e1d0c9",
            author="Piotr K.",
            rating=4.0,
            title="Dobry sklep",
            text="Szybka wysyłka, ale rozmiar za mały (<38). Zwrot bez problemu.",
            language="pl",
            published_at="2024-01-12T12:00:00+00:00",
            reply_text="Dziękujemy, Piotr! Tabela rozmiarów jest już poprawiona.",
            reply_at="2024-01-15T11:00:00+00:00",  # edited: updatedDate, not publishedDate
        ),
        review(
            "65a0b1c2d3e4f5a6b7c8d9e0",
            author="M. Jones",
            rating=1.0,
            title="Never again",
            text="Never again.",
            language="en",
            published_at="2024-01-03T23:59:59+00:00",
        ),
    ]


@pytest.fixture
def site():
    with SiteServer() as server:
        server.page(START, "trustpilot/page1.html")
        server.page(PAGE2, "trustpilot/page2.html")
        server.page(PAGE3, "trustpilot/page3.html")
        yield server


def crawl(site: SiteServer, db: str, out: Path, *args: str):
    result = scrapy_crawl(
        "trustpilot", site.url(CONFIGURED), db, out, args=("location=northwind-web", *args)
    )
    assert result.returncode == 0, result.log[-3000:]
    return result


def test_crawl_recrawl_edit_and_full(site: SiteServer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"

    first = crawl(site, db, tmp_path / "first.jsonl")
    assert site.fetched() == ["/robots.txt", START, PAGE2, PAGE3]
    assert without_raw(first.items) == expected_items(site.base)
    raw = first.items[1]["raw"]
    assert raw["consumer"]["countryCode"] == "DE" and raw["dates"]["updatedDate"]
    assert first.items[3]["raw"]["@type"] == "Review"  # JSON-LD node kept for reprocessing
    assert "__NEXT_DATA__: malformed JSON" in first.log

    db_state = stored(db)
    assert len(db_state.reviews) == 7
    for item in expected_items(site.base):
        row = db_state.reviews[item["external_id"]]
        for field in ("url", "author", "rating", "title", "text", "language", "reply_text"):
            assert row[field] == item[field], field
        if item["reply_at"]:
            assert row["reply_at"] == datetime.fromisoformat(item["reply_at"])
        assert row["location_key"] == "northwind-web"
        assert row["published_at"] == datetime.fromisoformat(item["published_at"])
    [run] = db_state.runs
    assert run["source"] == run["platform"] == "trustpilot"
    assert run["target"] == site.url(CONFIGURED) and run["location_key"] == "northwind-web"
    assert (run["items"], run["new"], run["updated"], run["errors"], run["pages"]) == (
        7,
        7,
        0,
        1,
        3,
    )
    # the broken blob is a record-level error: the page itself was read (via JSON-LD)
    assert (run["outcomes"], run["complete"]) == ({"ok": 3}, True)
    assert (run["platform_total"], run["platform_rating"]) == (7, 4.3)  # totalCount, all pages
    assert run["status"] == "degraded"
    assert "__NEXT_DATA__: malformed JSON" in run["error_log"][0]

    # Re-crawl: page 1 holds only stored, unchanged reviews -> stop there, no duplicates.
    crawl(site, db, tmp_path / "second.jsonl")
    assert site.count(START) == 2 and site.count(PAGE2) == 1
    second = stored(db)
    assert len(second.reviews) == 7 and second.revisions == []
    assert second.runs[-1]["items"] == 3 and second.runs[-1]["new"] == 0

    # An edited review on page 1: updated with a revision, and paging goes on to page 2,
    # which is unchanged, so page 3 is not fetched again.
    site.page(START, "trustpilot/page1_edited.html")
    crawl(site, db, tmp_path / "third.jsonl")
    assert (site.count(PAGE2), site.count(PAGE3)) == (2, 1)
    third = stored(db)
    edited = third.reviews["65e0a7b3c4d5e6f7a8b9c0d1"]
    assert edited["rating"] == 3.0 and "Update: Erstattung ist inzwischen da" in edited["text"]
    [revision] = third.revisions
    assert revision["review_id"] == edited["id"] and revision["rating"] == 2.0
    assert "Erstattung erst nach zwei Mahnungen." in revision["text"]
    assert (third.runs[-1]["updated"], third.runs[-1]["new"]) == (1, 0)
    assert edited["changed_at"] is not None and edited["changed_at"] <= datetime.now(UTC)

    # full=1 pages to the end even though everything is stored.
    crawl(site, db, tmp_path / "full.jsonl", "full=1")
    assert site.count(PAGE3) == 2
    assert len(stored(db).reviews) == 7


def test_arguments_are_checked_up_front() -> None:
    from crawlers.spiders.trustpilot import TrustpilotSpider

    with pytest.raises(
        ValueError, match=r"-a url: Value error, 'ftp://x/y' is not an http\(s\) URL"
    ):
        TrustpilotSpider(url="ftp://x/y")
    with pytest.raises(ValueError, match="-a ful: Extra inputs are not permitted"):
        TrustpilotSpider(url="https://www.trustpilot.com/review/a.com", ful="1")
    with pytest.raises(ValueError, match=r"give -a url=START_URL \(e.g. https://www.trustpilot"):
        TrustpilotSpider()
    spider = TrustpilotSpider(target="northwind.example", location="north", full="1")
    assert spider.start_url == "https://www.trustpilot.com/review/northwind.example"
    assert (spider.location_key, spider.full, spider.platform) == ("north", True, "trustpilot")
    mirror = TrustpilotSpider(target="a.com", base_url="http://127.0.0.1:9/")
    assert mirror.start_url == "http://127.0.0.1:9/review/a.com" and mirror.page_errors == []
