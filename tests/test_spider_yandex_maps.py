"""The real `scrapy crawl yandex_maps` against saved organisation review pages.

Page 1: the embedded state JSON (ru with an owner reply, en, tr). Page 2: its state blob is
broken, so the schema.org microdata gives the reviews (one without text) and the page counts as an
error. Page 3 redirects to /showcaptcha: counted as blocked, never parsed as an empty page.
"""

from __future__ import annotations

from pathlib import Path

from crawlers.parsers.schema import review_identity
from tests.sitesupport import Reply, SiteServer, scrapy_crawl, stored, without_raw

START = "/maps/org/northwind_coffee/1234567890/reviews/"
PAGE2 = START + "?page=2"
PAGE3 = START + "?page=3"


def expected(base: str) -> list[dict]:
    url = base + START

    def review(id_: str, **fields: object) -> dict:
        return {
            "platform": "yandex_maps",
            "external_id": id_,
            "url": url,
            "kind": "review",
            "published_estimated": False,
            "removed": False,
            "location_key": "northwind-tverskaya",
            "title": None,
            "reply_text": None,
            "reply_at": None,
            **fields,
        }

    sergey = ("Сергей", "2024-02-11T08:30:00+00:00")
    sergey_text = "Ждал капучино двадцать минут, в итоге принесли холодный."
    return [
        review(
            "MkjTeTcBgbB9Z2pRxQ7-aB1X9qYlLh",
            author="Мария Петрова",
            rating=5.0,
            text="Уютно, вкусные круассаны. Персонал вежливый.",
            language="ru",
            published_at="2024-03-04T10:11:12+00:00",
            reply_text="Мария, спасибо за тёплые слова! Ждём вас снова.",
            reply_at="2024-03-05T07:00:00+00:00",
        ),
        review(
            "Pq9xLm2Ff7nKd8Rt5Wv3Yz1Ab4Cd6E",
            author="John Smith",
            rating=3.0,
            # the state JSON escapes <, > and & (\u003c..): plain text, kept as typed
            text="Good coffee but the music was way too loud for working. Coffee <3, "
            "music > 80 dB & no sockets.",
            language="en",
            published_at="2024-02-29T18:20:00+00:00",
        ),
        review(
            "Zx8Cv7Bn6Mm5Ll4Kk3Jj2Hh1Gg0Ff9",
            author="Ayşe Yılmaz",
            rating=4.0,
            text="Kahve çok güzeldi ama fiyatlar biraz yüksek. Yine de tavsiye ederim.",
            language="tr",
            published_at="2024-02-20T12:00:00+00:00",
        ),
        review(
            review_identity(url, sergey[0], "2024-02-11", sergey_text),
            author=sergey[0],
            rating=1.0,
            text=sergey_text,
            language="ru",
            published_at=sergey[1],
        ),
        review(
            review_identity(url, "Гость", "2024-02-10", ""),
            author="Гость",
            rating=4.0,
            text="",
            language="ru",
            published_at="2024-02-10T00:00:00+03:00",  # Moscow: the page gives no offset
        ),
    ]


def test_state_json_microdata_fallback_and_captcha(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(START, "yandex_maps/org_page1.html")
        site.page(PAGE2, "yandex_maps/org_page2_broken_state.html")
        site.route(PAGE3, Reply(status=302, headers={"Location": "{{BASE}}/showcaptcha?cc=1"}))
        site.page("/showcaptcha?cc=1", "common/showcaptcha.html")
        result = scrapy_crawl(
            "yandex_maps", site.url(START), db, tmp_path / "out.jsonl",
            args=("location=northwind-tverskaya",),
        )  # fmt: skip
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == ["/robots.txt", START, PAGE2, PAGE3]

    assert without_raw(result.items) == expected(site.base)
    assert result.items[0]["raw"]["author"]["professionLevel"] == "Знаток города 5 уровня"
    assert result.items[3]["raw"]["@type"] == "Review"
    state = stored(db)
    assert len(state.reviews) == 5
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"]) == (5, 2, "blocked")
    assert (run["platform_total"], run["platform_rating"]) == (312, 4.7)
    assert "Yandex Maps state JSON: malformed JSON" in run["error_log"][0]
    blocked = f"{site.url(PAGE3)}: blocked: captcha or challenge page (HTTP 302)"
    assert run["error_log"][1] == blocked
    assert run["outcomes"] == {"ok": 2, "blocked": 1} and run["complete"] is False
