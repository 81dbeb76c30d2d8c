"""The real `scrapy crawl irecommend`: a list page -> two review pages; the next list page is
empty (the last page); pros and cons lists join the text; an English review keeps its language.
The reviewer's verdict ("Не рекомендую" badge) is kept in the text as "Рекомендую друзьям: НЕТ",
and each part of the review is kept apart in raw["parts"]."""

from __future__ import annotations

from pathlib import Path

from tests.sitesupport import SiteServer, scrapy_crawl, stored, without_raw

LIST0 = "/content/northwind-coffee"
LIST1 = "/content/northwind-coffee?page=1"


def test_list_review_pages_and_empty_last_page(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(LIST0, "irecommend/list0.html")
        site.page(LIST1, "irecommend/list1_empty.html")
        site.page("/content/uyutno-no-dorogovato", "irecommend/review_uyutno.html")
        site.page("/content/best-breakfast-moscow", "irecommend/review_best.html")
        result = scrapy_crawl(
            "irecommend", site.url(LIST0), db, tmp_path / "out.jsonl", args=("location=msk",)
        )
        assert result.returncode == 0, result.log[-3000:]
        assert site.count(LIST1) == 1 and len(site.fetched()) == 5

    parts = {item["external_id"]: item["raw"]["parts"] for item in result.items}
    assert parts["/content/uyutno-no-dorogovato"] == {
        "title": "Уютно, но дороговато",
        "pros": "вкусный кофе, свежие десерты",
        "cons": "цены",
        "body": "Была в этой кофейне трижды. Кофе отличный, десерты свежие.\n"
        "Но чек на двоих — почти 2 000 ₽.",
        "verdict": "НЕТ",
    }
    assert parts["/content/best-breakfast-moscow"]["verdict"] is None
    items = sorted(without_raw(result.items), key=lambda item: item["external_id"])
    base = {"platform": "irecommend", "kind": "review", "published_estimated": False,
            "removed": False, "location_key": "msk", "language": None,
            "reply_text": None, "reply_at": None}  # fmt: skip
    assert items == [
        {
            **base,
            "external_id": "/content/best-breakfast-moscow",
            "url": f"{site.base}/content/best-breakfast-moscow",
            "author": "TravelMax",
            "rating": 5.0,
            "title": "Best breakfast in Moscow",
            "text": "Syrniki and a proper flat white. Staff switched to English without a fuss.",
            "published_at": "2024-02-02T09:05:00+03:00",
        },
        {
            **base,
            "external_id": "/content/uyutno-no-dorogovato",
            "url": f"{site.base}/content/uyutno-no-dorogovato",
            "author": "Anna_K",
            "rating": 4.0,
            "title": "Уютно, но дороговато",
            "text": "Была в этой кофейне трижды. Кофе отличный, десерты свежие.\n"
            "Но чек на двоих — почти 2 000 ₽.\n"
            "Достоинства: вкусный кофе, свежие десерты\nНедостатки: цены\n"
            "Рекомендую друзьям: НЕТ",
            "published_at": "2024-03-10T14:22:00+03:00",
        },
    ]
    state = stored(db)
    assert state.reviews["/content/best-breakfast-moscow"]["language"] == "en"
    assert state.reviews["/content/uyutno-no-dorogovato"]["language"] == "ru"
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"]) == (2, 0, "ok")
    assert (run["platform_total"], run["platform_rating"]) == (18, 4.1)
