"""The real `scrapy crawl twogis` against saved 2GIS reviews API responses on a local server.

Page 1: a review with an official answer, one without text, an edited one, and one hidden by
moderation (skipped); page 2: flamp and Ukrainian reviews; page 3: empty, without next_link.
Dates keep the branch's +07:00 offset. A re-crawl stops at page 1 and stores no duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.sitesupport import JSON, SiteServer, scrapy_crawl, stored, without_raw

BRANCH = "70000001027654321"
FIELDS = "meta.branch_rating,meta.branch_reviews_count,meta.total_count,reviews.hiding_reason"
START = f"/2.0/branches/{BRANCH}/reviews?limit=50&sort_by=date_edited&locale=ru_RU&fields={FIELDS}"
# next_link names no fields: the ones revmon needs are asked for again (hiding_reason above all)
PAGE2 = (
    f"/2.0/branches/{BRANCH}/reviews?limit=3&sort_by=date_edited&locale=ru_RU"
    "&offset_date=2024-02-27T09%3A15%3A00%2B07%3A00&fields=" + FIELDS.replace(",", "%2C")
)
PAGE3 = (
    f"/2.0/branches/{BRANCH}/reviews?limit=3&sort_by=date_edited&locale=ru_RU"
    "&offset_date=2024-01-15T00%3A00%3A00%2B07%3A00&fields=" + FIELDS.replace(",", "%2C")
)
PUBLIC = f"https://2gis.ru/firm/{BRANCH}/tab/reviews"


def review(id_: str, **fields: object) -> dict:
    return {
        "platform": "twogis",
        "external_id": id_,
        "url": PUBLIC,
        "kind": "review",
        "published_estimated": False,
        "removed": False,
        "location_key": "northwind-nsk",
        "title": None,
        "language": None,  # 2GIS does not say; the pipeline detects it
        "reply_text": None,
        "reply_at": None,
        **fields,
    }


EXPECTED = [
    review(
        "129876543",
        author="Анна",
        rating=5.0,
        text="Лучший раф в городе! Бариста Дима — молодец.\nПриду ещё.",
        published_at="2024-03-05T19:42:11.123456+07:00",
        reply_text="Анна, спасибо! Передадим Диме.",
        reply_at="2024-03-06T10:01:00+07:00",
    ),
    review(
        "129870001",
        author="Пользователь",
        rating=2.0,
        text="",
        published_at="2024-03-01T23:30:00+07:00",
    ),
    review(
        "129861234",
        author="Игорь К.",
        rating=3.0,
        text="Хамство на кассе, ждал заказ 25 минут. UPD: управляющая перезвонила и извинилась, "
        "ставлю тройку.",
        published_at="2024-02-27T09:15:00+07:00",
        reply_text="Игорь, ещё раз приносим извинения.",
        reply_at="2024-02-28T08:00:00+07:00",
    ),
    review(
        "129850002",
        author="Mark",
        rating=5.0,
        text="Great flat white, friendly staff who speak English. Wi-Fi password on the receipt.",
        published_at="2024-01-20T14:05:00+07:00",
    ),
    review(
        "129840003",
        author="Олена",
        rating=4.0,
        text="Кава смачна, але дорого. Персонал привітний, проте чекати довелося довго.",
        published_at="2024-01-15T00:00:00+07:00",
    ),
]


def test_crawl_follows_next_link_keeps_offsets_and_recrawls_incrementally(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(START, "twogis/page1.json", content_type=JSON)
        site.page(PAGE2, "twogis/page2.json", content_type=JSON)
        site.page(PAGE3, "twogis/page3_empty.json", content_type=JSON)
        args = (f"target={BRANCH}", f"base_url={site.base}", "location=northwind-nsk")

        first = scrapy_crawl("twogis", None, db, tmp_path / "first.jsonl", args=args)
        assert first.returncode == 0, first.log[-3000:]
        assert site.fetched() == ["/robots.txt", START, PAGE2, PAGE3]
        assert without_raw(first.items) == EXPECTED
        assert first.items[0]["raw"]["provider"] == "2gis"
        assert first.items[3]["raw"]["provider"] == "flamp"
        assert first.items[2]["raw"]["date_edited"] == "2024-03-02T12:00:00+07:00"

        state = stored(db)
        assert set(state.reviews) == {item["external_id"] for item in EXPECTED}  # hidden skipped
        anna = state.reviews["129876543"]
        assert anna["published_at"] == datetime(2024, 3, 5, 12, 42, 11, 123456, tzinfo=UTC)
        assert anna["reply_at"] == datetime(2024, 3, 6, 3, 1, tzinfo=UTC)
        assert state.reviews["129840003"]["language"] == "uk"
        assert state.reviews["129850002"]["language"] == "en"
        [run] = state.runs
        assert (run["items"], run["new"], run["errors"], run["status"]) == (5, 5, 0, "ok")
        assert (run["platform_total"], run["platform_rating"]) == (312, 4.6)
        assert run["target"].startswith(site.base + START.split("?")[0])

        second = scrapy_crawl("twogis", None, db, tmp_path / "second.jsonl", args=args)
        assert second.returncode == 0, second.log[-3000:]
        assert site.count(START) == 2 and site.count(PAGE2) == 1  # caught up on page 1
        state = stored(db)
        assert len(state.reviews) == 5 and state.revisions == []
        assert (state.runs[-1]["items"], state.runs[-1]["new"]) == (3, 0)


ORG = "70000001027000000"
ORG_FIELDS = "meta.org_rating%2Cmeta.org_reviews_count%2Cmeta.total_count%2Creviews.hiding_reason"
ORG_CONFIGURED = f"/3.0/orgs/{ORG}/reviews?limit=50&sort_by=date_created&key=demo-key-123"
ORG_START = f"/3.0/orgs/{ORG}/reviews?limit=50&sort_by=date_created&fields={ORG_FIELDS}" \
    "&key=demo-key-123"  # fmt: skip
ORG_PAGE2 = (
    f"/3.0/orgs/{ORG}/reviews?limit=50&offset_date=2024-03-01T00%3A00%3A00%2B07%3A00"
    f"&sort_by=date_created&key=demo-key-123&fields={ORG_FIELDS}"
)


def test_organisation_reviews_quirks(tmp_path: Path) -> None:
    """What public 2GIS clients record about this API (the 2GIS reviews API as served at
    public-api.reviews.2gis.com, and the parsers published for it): `official_answer` as a bare
    string, `hiding_reason` only when `fields=` asks for it, a `next_link` on port 8080, the
    `/3.0/orgs/` variant with each review's branch in `object.id` and the organisation's rating
    in `meta.org_rating`; the key rides in the URL and must never be stored."""
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(ORG_START, "twogis/orgs_page1.json", content_type=JSON)
        site.page(ORG_PAGE2, "twogis/orgs_page2.json", content_type=JSON)
        result = scrapy_crawl("twogis", site.url(ORG_CONFIGURED), db, tmp_path / "out.jsonl")
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == ["/robots.txt", ORG_START, ORG_PAGE2]  # :8080 -> the API host

    lenina = "https://2gis.ru/firm/70000001027699999/tab/reviews"
    krasny = "https://2gis.ru/firm/70000001027654321/tab/reviews"
    assert [
        (i["external_id"], i["url"], i["text"], i["reply_text"], i["reply_at"])
        for i in result.items
    ] == [
        ("130000001", krasny, "Food <3, но кофе остыл, пока несли (< 5 минут).",
         "Вера, спасибо! Подогреем в следующий раз.", None),  # a bare-string answer
        ("130000003", lenina, "На Ленина обслуживание > всех ожиданий.", "Павел, спасибо!",
         "2024-03-02T18:00:00+07:00"),
        ("130000004", krasny, "Тихо, можно работать с ноутбуком.", None, None),
    ]  # fmt: skip
    state = stored(db)
    assert set(state.reviews) == {"130000001", "130000003", "130000004"}  # spam hidden
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"]) == (3, 0, "ok")
    assert (run["platform_total"], run["platform_rating"]) == (1250, 4.4)
    stored_text = repr(state.reviews) + repr(state.runs)
    assert "demo-key-123" not in stored_text  # not in review URLs, not in the run's target


def test_a_meta_that_is_not_an_object_loses_no_review(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(START, "twogis/meta_list.json", content_type=JSON)
        result = scrapy_crawl(
            "twogis", None, db, tmp_path / "out.jsonl",
            args=(f"target={BRANCH}", f"base_url={site.base}"),
        )  # fmt: skip
        assert result.returncode == 0, result.log[-3000:]

    assert [item["external_id"] for item in result.items] == ["131000001"]
    [run] = stored(db).runs
    assert (run["items"], run["errors"], run["status"]) == (1, 1, "degraded")
    assert "2GIS `meta` is not an object" in run["error_log"][0]
