"""Social mention clients (Reddit, VK, Mastodon) against a local server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crawlers.api.errors import AuthError, ConfigError
from crawlers.api.mastodon import MastodonClient
from crawlers.api.reddit import RedditClient
from crawlers.api.vk import VkClient
from pipeline.models import Review
from tests.fixtures.api import RecordingSleep, load, make_settings, run_harvest

REDDIT_FIRST = {"q": "acme coffee", "sort": "new", "limit": "100", "raw_json": "1"}


def stored(session, platform):
    rows = session.scalars(select(Review).where(Review.platform == platform))
    return {row.external_id: row for row in rows}


# -- Reddit ------------------------------------------------------------------------------------


def test_reddit_follows_after_and_maps_posts_and_comments(session, httpserver):
    httpserver.expect_request("/search.json", query_string=REDDIT_FIRST).respond_with_json(
        load("reddit_search_page1.json")
    )
    httpserver.expect_request(
        "/search.json", query_string={**REDDIT_FIRST, "after": "t3_1b7q2kd"}
    ).respond_with_json(load("reddit_search_listing.json"))  # a real response, `after` null

    harvest = run_harvest(session, RedditClient, make_settings(), httpserver, "acme coffee")

    result = harvest.result
    assert (result.status, result.items, result.pages, result.errors) == ("ok", 9, 2, 0)
    mentions = stored(session, "reddit")
    post = mentions["t3_1b9xk2q"]
    assert post.kind == "mention" and post.rating is None
    assert post.title == "Acme Coffee on Main St changed their beans?"
    assert post.text == "The flat white at Acme Coffee tastes burnt since last week. Anyone else?"
    assert post.author == "latte_larry"
    assert post.url == (
        "https://www.reddit.com/r/warsaw/comments/1b9xk2q/acme_coffee_on_main_st_changed_their_beans/"
    )
    assert post.published_at == datetime(2024, 3, 5, 16, 10, tzinfo=UTC)
    comment = mentions["t1_ktz9w1a"]
    assert comment.text == "Acme Coffee staff were super kind to my kid <3"
    assert comment.title == "Best cafes for families?"
    assert comment.url == "https://www.reddit.com/r/warsaw/comments/1b8aa01/best_cafes/ktz9w1a/"
    deleted = mentions["t3_1b7q2kd"]
    assert (deleted.author, deleted.text) == (None, "")
    real = mentions["t3_3gpbiu"]  # from the saved real response
    assert real.author == "dClauzel"
    assert real.url == (
        "https://www.reddit.com/r/redditdev/comments/3gpbiu/"
        "prawoauth2util_problem_using_get_banned_raise/"
    )  # ?ref=search_posts dropped
    assert real.published_at == datetime.fromtimestamp(1439370514, UTC)
    assert (
        mentions["t3_4at068"].title
        == "たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた"
    )


def test_reddit_waits_for_an_exhausted_quota(session, httpserver):
    page = load("reddit_search_page1.json")
    httpserver.expect_request("/search.json", query_string=REDDIT_FIRST).respond_with_json(
        page,
        headers={
            "x-ratelimit-remaining": "0.0",
            "x-ratelimit-used": "100",
            "x-ratelimit-reset": "12",
        },
    )
    httpserver.expect_request("/search.json").respond_with_json(load("reddit_search_listing.json"))
    sleep = RecordingSleep()

    harvest = run_harvest(
        session, RedditClient, make_settings(), httpserver, "acme coffee", sleep=sleep
    )

    assert sleep.waits == [12.0]
    assert harvest.result.status == "ok"


def test_reddit_quota_reset_beyond_the_longest_wait_is_reported(session, httpserver):
    httpserver.expect_request("/search.json", query_string=REDDIT_FIRST).respond_with_json(
        load("reddit_search_page1.json"),
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "600"},
    )

    harvest = run_harvest(session, RedditClient, make_settings(), httpserver, "acme coffee")

    assert (harvest.result.status, harvest.result.items) == ("degraded", 3)
    assert "reddit: the quota is used up for the next 600 s" in harvest.result.error_messages[0]


def test_reddit_429_longer_than_the_longest_wait_is_not_slept_through(session, httpserver):
    httpserver.expect_request("/search.json").respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "3600"}
    )
    sleep = RecordingSleep()

    harvest = run_harvest(session, RedditClient, make_settings(), httpserver, "acme", sleep=sleep)

    assert sleep.waits == []
    assert harvest.result.status == "failed"
    assert harvest.result.error_messages[0].endswith("asked to wait 3600 s")


def test_reddit_removed_texts_crossposts_and_plain_text(session, httpserver):
    """Reddit's listing JSON (as /search.json serves it, raw_json=1): "[removed]" (moderator),
    "[deleted]" (author) and "[ Removed by Reddit ]" (admin) stand where the text was; a
    crosspost's own `selftext` is empty and its text is in `crosspost_parent_list[0]`."""
    httpserver.expect_request("/search.json", query_string=REDDIT_FIRST).respond_with_json(
        load("reddit_search_quirks.json")
    )

    harvest = run_harvest(session, RedditClient, make_settings(), httpserver, "acme coffee")

    assert (harvest.result.status, harvest.result.items) == ("ok", 5)
    items = {item.external_id: item for item in harvest.items}
    for gone in ("t3_1c0aa01", "t1_kz0bb02", "t1_kz0bb03"):
        assert (items[gone].text, items[gone].removed) == ("", True), gone
    assert items["t3_1c0aa01"].author == "croissant_critic"  # the post stays, its text is gone
    assert items["t3_1c0aa01"].title == "Acme Coffee on Nowy Świat served me a raw croissant"
    crosspost = items["t3_1c0cc04"]
    assert crosspost.text == (
        "Second visit to Acme Coffee: the espresso was great, price < 10 zł, quality > expected."
    )
    assert (crosspost.removed, crosspost.raw["crosspost_parent"]) == (False, "t3_1c0bb09")
    mentions = stored(session, "reddit")
    assert mentions["t1_kz0dd05"].text == (
        "Acme's oat latte: price < 10 zł, quality > expected. Food <3 & friendly staff."
    )
    assert mentions["t1_kz0bb03"].text == "" and mentions["t1_kz0bb03"].removed is True


