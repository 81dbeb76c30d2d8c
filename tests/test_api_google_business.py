"""Google Business Profile client against a local server: paging, mapping, retries, auth."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.api.errors import AuthError, ConfigError
from crawlers.api.google_business import GoogleBusinessClient, original_comment
from pipeline.models import CrawlRun, Review
from tests.fixtures.api import RecordingSleep, load, make_settings, run_harvest

TARGET = "accounts/108459207326582963871/locations/4791204726108523011"
PATH = f"/v4/{TARGET}/reviews"
FIRST = {"pageSize": "50", "orderBy": "updateTime desc"}
SECOND = {**FIRST, "pageToken": "CiQKIgoQYm9va2luZ19wYWdlXzIQAQ"}
AUTH = {"Authorization": "Bearer test-token"}
EXPIRED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        "status": "UNAUTHENTICATED",
    }
}


@pytest.fixture
def settings():
    return make_settings(google_access_token="test-token")


def serve_both_pages(server: HTTPServer) -> None:
    page1, page2 = (
        load("google_business_reviews_page1.json"),
        load("google_business_reviews_page2.json"),
    )
    server.expect_request(PATH, query_string=FIRST, headers=AUTH).respond_with_json(page1)
    server.expect_request(PATH, query_string=SECOND, headers=AUTH).respond_with_json(page2)


def stored(session: Session) -> dict[str, Review]:
    rows = session.scalars(select(Review).where(Review.platform == "google"))
    return {row.external_id: row for row in rows}


def review_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Review))


def test_every_page_is_stored_with_every_field_mapped(session, settings, httpserver):
    serve_both_pages(httpserver)

    harvest = run_harvest(
        session, GoogleBusinessClient, settings, httpserver, TARGET, location_key="cafe"
    )

    result = harvest.result
    assert (result.status, result.items, result.new, result.pages, result.errors) == (
        "ok",
        5,
        5,
        2,
        0,
    )
    run = session.get(CrawlRun, result.run_id)
    assert (run.source, run.platform, run.target) == ("google_business", "google", TARGET)
    assert (run.platform_total, run.platform_rating, run.location_key) == (5, 4.1, "cafe")
    reviews = stored(session)
    assert len(reviews) == 5
    first = reviews["AbFvOqm01xQ7kZlQeV2wYbTnR4sHcJ9pLd"]
    assert first.kind == "review"
    assert first.location_key == "cafe"
    assert first.author == "Anna Kowalska"
    assert first.rating == 1.0
    assert first.text == "Waited 40 minutes for a cold pizza. The waiter was rude when we asked."
    assert first.published_at == datetime(2024, 3, 4, 19, 2, 11, 318000, tzinfo=UTC)
    assert first.url == "https://business.google.com/reviews"
    assert first.reply_text is None and first.reply_at is None
    assert first.raw["name"] == f"{TARGET}/reviews/AbFvOqm01xQ7kZlQeV2wYbTnR4sHcJ9pLd"
    answered = reviews["AbFvOqm02xQ7kZlQeV2wYbTnR4sHcJ9pLd"]
    assert (answered.rating, answered.author) == (5.0, "Marek Nowak")
    assert answered.reply_text == "Thank you, Marek! See you soon."
    assert answered.reply_at == datetime(2024, 3, 2, 10, 1, 5, 662000, tzinfo=UTC)
    anonymous = reviews["AbFvOqm03xQ7kZlQeV2wYbTnR4sHcJ9pLd"]
    assert anonymous.author is None
    assert (
        anonymous.text == "Dobre jedzenie, ale głośna muzyka"
    )  # the original, not Google's translation
    assert anonymous.rating == 3.0
    rating_only = reviews["AbFvOqm04xQ7kZlQeV2wYbTnR4sHcJ9pLd"]
    assert (rating_only.text, rating_only.rating, rating_only.author) == ("", 4.0, "Jan Wiśniewski")
    edited = reviews["AbFvOqm05xQ7kZlQeV2wYbTnR4sHcJ9pLd"]
    assert edited.published_at == datetime(2024, 1, 11, 11, 11, 11, tzinfo=UTC)  # createTime
    assert [item.external_id for item in harvest.items][:2] == [
        "AbFvOqm01xQ7kZlQeV2wYbTnR4sHcJ9pLd",
        "AbFvOqm02xQ7kZlQeV2wYbTnR4sHcJ9pLd",
    ]


def test_429_waits_what_retry_after_says_then_succeeds(session, settings, httpserver):
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}},
        status=429,
        headers={"Retry-After": "7"},
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(
        load("google_business_reviews_page2.json")
    )
    sleep = RecordingSleep()

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET, sleep=sleep)

    assert sleep.waits == [7.0]
    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == ("ok", 2, 0)
    assert len(httpserver.log) == 2


def test_500_is_retried_with_backoff_then_succeeds(session, settings, httpserver):
    httpserver.expect_ordered_request(PATH).respond_with_data("upstream hiccup", status=500)
    httpserver.expect_ordered_request(PATH).respond_with_json(
        load("google_business_reviews_page2.json")
    )
    sleep = RecordingSleep()

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET, sleep=sleep)

    assert len(sleep.waits) == 1 and 0.25 <= sleep.waits[0] <= 0.5
    assert (harvest.result.status, harvest.result.items) == ("ok", 2)


def test_500_beyond_the_retries_fails_the_run_with_the_reason(session, settings, httpserver):
    httpserver.expect_request(PATH).respond_with_data("down", status=503)

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert harvest.fatal is None
    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == ("failed", 0, 1)
    message = harvest.result.error_messages[0]
    assert message.startswith("google_business: HTTP 503 for GET http://localhost")
    assert "gave up after 3 tries" in message
    assert len(httpserver.log) == 3


def test_expired_token_mid_way_keeps_page_one_and_names_the_fix(session, settings, httpserver):
    httpserver.expect_request(PATH, query_string=FIRST).respond_with_json(
        load("google_business_reviews_page1.json")
    )
    httpserver.expect_request(PATH, query_string=SECOND).respond_with_json(EXPIRED, status=401)

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert isinstance(harvest.fatal, AuthError)
    message = str(harvest.fatal)
    assert message.startswith(
        "google_business: the credentials were refused (HTTP 401: Request had"
    )
    assert "Fix: set REVMON_GOOGLE_ACCESS_TOKEN" in message
    assert "test-token" not in message
    # page 1 was committed when it came: what was fetched is never lost to a later failure
    assert review_count(session) == 3 and len(harvest.items) == 3
    run = session.get(CrawlRun, harvest.result.run_id)
    assert (run.status, run.items, run.new, run.errors) == ("degraded", 3, 3, 1)
    assert run.error_log == [message]
    assert run.outcomes == {"ok": 1, "auth_error": 1}
    assert run.finished_at is not None and run.complete is False  # the next run pages fully


def test_a_401_refreshes_the_token_once_and_goes_on(session, httpserver):
    settings = make_settings(
        google_access_token="stale",
        google_client_id="client-1",
        google_client_secret="s3cret",
        google_refresh_token="refresh-1",
        api={"base_urls": {"google_oauth": httpserver.url_for("/oauth")}, "max_attempts": 3},
    )
    httpserver.expect_request(PATH, headers={"Authorization": "Bearer stale"}).respond_with_json(
        EXPIRED, status=401
    )
    httpserver.expect_request(
        "/oauth/token",
        method="POST",
        data="grant_type=refresh_token&client_id=client-1&client_secret=s3cret&refresh_token=refresh-1",
    ).respond_with_json({"access_token": "fresh", "expires_in": 3599, "token_type": "Bearer"})
    httpserver.expect_request(PATH, headers={"Authorization": "Bearer fresh"}).respond_with_json(
        load("google_business_reviews_page2.json")
    )

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert harvest.fatal is None
    assert (harvest.result.status, harvest.result.items) == ("ok", 2)


def test_a_refused_refresh_token_is_an_auth_error(session, httpserver):
    settings = make_settings(
        google_client_id="client-1",
        google_client_secret="s3cret",
        google_refresh_token="1//0gRevokedRefreshToken",
        api={"base_urls": {"google_oauth": httpserver.url_for("/oauth")}},
    )
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        status=400,
    )

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert isinstance(harvest.fatal, AuthError)
    assert "token refresh was refused (Token has been expired or revoked.)" in str(harvest.fatal)


def test_a_missing_token_fails_before_any_request(session, httpserver):
    harvest = run_harvest(session, GoogleBusinessClient, make_settings(), httpserver, TARGET)

    assert isinstance(harvest.fatal, ConfigError)
    assert str(harvest.fatal).startswith(
        "google_business: no Google OAuth token configured. Fix: set"
    )
    assert "REVMON_GOOGLE_ACCESS_TOKEN" in str(harvest.fatal)
    assert httpserver.log == []
    assert session.get(CrawlRun, harvest.result.run_id).status == "failed"


def test_a_bad_target_names_the_expected_shape(session, settings, httpserver):
    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, "locations/9")

    assert isinstance(harvest.fatal, ConfigError)
    assert "bad TARGET 'locations/9'" in str(harvest.fatal)
    assert "accounts/ACCOUNT_ID/locations/LOCATION_ID" in str(harvest.fatal)


def test_malformed_json_keeps_earlier_pages_and_marks_the_run(session, settings, httpserver):
    httpserver.expect_request(PATH, query_string=FIRST).respond_with_json(
        load("google_business_reviews_page1.json")
    )
    httpserver.expect_request(PATH, query_string=SECOND).respond_with_data(
        '{"reviews": [{"reviewId": "x"', content_type="application/json"
    )

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert harvest.fatal is None
    result = harvest.result
    assert (result.status, result.items, result.new, result.errors, result.pages) == (
        "degraded",
        3,
        3,
        1,
        2,  # the second page counts, as the one that failed
    )
    assert "is not JSON" in result.error_messages[0]
    assert review_count(session) == 3


def test_malformed_first_page_fails_the_run(session, settings, httpserver):
    httpserver.expect_request(PATH).respond_with_data("<html>Service Unavailable</html>")

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert (harvest.result.status, harvest.result.errors) == ("failed", 1)
    assert "starts '<html>Service Unavailable</html>'" in harvest.result.error_messages[0]


def test_an_unexpected_shape_is_a_bad_page_not_a_crash(session, settings, httpserver):
    httpserver.expect_request(PATH).respond_with_json({"reviews": {"not": "a list"}})

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert harvest.result.status == "failed"
    assert "reviews: expected list, got dict" in harvest.result.error_messages[0]


def test_a_bad_record_is_counted_and_the_rest_of_the_page_kept(session, settings, httpserver):
    page = load("google_business_reviews_page2.json")
    del page["reviews"][0]["createTime"]
    httpserver.expect_request(PATH).respond_with_json(page)

    harvest = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert (harvest.result.status, harvest.result.items, harvest.result.errors) == (
        "degraded",
        1,
        1,
    )
    assert harvest.result.error_messages == ["google_business: record 1: KeyError: 'createTime'"]
    assert list(stored(session)) == ["AbFvOqm05xQ7kZlQeV2wYbTnR4sHcJ9pLd"]


def test_the_next_call_stops_at_reviews_already_stored(session, settings, httpserver):
    serve_both_pages(httpserver)
    run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)
    httpserver.clear_log()

    again = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert again.result.stopped_at_known
    assert (again.result.pages, again.result.new, again.result.status) == (1, 0, "ok")
    assert len(httpserver.log) == 1
    full = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET, full=True)
    assert (full.result.pages, full.result.stopped_at_known) == (2, False)


def test_after_a_degraded_run_the_next_call_reads_everything(session, settings, httpserver):
    httpserver.expect_ordered_request(PATH, query_string=FIRST).respond_with_json(
        load("google_business_reviews_page1.json")
    )
    httpserver.expect_ordered_request(PATH, query_string=SECOND).respond_with_data("oops")
    degraded = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)
    assert degraded.result.status == "degraded"
    serve_both_pages(httpserver)

    again = run_harvest(session, GoogleBusinessClient, settings, httpserver, TARGET)

    assert (again.result.pages, again.result.new, again.result.stopped_at_known) == (2, 2, False)


@pytest.mark.parametrize(
    ("comment", "original"),
    [
        ("(Translated by Google) Tasty\n\n(Original)\nSmaczne", "Smaczne"),
        ("Plain words (Original) stay", "Plain words (Original) stay"),
        ("", ""),
    ],
)
def test_original_comment(comment, original):
    assert original_comment(comment) == original
