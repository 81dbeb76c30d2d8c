"""The real `scrapy crawl telegram` against a saved t.me/s/ channel preview: posts as mentions,
older pages through ?before=, an edited post, a photo post without text, an empty oldest page."""

from __future__ import annotations

from pathlib import Path

from tests.sitesupport import SiteServer, scrapy_crawl, stored, without_raw

START = "/s/coffee_district"


def mention(base: str, post: int, **fields: object) -> dict:
    return {
        "platform": "telegram",
        "external_id": f"coffee_district/{post}",
        "url": f"{base}/coffee_district/{post}",
        "kind": "mention",
        "published_estimated": False,
        "removed": False,
        "location_key": None,
        "author": "Кофейный район",
        "rating": None,
        "title": None,
        "language": None,
        "reply_text": None,
        "reply_at": None,
        **fields,
    }


def test_channel_pages_as_mentions(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(START, "telegram/channel.html")
        site.page(START + "?before=1199", "telegram/before_1199.html")
        site.page(START + "?before=1150", "telegram/before_1150_empty.html")
        result = scrapy_crawl("telegram", None, db, tmp_path / "out.jsonl",
                              args=("target=coffee_district", f"base_url={site.base}"))  # fmt: skip
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == ["/robots.txt", START, START + "?before=1199",
                                  START + "?before=1150"]  # fmt: skip

    b = site.base
    assert without_raw(result.items) == [
        mention(b, 1199, published_at="2024-03-04T08:15:00+00:00",
                text="Открылась новая Northwind Coffee на Тверской! Кто уже был?\n"
                     "Делитесь впечатлениями 👇"),
        mention(b, 1200, published_at="2024-03-05T09:00:12+00:00", author="Игорь",
                text="Northwind Coffee на Тверской: раф отличный, но очередь в 9 утра — 15 минут."),
        mention(b, 1201, published_at="2024-03-05T17:45:00+00:00", text=""),
        mention(b, 1202, published_at="2024-03-06T07:30:00+00:00",
                text="Sunday specials at Northwind: two flat whites for the price of one "
                     "until noon."),
        mention(b, 1150, published_at="2024-02-20T10:00:00+00:00",
                text="Ranking kawiarni: Northwind na drugim miejscu, świetne espresso i szybka "
                     "obsługa."),
    ]  # fmt: skip
    raws = [item["raw"] for item in result.items]
    assert [r["views"] for r in raws] == [3400, 1200, 987, 2_100_000, 5000]
    assert [r["edited"] for r in raws] == [False, True, False, False, False]
    state = stored(db)
    assert {k: r["language"] for k, r in state.reviews.items() if r["text"]} == {
        "coffee_district/1199": "ru", "coffee_district/1200": "ru",
        "coffee_district/1202": "en", "coffee_district/1150": "pl",
    }  # fmt: skip
    assert all(r["kind"] == "mention" and r["rating"] is None for r in state.reviews.values())
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"], run["platform_total"]) == (5, 0, "ok", None)


QUIRKS = "/s/northwind_fans"


def fan_post(base: str, post: int, **fields: object) -> dict:
    return {
        **mention(base, post),
        "external_id": f"northwind_fans/{post}",
        "url": f"{base}/northwind_fans/{post}",
        "author": "Northwind Fans",
        **fields,
    }


def test_replies_polls_forwards_service_messages_and_paging(tmp_path: Path) -> None:
    """Each quirk in the shape t.me/s/ pages serve (the classes RSS-Bridge's Telegram bridge and
    other public t.me/s/ readers select): a reply quotes its parent with the same text class; a
    poll's question and options; a forward names its source; service messages are not posts; a
    ?before= page without a "before" link still has older posts, and its "after" link leads to
    newer ones (never followed)."""
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.page(QUIRKS, "telegram/quirks.html")
        site.page(QUIRKS + "?before=310", "telegram/quirks_before_310.html")
        site.page(QUIRKS + "?before=302", "telegram/quirks_before_302.html")
        site.page(QUIRKS + "?after=305", "telegram/quirks.html")
        site.page(QUIRKS + "?after=1", "telegram/quirks.html")
        result = scrapy_crawl("telegram", site.url(QUIRKS), db, tmp_path / "out.jsonl")
        assert result.returncode == 0, result.log[-3000:]
        assert site.fetched() == [
            "/robots.txt", QUIRKS, QUIRKS + "?before=310", QUIRKS + "?before=302",
        ]  # fmt: skip

    b = site.base
    assert without_raw(result.items) == [
        fan_post(b, 310, published_at="2024-04-03T12:10:00+00:00",
                 text="The new menu is awful, cold soup twice."),
        fan_post(b, 311, published_at="2024-04-03T15:00:00+00:00",
                 text="Which Northwind drink should stay on the menu?\nLavender raf\nCold brew <3"),
        fan_post(b, 312, published_at="2024-04-04T08:00:00+00:00", author="City Food Critic",
                 text="Northwind on Harbour Street: the best cortado in town (<3), the worst "
                      "chairs & no sockets."),  # message text is HTML: parsed once
        fan_post(b, 305, published_at="2024-04-01T09:00:00+00:00", text="Our new menu is live!"),
    ]  # fmt: skip
    raws = {item["external_id"]: item["raw"] for item in result.items}
    assert raws["northwind_fans/310"]["reply_to"] == {
        "data_post": "northwind_fans/305",
        "url": "https://t.me/northwind_fans/305",
        "author": "Northwind Fans",
        "text": "Our new menu is live!",
    }
    assert raws["northwind_fans/311"]["poll"] == {
        "question": "Which Northwind drink should stay on the menu?",
        "type": "Anonymous poll",
        "options": [
            {"text": "Lavender raf", "percent": 61.0},
            {"text": "Cold brew <3", "percent": 39.0},
        ],
    }
    assert raws["northwind_fans/312"]["forwarded_from"] == {
        "name": "City Food Critic",
        "channel": "City Food Critic",
        "url": "https://t.me/city_food_critic/877",
    }
    assert raws["northwind_fans/312"]["channel"] == "Northwind Fans"
    state = stored(db)
    assert set(state.reviews) == {f"northwind_fans/{n}" for n in (305, 310, 311, 312)}
    [run] = state.runs
    assert (run["items"], run["errors"], run["status"]) == (4, 0, "ok")