# -- VK ----------------------------------------------------------------------------------------


def vk_settings():
    return make_settings(vk_access_token="vk-secret-token")


def vk_query(offset: int) -> dict[str, str]:
    return {
        "domain": "acmecoffee", "query": "латте", "count": "100", "extended": "1",
        "access_token": "vk-secret-token", "v": "5.199", "offset": str(offset),
    }  # fmt: skip


def test_vk_pages_by_offset_and_names_authors(session, httpserver, caplog):
    httpserver.expect_request("/method/wall.search", query_string=vk_query(0)).respond_with_json(
        load("vk_wall_search_page1.json")
    )
    httpserver.expect_request("/method/wall.search", query_string=vk_query(2)).respond_with_json(
        load("vk_wall_search_page2.json")
    )
    caplog.set_level(logging.DEBUG)

    harvest = run_harvest(session, VkClient, vk_settings(), httpserver, "acmecoffee:латте")

    result = harvest.result
    assert (result.status, result.items, result.pages) == ("ok", 3, 2)
    mentions = stored(session, "vk")
    fan = mentions["-19876543_4821"]
    assert fan.kind == "mention"
    assert fan.url == "https://vk.com/wall-19876543_4821"
    assert fan.author == "Мария Смирнова"
    assert fan.text == "Латте в Acme Coffee сегодня просто огонь! Спасибо бариста Ане."
    assert fan.published_at == datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
    assert fan.language == "ru"
    assert mentions["-19876543_4790"].author == "Acme Coffee Москва"  # the community itself
    assert mentions["-19876543_4711"].author == "Игорь"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "crawlers"))]
    assert not any(line.startswith("HTTP Request:") for line in ours)  # URLs carry keys: off
    assert not any("vk-secret-token" in line for line in ours)


