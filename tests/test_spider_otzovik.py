"""The real `scrapy crawl otzovik`: list pages -> review pages (microdata, pros and cons).

List page 1 has two reviews (one page in windows-1251) and a next page; list page 2 has a review
without a body and one whose page is a captcha (blocked, not stored as empty). A re-crawl stops
at list page 1, whose reviews are all stored. The reviewer's "Рекомендую друзьям: ДА/НЕТ" is part
of the text, and every part (title, pros, cons, body, verdict) is kept apart in raw.

A review of this year shows its date without the year ("28 декабря, 09:15": Otzovik's public
review pages print recent dates so): read in early December, it is last year's 28 December, not a
date in the future (which validation would reject, losing the review).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.sitesupport import HTML, Reply, SiteServer, scrapy_crawl, stored, without_raw

LIST1 = "/reviews/northwind_coffee/"
LIST2 = "/reviews/northwind_coffee/2/"
CP1251 = "text/html; charset=windows-1251"


def expected(base: str) -> list[dict]:
    def review(id_: str, **fields: object) -> dict:
        return {
            "platform": "otzovik",
            "external_id": id_,
            "url": f"{base}/review_{id_}.html",
            "kind": "review",
            "published_estimated": False,
            "removed": False,
            "location_key": None,
            "language": None,  # detected by the pipeline
            "reply_text": None,
            "reply_at": None,
            **fields,
        }

    return [
        review(
            "15234567",
            author="kofeman77",
            rating=5.0,
            title="Лучшая кофейня на Тверской",
            text="Захожу каждое утро перед работой. Бариста помнят мой заказ.\n"
            "Рекомендую раф с лавандой.\n"
            "Достоинства: вкусный кофе, быстрое обслуживание\nНедостатки: мало розеток\n"
            "Рекомендую друзьям: ДА",
            published_at="2024-03-14T09:15:00+03:00",
        ),
        review(
            "15230001",
            author="Olga_S",
            rating=2.0,
            title="Дорого и шумно",
            text="Цены выше среднего по району, а в обед не найти свободного столика.\n"
            "Достоинства: интерьер\nНедостатки: цены, шум, очередь",
            published_at="2024-03-01T00:00:00+03:00",
        ),
        review(
            "15200002",
            author="anon_1985",
            rating=3.0,
            title="Нормально",
            text="Достоинства: рядом с метро\nНедостатки: нет",
            published_at="2024-01-05T00:00:00+03:00",
        ),
    ]


def serve(site: SiteServer) -> None:
    site.page(LIST1, "otzovik/list1.html")
    site.page(LIST2, "otzovik/list2.html")
    site.page("/review_15234567.html", "otzovik/review_15234567.html")
    site.page("/review_15230001.html", "otzovik/review_15230001.html", content_type=CP1251)
    site.page("/review_15200002.html", "otzovik/review_15200002.html")
    site.route(
        "/review_15100003.html", Reply(file="common/otzovik_captcha.html", content_type=HTML)
    )


def test_list_and_review_pages_with_a_captcha(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        serve(site)
        first = scrapy_crawl("otzovik", site.url(LIST1), db, tmp_path / "first.jsonl")
        assert first.returncode == 0, first.log[-3000:]
        assert sorted(site.fetched()) == sorted(
            ["/robots.txt", LIST1, LIST2, "/review_15234567.html", "/review_15230001.html",
             "/review_15200002.html", "/review_15100003.html"]
        )  # fmt: skip
        items = sorted(first.items, key=lambda i: i["external_id"], reverse=True)
        assert without_raw(items) == expected(site.base)
        assert items[0]["raw"]["parts"] == {
            "title": "Лучшая кофейня на Тверской",
            "pros": "вкусный кофе, быстрое обслуживание",
            "cons": "мало розеток",
            "body": "Захожу каждое утро перед работой. Бариста помнят мой заказ.\n"
            "Рекомендую раф с лавандой.",
            "verdict": "ДА",
        }
        assert items[2]["raw"]["parts"]["body"] is None
        assert items[2]["raw"]["parts"]["verdict"] is None  # not shown: not guessed

        state = stored(db)
        assert {r["language"] for r in state.reviews.values()} == {"ru"}
        [run] = state.runs
        assert (run["items"], run["errors"], run["status"]) == (3, 1, "blocked")
        assert (run["platform_total"], run["platform_rating"]) == (37, 4.2)

        assert (run["complete"], run["outcomes"]) == (False, {"ok": 5, "blocked": 1})

        # The blocked run left a gap: the next run does not trust the incremental stop on list
        # page 1 (its reviews are stored) but pages to the end, and fetches the page it missed.
        site.page("/review_15100003.html", "otzovik/review_15200002.html")
        second = scrapy_crawl("otzovik", site.url(LIST1), db, tmp_path / "second.jsonl")
        assert second.returncode == 0, second.log[-3000:]
        assert site.count(LIST1) == 2 and site.count(LIST2) == 2
        assert site.count("/review_15100003.html") == 2
        assert len(stored(db).reviews) == 4
        run = stored(db).runs[-1]
        assert (run["status"], run["full"], run["complete"]) == ("ok", True, True)

        # complete again: the third run trusts the stop and ends on list page 1
        third = scrapy_crawl("otzovik", site.url(LIST1), db, tmp_path / "third.jsonl")
        assert third.returncode == 0, third.log[-3000:]
        assert site.count(LIST1) == 3 and site.count(LIST2) == 2
        assert stored(db).runs[-1]["full"] is False


def test_a_date_without_a_year_is_never_in_the_future_and_the_verdict_is_kept(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    moscow = ZoneInfo("Europe/Moscow")
    now = datetime.now(moscow)
    written = datetime(now.year, 12, 28, 9, 15, tzinfo=moscow)
    if written > now:  # not yet 28 December this year: the review is from last December
        written = written.replace(year=now.year - 1)
    with SiteServer() as site:
        site.page("/reviews/northwind_arbat/", "otzovik/list_recent.html")
        site.page("/review_15240003.html", "otzovik/review_15240003.html")
        result = scrapy_crawl(
            "otzovik", site.url("/reviews/northwind_arbat/"), db, tmp_path / "out.jsonl"
        )
        assert result.returncode == 0, result.log[-3000:]

    [item] = result.items
    assert item["published_at"] == written.isoformat()
    assert item["text"] == (
        "Хожу сюда третий год. С осени кофе стал кислым, а капучино подают чуть тёплым.\n"
        "Бариста не виноваты, но больше не вернусь.\n"
        "Достоинства: место у окна, пирожные\n"
        "Недостатки: сменили зёрна, кофе кислый, цена > 400 ₽ за капучино\n"
        "Рекомендую друзьям: НЕТ"
    )
    assert item["raw"]["parts"] == {
        "title": "Раньше было лучше",
        "pros": "место у окна, пирожные",
        "cons": "сменили зёрна, кофе кислый, цена > 400 ₽ за капучино",
        "body": "Хожу сюда третий год. С осени кофе стал кислым, а капучино подают чуть тёплым."
        "\nБариста не виноваты, но больше не вернусь.",
        "verdict": "НЕТ",
    }
    state = stored(db)
    assert list(state.reviews) == ["15240003"]  # stored: not rejected as a future date
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"]) == (1, 0, "ok")
