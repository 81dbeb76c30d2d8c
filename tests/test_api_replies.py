"""Posting a reply end to end: the local server plays Google, the review and triage are updated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crawlers.api.errors import AuthError, ReplyNotSupported, ReplyRejected, ReplyTooLong
from crawlers.api.google_business import GoogleBusinessClient
from crawlers.items import ReviewItem
from pipeline.db import make_engine, migrate, session_factory
from pipeline.ingest import ingest_items
from pipeline.models import Review, ReviewRevision, Triage, TriageEvent
from revmon.cli import app
from revmon.replies import post_reply, supports_reply
from tests.fixtures.api import load, make_settings

NAME = (
    "accounts/108459207326582963871/locations/4791204726108523011/reviews/"
    "AbFvOqm01xQ7kZlQeV2wYbTnR4sHcJ9pLd"
)
REPLY_PATH = f"/v4/{NAME}/reply"


def gbp_item() -> ReviewItem:
    raw = load("google_business_reviews_page1.json")["reviews"][0]
    return GoogleBusinessClient(make_settings()).to_item(raw)


def store(session, item) -> Review:
    ingest_items(session, [item])
    return session.scalar(
        select(Review).where(
            Review.platform == item.platform, Review.external_id == item.external_id
        )
    )


def settings_for(server):
    return make_settings(
        google_access_token="reply-token",
        api={"base_urls": {"google_business": server.url_for("/")}},
    )


def expect_reply(server, text: str, *, at: str = "2024-03-05T09:30:00.123Z"):
    server.expect_oneshot_request(
        REPLY_PATH,
        method="PUT",
        json={"comment": text},
        headers={"Authorization": "Bearer reply-token"},
    ).respond_with_json({"comment": text, "updateTime": at})


def test_a_reply_is_posted_stored_and_marked_responded(session, httpserver):
    review = store(session, gbp_item())
    text = "Przepraszamy za czekanie, Anno. Odezwiemy się e-mailem."
    expect_reply(httpserver, text)
    before = datetime.now(UTC)

    post_reply(settings_for(httpserver), session, review.id, text, actor="ola")

    httpserver.check_assertions()
    assert len(httpserver.log) == 1
    session.refresh(review)
    assert review.reply_text == text
    assert review.reply_at == datetime(2024, 3, 5, 9, 30, 0, 123000, tzinfo=UTC)
    triage = session.get(Triage, review.id)
    assert triage.status == "responded"
    assert before <= triage.responded_at <= datetime.now(UTC)
    assert triage.response_text == text  # what was sent is kept with the queue item
    actors = session.scalars(select(TriageEvent.actor).where(TriageEvent.review_id == review.id))
    assert set(actors) == {"ola"}
    revisions = session.scalars(
        select(ReviewRevision).where(ReviewRevision.review_id == review.id)
    ).all()
    assert [(r.reply_text, r.text) for r in revisions] == [(None, review.text)]
    # The next crawl sees Google's copy of the reply: nothing has changed for it.
    crawled = gbp_item()
    crawled.reply_text, crawled.reply_at = text, "2024-03-05T09:30:00.123Z"
    again = ingest_items(session, [crawled])
    assert (again.unchanged, again.updated) == (1, 0)


def test_a_reply_of_exactly_4096_bytes_is_sent(session, httpserver):
    review = store(session, gbp_item())
    text = "ż" * 2048  # two bytes each
    assert len(text.encode()) == 4096
    expect_reply(httpserver, text)

    post_reply(settings_for(httpserver), session, review.id, text, actor="ola")

    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].get_data())["comment"] == text
    assert session.get(Triage, review.id).status == "responded"


def test_a_reply_over_4096_bytes_is_refused_before_sending(session, httpserver):
    review = store(session, gbp_item())

    with pytest.raises(ReplyTooLong) as error:
        post_reply(settings_for(httpserver), session, review.id, "ż" * 2048 + "!", actor="ola")

    assert str(error.value) == (
        "google_business: the reply is 4097 bytes; Google accepts at most 4096. Fix: shorten it"
    )
    assert httpserver.log == []
    assert session.get(Triage, review.id) is None
    assert session.get(Review, review.id).reply_text is None


def test_an_expired_token_leaves_the_review_unanswered(session, httpserver):
    review = store(session, gbp_item())
    httpserver.expect_request(REPLY_PATH, method="PUT").respond_with_json(
        {"error": {"code": 401, "message": "Request had invalid authentication credentials."}},
        status=401,
    )

    with pytest.raises(AuthError, match="Fix: set REVMON_GOOGLE_ACCESS_TOKEN"):
        post_reply(settings_for(httpserver), session, review.id, "Thanks!", actor="ola")

    assert session.get(Triage, review.id) is None
    assert session.get(Review, review.id).reply_text is None


def test_a_refused_reply_says_why(session, httpserver):
    review = store(session, gbp_item())
    httpserver.expect_request(REPLY_PATH, method="PUT").respond_with_json(
        {
            "error": {
                "code": 400,
                "message": "Request contains an invalid argument.",
                "status": "INVALID_ARGUMENT",
            }
        },
        status=400,
    )

    with pytest.raises(
        ReplyRejected, match=r"refused the reply \(HTTP 400: Request contains an invalid"
    ):
        post_reply(settings_for(httpserver), session, review.id, "Thanks!", actor="ola")


def test_a_server_error_is_retried_for_a_reply(session, httpserver):
    review = store(session, gbp_item())
    httpserver.expect_ordered_request(REPLY_PATH, method="PUT").respond_with_data("", status=502)
    httpserver.expect_ordered_request(REPLY_PATH, method="PUT").respond_with_json(
        {"comment": "Thanks!", "updateTime": "2024-03-05T09:30:00Z"}
    )
    settings = settings_for(httpserver)
    settings.api.max_attempts = 2

    post_reply(settings, session, review.id, "Thanks!", actor="ola")

    assert session.get(Review, review.id).reply_text == "Thanks!"


def test_platforms_without_a_reply_api_point_at_the_review_url(session, httpserver):
    item = ReviewItem(
        platform="app_store", external_id="11000000001", url="https://apps.apple.com/pl/app/id987654321?see-all=reviews",
        text="Crashes on start", published_at="2024-03-01T10:00:00Z", rating=1.0,
    )  # fmt: skip
    review = store(session, item)

    with pytest.raises(ReplyNotSupported) as error:
        post_reply(settings_for(httpserver), session, review.id, "Sorry!", actor="ola")

    assert str(error.value) == (
        "app_store: the platform has no reply API. "
        "Fix: answer it at https://apps.apple.com/pl/app/id987654321?see-all=reviews"
    )
    assert httpserver.log == []


def test_a_google_review_from_places_cannot_be_answered_through_the_api(session, httpserver):
    item = ReviewItem(
        platform="google", external_id="places/ChIJ1/reviews/Ci9D", text="Nice",
        url="https://www.google.com/maps/reviews/x", published_at="2024-03-01T10:00:00Z",
        rating=5.0, raw={"name": "places/ChIJ1/reviews/Ci9D"},
    )  # fmt: skip
    review = store(session, item)

    with pytest.raises(
        ReplyNotSupported, match="Fix: answer it at https://www.google.com/maps/reviews/x"
    ):
        post_reply(settings_for(httpserver), session, review.id, "Thanks", actor="ola")


def test_an_unknown_review_id_is_a_lookup_error(session, httpserver):
    with pytest.raises(LookupError, match="no review with id 987654"):
        post_reply(settings_for(httpserver), session, 987654, "Thanks", actor="ola")


def test_supports_reply():
    assert supports_reply("google") and supports_reply("google_business")
    assert not any(supports_reply(p) for p in ("app_store", "yelp", "trustpilot", "reddit"))


def test_revmon_reply_end_to_end(tmp_path, monkeypatch, httpserver):
    url = f"sqlite:///{tmp_path / 'revmon.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVMON_CONFIG", raising=False)
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    monkeypatch.setenv("REVMON_GOOGLE_ACCESS_TOKEN", "reply-token")
    monkeypatch.setenv("REVMON_API__BASE_URLS__GOOGLE_BUSINESS", httpserver.url_for("/"))
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine).begin() as session:
        review_id = store(session, gbp_item()).id
    expect_reply(httpserver, "Thank you!")

    runner = CliRunner()
    result = runner.invoke(app, ["reply", str(review_id), "Thank you!", "--as", "ola"])

    assert result.exit_code == 0, result.output
    assert f"replied to review {review_id}" in result.stdout
    with session_factory(engine)() as session:
        assert session.get(Review, review_id).reply_text == "Thank you!"
        assert session.get(Triage, review_id).status == "responded"
    too_long = runner.invoke(app, ["reply", str(review_id), "x" * 4097])
    assert too_long.exit_code == 2
    assert too_long.stderr.strip() == (
        "revmon: google_business: the reply is 4097 bytes; Google accepts at most 4096. "
        "Fix: shorten it"
    )
    engine.dispose()