def test_vk_reposts_mention_markup_and_plain_text(session, httpserver):
    """VK API docs: a repost keeps the reposted post in `copy_history` (its own `text` is often
    empty); mentions are written "[id2|Name]" / "[club1|Name]" in `text`."""
    httpserver.expect_request("/method/wall.search", query_string=vk_query(0)).respond_with_json(
        load("vk_wall_search_quirks.json")
    )

    harvest = run_harvest(session, VkClient, vk_settings(), httpserver, "acmecoffee:латте")

    assert (harvest.result.status, harvest.result.items) == ("ok", 3)
    items = {item.external_id: item for item in harvest.items}
    repost = items["-19876543_4901"]
    assert repost.text == "Обзор кофеен района: Acme Coffee — лучший раф, цена < 300 ₽."
    assert (repost.author, repost.raw["repost_of"]) == ("Acme Coffee Москва", ["-55512345_311"])
    commented = items["-19876543_4902"]
    assert commented.text == (
        "Согласна с Марией, латте в Acme отличный!\n"
        "Латте в Acme Coffee сегодня просто огонь! Спасибо бариста Ане."
    )
    assert commented.author == "Ольга Кузнецова"
    assert commented.raw["repost_of"] == ["-19876543_4821"]
    assert "repost_of" not in items["-19876543_4903"].raw
    mentions = stored(session, "vk")
    assert mentions["-19876543_4903"].text == "Acme Coffee <3 но очередь > 10 минут & нет розеток"
    assert mentions["-19876543_4901"].text.startswith("Обзор кофеен района: Acme Coffee")


def test_vk_error_6_in_a_200_is_retried(session, httpserver):
    too_many = {"error": {"error_code": 6, "error_msg": "Too many requests per second"}}
    httpserver.expect_ordered_request("/method/wall.search").respond_with_json(too_many)
    httpserver.expect_ordered_request("/method/wall.search").respond_with_json(
        {"response": {"count": 1, "items": load("vk_wall_search_page2.json")["response"]["items"]}}
    )
    sleep = RecordingSleep()

    harvest = run_harvest(
        session, VkClient, vk_settings(), httpserver, "acmecoffee:латте", sleep=sleep
    )

    assert len(sleep.waits) == 1
    assert (harvest.result.status, harvest.result.items) == ("ok", 1)
    assert harvest.items[0].author is None  # no profiles in this answer


def test_vk_error_5_is_an_auth_error_naming_the_variable(session, httpserver):
    httpserver.expect_request("/method/wall.search").respond_with_json(
        {
            "error": {
                "error_code": 5,
                "error_msg": "User authorization failed: invalid access_token (4).",
            }
        }
    )

    harvest = run_harvest(session, VkClient, vk_settings(), httpserver, "acmecoffee:латте")

    assert isinstance(harvest.fatal, AuthError)
    assert str(harvest.fatal) == (
        "vk: VK error 5: User authorization failed: invalid access_token (4).. "
        "Fix: set REVMON_VK_ACCESS_TOKEN to a valid service or user access token"
    )
    assert stored(session, "vk") == {}


def test_vk_without_a_token_or_with_a_bad_target(session, httpserver):
    missing = run_harvest(session, VkClient, make_settings(), httpserver, "acmecoffee:латте")
    assert isinstance(missing.fatal, ConfigError)
    assert (
        str(missing.fatal) == "vk: no VK access token configured. Fix: set REVMON_VK_ACCESS_TOKEN"
    )
    bad = run_harvest(session, VkClient, vk_settings(), httpserver, "https://vk.com/x:латте")
    assert isinstance(bad.fatal, ConfigError)
    assert httpserver.log == []


def test_a_secret_echoed_by_the_server_never_reaches_a_message(session, httpserver, caplog):
    httpserver.expect_request("/method/wall.search").respond_with_data(
        "upstream failed for /method/wall.search?access_token=vk-secret-token", status=502
    )

    harvest = run_harvest(session, VkClient, vk_settings(), httpserver, "acmecoffee:латте")

    message = harvest.result.error_messages[0]
    assert "access_token=[secret]" in message
    assert "vk-secret-token" not in message
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "crawlers"))]
    assert ours and not any("vk-secret-token" in line for line in ours)


def test_vk_private_wall_is_a_config_error(session, httpserver):
    httpserver.expect_request("/method/wall.search").respond_with_json(
        {"error": {"error_code": 30, "error_msg": "This profile is private"}}
    )

    harvest = run_harvest(session, VkClient, vk_settings(), httpserver, "acmecoffee:латте")

    assert isinstance(harvest.fatal, ConfigError)
    assert "VK error 30: This profile is private" in str(harvest.fatal)


# -- Mastodon ----------------------------------------------------------------------------------


