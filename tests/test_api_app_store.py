"""App Store RSS client against a local server: pages until a short page, the one-entry case."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from crawlers.api.app_store import AppStoreClient
from crawlers.api.errors import ConfigError
from pipeline.models import Review
from tests.fixtures.api import load, make_settings, run_harvest

TARGET = "pl/987654321"


def page_path(number: int) -> str:
    return f"/pl/rss/customerreviews/page={number}/id=987654321/sortby=mostrecent/json"


def test_pages_until_a_short_page_and_maps_every_field(session, httpserver):
    httpserver.expect_request(page_path(1)).respond_with_json(load("app_store_page1.json"))
    httpserver.expect_request(page_path(2)).respond_with_json(load("app_store_page2.json"))
    before = datetime.now(UTC)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, TARGET)

    result = harvest.result
    assert (result.status, result.items, result.new, result.pages, result.errors) == (
        "ok",
        51,
        51,
        2,
        0,
    )
    assert len(httpserver.log) == 2  # page 2 held one review: no request for page 3
    reviews = {r.external_id: r for r in session.scalars(select(Review))}
    first = reviews["11000000001"]
    assert first.platform == "app_store" and first.kind == "review"
    assert first.author == "user1"
    assert first.rating == 2.0  # from the string "2"
    assert first.title == "Opinia 1"
    assert first.text == "Aplikacja numer 1: działa dobrze, ale czasem się zawiesza."
    assert first.published_at == datetime(2024, 3, 2, 8, 15, tzinfo=UTC)  # 01:15 at -07:00
    assert first.url == "https://apps.apple.com/pl/app/id987654321?see-all=reviews"
    assert first.reply_text is None
    assert first.language == "pl"  # detected by the pipeline: the feed does not say
    assert first.raw["im:version"] == {"label": "3.14.1"}
    single = reviews["11000000051"]  # page 2: `entry` was an object, and had no `updated`
    assert single.rating == 1.0
    assert before <= single.published_at <= datetime.now(UTC)


def test_a_feed_without_entries_is_an_empty_ok_run(session, httpserver):
    feed = load("app_store_page2.json")
    del feed["feed"]["entry"]
    httpserver.expect_request(page_path(1)).respond_with_json(feed)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, "PL/id987654321")

    assert (harvest.result.status, harvest.result.items, harvest.result.pages) == ("ok", 0, 1)


def test_the_app_entry_of_old_feeds_is_not_a_review(session, httpserver):
    feed = load("app_store_page2.json")
    app = {
        "im:name": {"label": "Kawiarnia"},
        "id": {"label": "https://apps.apple.com/pl/app/id987654321"},
    }
    feed["feed"]["entry"] = [app, feed["feed"]["entry"]]
    httpserver.expect_request(page_path(1)).respond_with_json(feed)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, TARGET)

    assert (harvest.result.items, harvest.result.errors) == (1, 0)
    assert harvest.items[0].external_id == "11000000051"


def test_bad_ratings_are_counted_not_stored(session, httpserver):
    feed = load("app_store_page1.json")
    entries = feed["feed"]["entry"][:3]
    entries[0]["im:rating"] = {"label": "7"}  # out of 1..5: rejected by the pipeline
    entries[1]["im:rating"] = {"label": "five"}  # not a number: rejected by the client
    feed["feed"]["entry"] = entries
    httpserver.expect_request(page_path(1)).respond_with_json(feed)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, TARGET)

    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == (
        "degraded",
        2,
        2,
    )
    assert harvest.result.new == 1
    messages = " | ".join(harvest.result.error_messages)
    assert "could not convert string to float: 'five'" in messages
    assert "rating: 7.0 is outside 1..5" in messages


def test_a_malformed_second_page_keeps_the_first(session, httpserver):
    httpserver.expect_request(page_path(1)).respond_with_json(load("app_store_page1.json"))
    httpserver.expect_request(page_path(2)).respond_with_data('{"feed": {"entry": [', status=200)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, TARGET)

    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == (
        "degraded",
        50,
        1,
    )
    assert harvest.result.error_messages[0].startswith("app_store: GET http://localhost")
    assert "/page=2/" in harvest.result.error_messages[0]


def test_a_bad_target_is_a_config_error(session, httpserver):
    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, "987654321")

    assert isinstance(harvest.fatal, ConfigError)
    assert "give COUNTRY/APP_ID, e.g. 'pl/987654321'" in str(harvest.fatal)
    assert httpserver.log == []
