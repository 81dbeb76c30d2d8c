"""Google Places, Yelp and TripAdvisor clients against a local server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crawlers.api.errors import AuthError, ConfigError
from crawlers.api.google_places import FIELD_MASK, GooglePlacesClient
from crawlers.api.tripadvisor import TripAdvisorClient
from crawlers.api.yelp import YelpClient, pacific_to_iso
from crawlers.sources import api_client, source_kinds
from pipeline.models import CrawlRun, Review
from tests.fixtures.api import load, make_settings, run_harvest

PLACE = "ChIJN1t_tDeuEmsRUsoyG83frY4"


def stored(session, platform):
    rows = session.scalars(select(Review).where(Review.platform == platform))
    return {row.external_id: row for row in rows}


def test_google_places_maps_the_original_text_and_language(session, httpserver):
    httpserver.expect_request(
        f"/v1/places/{PLACE}",
        headers={"X-Goog-Api-Key": "places-key", "X-Goog-FieldMask": FIELD_MASK},
    ).respond_with_json(load("google_places_place.json"))
    settings = make_settings(google_places_api_key="places-key")

    harvest = run_harvest(session, GooglePlacesClient, settings, httpserver, f"places/{PLACE}")

    assert (harvest.result.status, harvest.result.items, harvest.result.pages) == ("ok", 2, 1)
    run = session.get(CrawlRun, harvest.result.run_id)
    assert (run.source, run.platform, run.platform_total, run.platform_rating) == (
        "google_places", "google", 1287, 4.3,
    )  # fmt: skip
    reviews = stored(session, "google")
    polish = reviews[f"places/{PLACE}/reviews/ChZDSUhNMG9nS0VJQ0FnSUM2cE5lZVNnEAE"]
    assert polish.text == "Kawa była zimna, a barista nas ignorował."
    assert (polish.language, polish.rating, polish.author) == ("pl", 2.0, "Katarzyna W.")
    assert polish.published_at == datetime(2024, 2, 27, 14, 3, 22, 918273, tzinfo=UTC)
    assert polish.url.startswith("https://www.google.com/maps/reviews/data=")
    english = reviews[f"places/{PLACE}/reviews/ChdDSUhNMG9nS0VJQ0FnSURhN2JyM2tRRRAB"]
    assert english.url == "https://maps.google.com/?cid=10281119596374313554"  # the place's link
    assert english.language == "en"


def test_google_places_bad_key_is_an_auth_error(session, httpserver):
    httpserver.expect_request(f"/v1/places/{PLACE}").respond_with_json(
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
            }
        },
        status=400,
    )
    settings = make_settings(google_places_api_key="wrong")

    harvest = run_harvest(session, GooglePlacesClient, settings, httpserver, PLACE)

    assert isinstance(harvest.fatal, AuthError)
    assert str(harvest.fatal) == (
        "google_places: the API key was refused (HTTP 400: API key not valid. Please pass a valid "
        "API key.). Fix: set REVMON_GOOGLE_PLACES_API_KEY to a key with the Places API (New) "
        "enabled"
    )


def test_google_places_unknown_place_is_a_config_error(session, httpserver):
    httpserver.expect_request(f"/v1/places/{PLACE}").respond_with_json(
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
        },
        status=404,
    )

    harvest = run_harvest(
        session, GooglePlacesClient, make_settings(google_places_api_key="k"), httpserver, PLACE
    )

    assert isinstance(harvest.fatal, ConfigError)
    assert "HTTP 404" in str(harvest.fatal) and "Requested entity was not found." in str(
        harvest.fatal
    )
    assert "Fix: check the TARGET (e.g. 'ChIJN1t_tDeuEmsRUsoyG83frY4')" in str(harvest.fatal)


def yelp_query(locale: str) -> dict[str, str]:
    return {"limit": "20", "sort_by": "newest", "locale": locale}


def test_yelp_reads_pacific_time_and_maps_excerpts(session, httpserver):
    path = "/v3/businesses/acme-coffee-san-francisco/reviews"
    httpserver.expect_request(
        path, headers={"Authorization": "Bearer yelp-key"}, query_string=yelp_query("en_US")
    ).respond_with_json(load("yelp_reviews.json"))
    none_yet = {"reviews": [], "total": 812, "possible_languages": ["en", "es", "fr"]}
    for locale in ("es_ES", "fr_FR"):  # the other languages the answer names
        httpserver.expect_request(path, query_string=yelp_query(locale)).respond_with_json(none_yet)

    harvest = run_harvest(
        session,
        YelpClient,
        make_settings(yelp_api_key="yelp-key"),
        httpserver,
        "acme-coffee-san-francisco",
    )

    assert (harvest.result.status, harvest.result.items, harvest.result.pages) == ("ok", 2, 3)
    assert session.get(CrawlRun, harvest.result.run_id).platform_total == 812
    reviews = stored(session, "yelp")
    winter = reviews["xAG4O7l-t1ubbwVAlPnDKg"]
    assert winter.published_at == datetime(2024, 3, 5, 18, 0, tzinfo=UTC)  # PST, UTC-8
    assert (winter.rating, winter.author, winter.kind) == (2.0, "Ella A.", "review")
    assert winter.url.startswith("https://www.yelp.com/biz/acme-coffee-san-francisco?")
    assert winter.text.startswith("Went back again to this place")
    summer = reviews["1JNmYjJgUbb8MgXu9z6iyQ"]
    assert summer.published_at == datetime(2024, 7, 1, 17, 0, tzinfo=UTC)  # PDT, UTC-7


def test_yelp_asks_in_the_locations_locale_and_every_language_it_has(session, httpserver):
    """Yelp Fusion docs: the reviews endpoint answers in one `locale` (en_US unless asked) and
    lists `possible_languages`; a Polish café asked in English gets English or nothing."""
    path = "/v3/businesses/kawiarnia-acme-warszawa/reviews"
    polish = {
        "reviews": [
            {"id": "pl-rev-1", "url": "https://www.yelp.pl/biz/kawiarnia-acme-warszawa?hrid=1",
             "text": "Kawa za < 10 zł, jakość > oczekiwań. Polecam!", "rating": 5,
             "time_created": "2024-03-05 10:00:00", "user": {"id": "p1", "name": "Ola K."}},
        ],
        "total": 3, "possible_languages": ["pl", "en"],
    }  # fmt: skip
    english = {
        "reviews": [
            {"id": "en-rev-1", "url": "https://www.yelp.pl/biz/kawiarnia-acme-warszawa?hrid=2",
             "text": "Great pastries, slow service.", "rating": 3,
             "time_created": "2024-02-01 09:00:00", "user": {"id": "e1", "name": "Tom B."}},
        ],
        "total": 3, "possible_languages": ["pl", "en"],
    }  # fmt: skip
    httpserver.expect_request(path, query_string=yelp_query("pl_PL")).respond_with_json(polish)
    httpserver.expect_request(path, query_string=yelp_query("en_US")).respond_with_json(english)

    harvest = run_harvest(
        session, YelpClient, make_settings(yelp_api_key="k"), httpserver,
        "kawiarnia-acme-warszawa/pl_PL",
    )  # fmt: skip

    assert (harvest.result.status, harvest.result.items) == ("ok", 2)
    assert [request.args["locale"] for request, _ in httpserver.log] == ["pl_PL", "en_US"]
    reviews = stored(session, "yelp")
    assert (reviews["pl-rev-1"].language, reviews["en-rev-1"].language) == ("pl", "en")
    assert reviews["pl-rev-1"].text == "Kawa za < 10 zł, jakość > oczekiwań. Polecam!"
    bad = run_harvest(session, YelpClient, make_settings(yelp_api_key="k"), httpserver, "a/pl")
    assert isinstance(bad.fatal, ConfigError) and "BUSINESS/LOCALE" in str(bad.fatal)


@pytest.mark.parametrize(
    ("local", "iso"),
    [
        ("2016-08-29 00:41:13", "2016-08-29T00:41:13-07:00"),
        ("2024-01-15 23:59:59", "2024-01-15T23:59:59-08:00"),
    ],
)
def test_pacific_to_iso(local, iso):
    assert pacific_to_iso(local) == iso


def test_yelp_invalid_key(session, httpserver):
    httpserver.expect_request("/v3/businesses/acme/reviews").respond_with_json(
        {
            "error": {
                "code": "TOKEN_INVALID",
                "description": "Invalid access token or authorization header.",
            }
        },
        status=401,
    )

    harvest = run_harvest(
        session, YelpClient, make_settings(yelp_api_key="bad"), httpserver, "acme"
    )

    assert isinstance(harvest.fatal, AuthError)
    assert "Invalid access token or authorization header." in str(harvest.fatal)
    assert "Fix: set REVMON_YELP_API_KEY" in str(harvest.fatal)


def test_tripadvisor_maps_owner_responses_and_language(session, httpserver):
    httpserver.expect_request(
        "/api/v1/location/1234567/reviews", query_string={"key": "ta-key", "language": "de"}
    ).respond_with_json(load("tripadvisor_reviews.json"))

    harvest = run_harvest(
        session,
        TripAdvisorClient,
        make_settings(tripadvisor_api_key="ta-key"),
        httpserver,
        "1234567/de",
    )

    assert (harvest.result.status, harvest.result.items) == ("ok", 2)
    reviews = stored(session, "tripadvisor")
    first = reviews["941286712"]
    assert (first.title, first.text, first.rating) == (
        "Guter Kaffee",
        "Sehr guter Kaffee, etwas teuer.",
        4.0,
    )
    assert (first.language, first.author) == ("de", "Wanderlust_Hans")
    assert first.published_at == datetime(2024, 2, 18, 7, 31, 54, tzinfo=UTC)
    assert first.reply_text == "Danke, Hans!"
    assert first.reply_at == datetime(2024, 2, 19, 10, 0, tzinfo=UTC)
    assert first.url.endswith("#review941286712")
    assert reviews["938000001"].reply_text is None


def test_tripadvisor_missing_key_and_bad_target(session, httpserver):
    missing = run_harvest(session, TripAdvisorClient, make_settings(), httpserver, "1234567")
    assert str(missing.fatal) == (
        "tripadvisor: no TripAdvisor API key configured. Fix: set REVMON_TRIPADVISOR_API_KEY"
    )
    bad = run_harvest(
        session, TripAdvisorClient, make_settings(tripadvisor_api_key="k"), httpserver, "acme-cafe"
    )
    assert isinstance(bad.fatal, ConfigError)
    assert httpserver.log == []


def test_every_registered_client_loads_and_names_itself():
    clients = sorted(k.name for k in source_kinds().values() if k.collector == "api")
    assert clients == [
        "app_store", "google_business", "google_places", "mastodon", "reddit", "tripadvisor", "vk",
        "yelp",
    ]  # fmt: skip
    for name in clients:
        cls = api_client(name)
        assert cls.name == name
        assert cls.default_base_url.startswith("https://")
        assert cls.target_example


def test_a_review_seen_by_business_profile_and_places_is_stored_once(session, httpserver):
    """The owner's API and the public Places API name one Google review differently."""
    from crawlers.api.google_business import GoogleBusinessClient

    business = load("google_business_reviews_page1.json")
    shared = business["reviews"][0]
    place = load("google_places_place.json")
    place["reviews"][0].update(
        {
            "originalText": {"text": shared["comment"], "languageCode": "en"},
            "text": {"text": shared["comment"], "languageCode": "en"},
            "authorAttribution": {"displayName": shared["reviewer"]["displayName"]},
            "publishTime": "2024-03-04T19:02:11Z",
            "rating": 1,
        }
    )
    target = "accounts/108459207326582963871/locations/4791204726108523011"
    httpserver.expect_request(f"/v4/{target}/reviews").respond_with_json(business)
    httpserver.expect_request(f"/v1/places/{PLACE}").respond_with_json(place)
    settings = make_settings(google_access_token="t", google_places_api_key="k")

    first = run_harvest(
        session, GoogleBusinessClient, settings, httpserver, target, location_key="cafe"
    )
    second = run_harvest(
        session, GooglePlacesClient, settings, httpserver, PLACE, location_key="cafe"
    )

    assert first.result.new == len(business["reviews"])
    assert (second.result.items, second.result.new) == (2, 1)  # the other review is new
    google = session.scalars(select(Review).where(Review.platform == "google")).all()
    assert len(google) == len(business["reviews"]) + 1
    same = [r for r in google if r.author == "Anna Kowalska"]
    assert [r.external_id for r in same] == [shared["reviewId"]]