def test_mastodon_follows_link_headers_and_cleans_html(session, httpserver):
    path = "/api/v1/timelines/tag/acmecoffee"
    reset = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    next_url = httpserver.url_for(path) + "?max_id=112034000000000001"
    httpserver.expect_request(path, query_string={"limit": "40"}).respond_with_json(
        load("mastodon_tag_page1.json"),
        headers={
            "Link": f'<{next_url}>; rel="next", <{httpserver.url_for(path)}?min_id=1>; rel="prev"',
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        },
    )
    httpserver.expect_request(
        path, query_string={"max_id": "112034000000000001"}
    ).respond_with_json(
        load("mastodon_tag_page2.json"),
        headers={"Link": f'<{httpserver.url_for(path)}?min_id=2>; rel="prev"'},
    )
    sleep = RecordingSleep()

    harvest = run_harvest(
        session, MastodonClient, make_settings(), httpserver, "#acmecoffee", sleep=sleep
    )

    assert (harvest.result.status, harvest.result.items, harvest.result.pages) == ("ok", 3, 2)
    assert len(sleep.waits) == 1 and 20 < sleep.waits[0] <= 30  # until X-RateLimit-Reset
    mentions = stored(session, "mastodon")
    first = mentions["https://mastodon.social/users/beanlover/statuses/112034567890123456"]
    assert first.text == "Tried the new cold brew at #AcmeCoffee & loved it.\nSecond paragraph."
    assert first.url == "https://mastodon.social/@beanlover/112034567890123456"
    assert first.author == "Bean Lover ☕"
    assert first.kind == "mention" and first.rating is None
    assert first.published_at == datetime(2024, 3, 5, 16, 20, 11, tzinfo=UTC)
    remote = mentions["https://fosstodon.org/users/grumpy/statuses/112034000000000001"]
    assert (remote.author, remote.title) == ("grumpy@fosstodon.org", "rant")
    assert remote.text == "Queue was 20 minutes, again.\nNot coming back."
    no_url = mentions["https://example.social/users/news/statuses/112020000000000000"]
    assert no_url.url == "https://example.social/users/news/statuses/112020000000000000"


def test_mastodon_skips_boosts_and_sends_a_token_when_set(session, httpserver):
    statuses = load("mastodon_tag_page1.json")
    statuses[1]["reblog"] = dict(statuses[0])
    httpserver.expect_request(
        "/api/v1/timelines/tag/acmecoffee", headers={"Authorization": "Bearer m-token"}
    ).respond_with_json(statuses)

    harvest = run_harvest(
        session,
        MastodonClient,
        make_settings(mastodon_access_token="m-token"),
        httpserver,
        "acmecoffee",
    )

    assert (harvest.result.items, harvest.result.errors) == (1, 0)


def test_mastodon_status_without_uri_is_counted(session, httpserver):
    statuses = load("mastodon_tag_page1.json")
    del statuses[0]["uri"]
    httpserver.expect_request("/api/v1/timelines/tag/acmecoffee").respond_with_json(statuses)

    harvest = run_harvest(session, MastodonClient, make_settings(), httpserver, "acmecoffee")

    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == (
        "degraded",
        1,
        1,
    )
    assert harvest.result.error_messages == ["mastodon: record 1: KeyError: 'uri'"]


def test_mastodon_content_is_html_read_once(session, httpserver):
    """Mastodon API docs: a Status's `content` is HTML, `spoiler_text` is plain text. The HTML is
    parsed once: "&lt;4€" is the text "<4€" (not a tag, not "&lt;4€"), "&amp;lt;" is "&lt;"."""
    statuses = load("mastodon_tag_page1.json")[:1]
    statuses[0]["content"] = (
        '<p>Lunch deal at <a href="https://mastodon.social/tags/acmecoffee" class="mention '
        'hashtag" rel="tag">#<span>AcmeCoffee</span></a>: soup &amp; bread &lt;4€, '
        "cookies &lt;3</p><p>I typed &amp;lt;b&amp;gt; here &lt;script&gt;x&lt;/script&gt;"
        "<br>second line</p>"
    )
    statuses[0]["spoiler_text"] = "price < 5 € & no <b>tags</b>"
    httpserver.expect_request("/api/v1/timelines/tag/acmecoffee").respond_with_json(statuses)

    harvest = run_harvest(session, MastodonClient, make_settings(), httpserver, "acmecoffee")

    assert (harvest.result.status, harvest.result.items) == ("ok", 1)
    [row] = stored(session, "mastodon").values()
    assert row.text == (
        "Lunch deal at #AcmeCoffee: soup & bread <4€, cookies <3\n"
        "I typed &lt;b&gt; here <script>x</script>\nsecond line"
    )
    assert row.title == "price < 5 € & no <b>tags</b>"  # plain text: kept as typed
