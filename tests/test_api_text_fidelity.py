"""Plain text stays as typed in every official API client, and reaches the item as plain text.

These APIs serve review texts as plain strings (Google Business Profile API `comment`, Places API
`originalText.text`, the App Store RSS `content.label`, TripAdvisor Content API `text`): a `<`
or `>` there is the reviewer's own character, never markup. Each client hands the item the text
with only its spacing folded (the item contract: plain text, whitespace-normalised), so what
`revmon collect -O` writes is what gets stored.
"""

from __future__ import annotations

from sqlalchemy import select

from crawlers.api.app_store import AppStoreClient
from crawlers.api.google_business import GoogleBusinessClient
from crawlers.api.google_places import GooglePlacesClient
from crawlers.api.tripadvisor import TripAdvisorClient
from pipeline.models import Review
from tests.fixtures.api import load, make_settings, run_harvest

TYPED = "  Kawa: price < 10 zł,   quality > expected.\n\n\n Food <3 & <b>no</b> tags here  "
AS_READ = "Kawa: price < 10 zł, quality > expected.\nFood <3 & <b>no</b> tags here"


def stored_texts(session, platform: str) -> set[str]:
    return set(session.scalars(select(Review.text).where(Review.platform == platform)))


def test_google_places_original_text(session, httpserver):
    place = load("google_places_place.json")
    place["reviews"][0]["originalText"]["text"] = TYPED
    place_id = "ChIJN1t_tDeuEmsRUsoyG83frY4"
    httpserver.expect_request(f"/v1/places/{place_id}").respond_with_json(place)

    harvest = run_harvest(
        session, GooglePlacesClient, make_settings(google_places_api_key="k"), httpserver, place_id
    )

    assert harvest.items[0].text == AS_READ
    assert AS_READ in stored_texts(session, "google")


def test_google_business_comment_and_reply(session, httpserver):
    page = load("google_business_reviews_page1.json")
    del page["nextPageToken"]
    page["reviews"][0]["comment"] = TYPED
    page["reviews"][0]["reviewReply"] = {
        "comment": " Thanks!  <3 ",
        "updateTime": "2024-03-06T10:00:00Z",
    }
    httpserver.expect_request("/v4/accounts/1/locations/2/reviews").respond_with_json(page)

    harvest = run_harvest(
        session, GoogleBusinessClient, make_settings(google_access_token="t"), httpserver,
        "accounts/1/locations/2",
    )  # fmt: skip

    assert (harvest.items[0].text, harvest.items[0].reply_text) == (AS_READ, "Thanks! <3")
    assert AS_READ in stored_texts(session, "google")


def test_app_store_content_and_title(session, httpserver):
    feed = load("app_store_page1.json")
    feed["feed"]["entry"] = feed["feed"]["entry"][:2]  # a short page: the last
    feed["feed"]["entry"][1]["content"]["label"] = TYPED
    feed["feed"]["entry"][1]["title"]["label"] = " 5 stars > 4 stars "
    path = "/pl/rss/customerreviews/page=1/id=987654321/sortby=mostrecent/json"
    httpserver.expect_request(path).respond_with_json(feed)

    harvest = run_harvest(session, AppStoreClient, make_settings(), httpserver, "pl/987654321")

    item = next(item for item in harvest.items if "quality" in item.text)
    assert (item.text, item.title) == (AS_READ, "5 stars > 4 stars")
    assert AS_READ in stored_texts(session, "app_store")


def test_tripadvisor_text_title_and_owner_response(session, httpserver):
    page = load("tripadvisor_reviews.json")
    page["data"][0]["text"] = TYPED
    page["data"][0]["owner_response"] = {"text": "We  fixed it  <3", "published_date": None}
    httpserver.expect_request("/api/v1/location/1234567/reviews").respond_with_json(page)

    harvest = run_harvest(
        session, TripAdvisorClient, make_settings(tripadvisor_api_key="k"), httpserver, "1234567"
    )

    assert (harvest.items[0].text, harvest.items[0].reply_text) == (AS_READ, "We fixed it <3")
    assert AS_READ in stored_texts(session, "tripadvisor")
