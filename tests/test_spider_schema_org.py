"""The real `scrapy crawl schema_org` against two saved shop pages on a local server.

Page 1 (Polish, JSON-LD): comma decimals, a Polish month name, a review without a date (kept,
dated when fetched and marked estimated). Page 2 (Russian, microdata): a 1..10 scale, Russian
month names, an empty body, and a malformed JSON-LD blob (counted; the microdata still lands).
Its rel=next points into a path robots.txt disallows, which must not be fetched.

Then the markup the schema.org project publishes examples of (https://schema.org/Review,
https://schema.org/positiveNotes, and the RDFa tabs of those pages), with texts of our own: a
top-level Review marked up twice (JSON-LD and microdata: one review), language-tagged values,
Reviews nested in a LocalBusiness (``reviews``) and a Product (``review``), pros and cons as
ItemLists, RDFa, and reviews without a date. A re-crawl of the same reviews in other markup
stores nothing new: ids come from author, day and body, never from the markup or the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.parsers.common import iso_datetime, scale_rating
from crawlers.parsers.schema import review_identity
from tests.sitesupport import SiteServer, scrapy_crawl, stored, without_raw

START = "/produkt/kawa-3000"
PAGE2 = "/produkt/kawa-3000?strona=2"
DISALLOWED = "/private/produkt/kawa-3000?strona=3"


def expected_items(base: str) -> list[dict]:
    page1, page2 = base + START, base + PAGE2

    def review(url: str, author: str, published: str, text: str, **fields: object) -> dict:
        return {
            "platform": "schema_org",
            "external_id": review_identity(url, author, published[:10], text),
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
            page1,
            "Anonim",
            "ESTIMATED",
            "Opinia bez daty publikacji.",
            external_id=review_identity(page1, "Anonim", "", "Opinia bez daty publikacji."),
            published_estimated=True,
            rating=5.0,
            title="Bez daty",
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
        before = datetime.now(UTC)
        result = scrapy_crawl("schema_org", site.url(START), db, tmp_path / "out.jsonl")
        after = datetime.now(UTC)
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == ["/robots.txt", START, PAGE2]  # never the disallowed page
        assert "'robotstxt/forbidden': 1" in result.log
        items = estimated_dates_checked(result.items, before, after)
        assert without_raw(items) == expected_items(site.base)
        assert result.items[3]["raw"]["reviewRating"]["bestRating"] == "10"

    state = stored(db)
    assert len(state.reviews) == 5
    [run] = state.runs
    assert (run["items"], run["new"], run["errors"], run["status"]) == (5, 5, 2, "degraded")
    # the page robots.txt forbids is counted, not skipped silently: the listing is not complete
    assert run["outcomes"] == {"ok": 2, "robots": 1} and run["complete"] is False
    assert (run["platform_total"], run["platform_rating"]) == (57, 4.4)
    assert "JSON-LD block 1: malformed JSON" in run["error_log"][0]


def estimated_dates_checked(items: list[dict], before: datetime, after: datetime) -> list[dict]:
    """Items whose estimated date (the fetch time, UTC) lies within the crawl, as "ESTIMATED"."""
    checked = []
    for item in items:
        if item["published_estimated"]:
            fetched = datetime.fromisoformat(item["published_at"])
            assert fetched.utcoffset() is not None and before <= fetched <= after, item
            item = {**item, "published_at": "ESTIMATED"}
        checked.append(item)
    return checked


CAFE = "/cafe/northwind"
CAFE2 = "/cafe/northwind?page=2"
CAFE3 = "/cafe/northwind?page=3"

# The identity of each review on the cafe pages. Pinned on purpose: ids derive from the site's
# host (127.0.0.1 here, whatever the port), author, day and body, and a change to how they are
# derived makes every stored schema.org review arrive once more under a new id.
HANNAH = "hd224bfdaef5b015f2256761e8bd40003"
JONAS = "h69d2a6c0693cfc27cac64d0241883cde"
PAT = "h8a2452aa7041944fca5dc9b09fb63dea"
SAM = "he8468a5654233251adae6fe853dd4968"
LEE = "h824b8e2ea83b33ea4a136255b5078c91"
EWA = "hafa7455b1aa608517287cf589c8009b1"
BEN = "hc38ba0f4131e37599141cccb545e1891"


def cafe_items(base: str) -> list[dict]:
    def review(id_: str, url: str, **fields: object) -> dict:
        return {
            "platform": "schema_org",
            "external_id": id_,
            "url": base + url,
            "kind": "review",
            "published_estimated": False,
            "removed": False,
            "location_key": "northwind-harbour",
            "title": None,
            "language": "en",
            "reply_text": None,
            "reply_at": None,
            **fields,
        }

    estimated = {"published_at": "ESTIMATED", "published_estimated": True}
    return sorted(
        [
            # top level, in JSON-LD and in microdata (other spacing and capitals): one review
            review(HANNAH, CAFE, author="Hannah Berg", rating=5.0, title="Cortado done right",
                   text="Best cortado in town. The oat milk costs extra, though.",
                   published_at="2024-04-02T00:00:00+00:00"),
            # nested under LocalBusiness `reviews`; the body in its own language (inLanguage);
            # its "@id": "#review-2" is relative: every site has one, so it is not an id
            review(JONAS, CAFE, author="Jonas", rating=3.0, language="de",
                   text="Guter Kuchen, aber die Musik ist viel zu laut.", **estimated),
            # microdata that literally says <script> (entities on the page): kept as written
            review(PAT, CAFE, author="Pat Q.", rating=4.0,
                   text="The Wi-Fi login page printed <script>alert(1)</script> at me, but the "
                        "barista fixed it. Flat white: 10/10, price < 4 €. Food <3",
                   published_at="2024-03-30T16:20:00+01:00"),
            # nested in a Product, with positiveNotes/negativeNotes (ItemList, by position)
            review(SAM, CAFE2, author="Sam Okafor", rating=4.0, title="Great beans, awkward bag",
                   text="Chocolatey and smooth as espresso.\n+ Roasted last week, not last year"
                        "\n+ Fair price per kilo\n- The bag does not reseal",
                   published_at="2024-03-20T00:00:00+00:00"),
            review(LEE, CAFE2, author="Lee", rating=2.0, text="Too dark for filter coffee.",
                   **estimated),
            # RDFa
            review(EWA, CAFE3, author="Ewa", rating=5.0, title="Orzeźwiające", language="pl",
                   text="Idealne na upał, nie za słodkie.",
                   published_at="2024-03-02T00:00:00+00:00"),
            review(BEN, CAFE3, author="Ben", rating=2.0, text="Watery, and the can was warm.",
                   **estimated),
        ],
        key=lambda item: item["external_id"],
    )  # fmt: skip


def test_every_markup_read_once_and_ids_survive_a_markup_change(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    args = ("location=northwind-harbour",)
    with SiteServer() as site:
        site.page(CAFE, "schema_org/cafe_page1.html")
        site.page(CAFE2, "schema_org/cafe_page2.html")
        site.page(CAFE3, "schema_org/cafe_page3_rdfa.html")
        before = datetime.now(UTC)
        first = scrapy_crawl("schema_org", site.url(CAFE), db, tmp_path / "1.jsonl", args=args)
        after = datetime.now(UTC)
        assert first.returncode == 0, first.log[-3000:]
        assert site.fetched() == ["/robots.txt", CAFE, CAFE2, CAFE3]
        items = estimated_dates_checked(first.items, before, after)
        items.sort(key=lambda item: item["external_id"])
        assert without_raw(items) == cafe_items(site.base)
        sam = next(item for item in first.items if item["external_id"] == SAM)
        assert sam["raw"]["parts"] == {
            "title": "Great beans, awkward bag",
            "body": "Chocolatey and smooth as espresso.",
            "pros": "Roasted last week, not last year\nFair price per kilo",
            "cons": "The bag does not reseal",
        }
        assert sam["raw"]["positiveNotes"]["@type"] == "ItemList"  # the node itself is kept
        state = stored(db)
        assert set(state.reviews) == {HANNAH, JONAS, PAT, SAM, LEE, EWA, BEN}
        assert state.reviews[PAT]["text"].startswith("The Wi-Fi login page printed <script>")
        [run] = state.runs
        assert (run["items"], run["new"], run["errors"], run["status"]) == (7, 7, 0, "ok")
        assert (run["platform_total"], run["platform_rating"]) == (7, 4.1)

        # The shop moves page 2 to microdata (pros and cons gone, an author in capitals, the
        # undated review undated still): the same reviews, so nothing new is stored.
        site.page(CAFE2, "schema_org/cafe_page2_microdata.html")
        second = scrapy_crawl(
            "schema_org", site.url(CAFE), db, tmp_path / "2.jsonl", args=(*args, "full=1")
        )
        assert second.returncode == 0, second.log[-3000:]
        assert {item["external_id"] for item in second.items} == set(state.reviews)
        state = stored(db)
        assert len(state.reviews) == 7
        assert (state.runs[-1]["items"], state.runs[-1]["new"]) == (7, 0)


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("28 декабря, 09:15", "2023-12-28T09:15:00+03:00"),  # would be 24 days ahead
        ("1 декабря, 09:15", "2024-12-01T09:15:00+03:00"),  # yesterday: this year
        ("28 декабря 2024, 09:15", "2024-12-28T09:15:00+03:00"),  # a year given is kept
    ],
)
def test_a_date_without_a_year_read_in_december(value, expected) -> None:
    now = datetime(2024, 12, 2, 12, 0, tzinfo=UTC)
    assert iso_datetime(value, timezone="Europe/Moscow", now=now) == expected
