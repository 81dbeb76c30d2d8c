"""The Streamlit dashboard driven through AppTest on a seeded SQLite database: every page, the
filters, the actions (their effect checked in the database) and the escaping of review text."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from pipeline.db import make_engine, migrate
from pipeline.models import Sentiment, Triage, TriageEvent
from tests.seed_dashboard import XSS, seed

GERMAN = "Sehr nettes Personal!"
PAGE_SIZE = 25  # dashboard/app_pages/inbox.py
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """One migrated, seeded database per module; each test works on its own copy."""
    path = tmp_path_factory.mktemp("dashboard") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with Session(engine) as session:
        ids = seed(session, datetime.now(UTC))
        session.commit()
    engine.dispose()
    return path, ids


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    path, ids = template_db
    copy = tmp_path / "revmon.db"
    shutil.copy(path, copy)
    url = f"sqlite:///{copy}"
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    monkeypatch.delenv("REVMON_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./revmon.toml
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = make_engine(url)
    yield engine, ids
    engine.dispose()


def run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def card_texts(at: AppTest) -> list[str]:
    """The review texts in list order (the detail panel repeats the open one at the end)."""
    return [t.value for t in at.text][: min(int(at.metric[0].value), PAGE_SIZE)]


def triage_row(engine, review_id):
    with Session(engine) as session:
        return session.get(Triage, review_id)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


# --- inbox -------------------------------------------------------------------------------------


def test_inbox_lists_awaiting_reviews_overdue_first(db):
    at = run()
    assert at.title[0].value == "Inbox"
    assert [m.label for m in at.metric[:2]] == ["Matching", "Overdue"]
    assert (at.metric[0].value, at.metric[1].value) == ("5", "1")
    assert card_texts(at) == [
        "Waited an hour and the staff were rude.",
        XSS,
        "Холодный кофе, долго ждали.",
        "Anyone tried Central Cafe?",
        "Sehr nettes Personal!",
    ]
    first = at.markdown[0].value
    assert first.startswith(":red-badge[OVERDUE] ★☆☆☆☆ · google · Central Cafe · negative")
    assert "overdue by 24 h" in first
    assert "due in 2 h" in at.markdown[1].value
    assert at.subheader[0].value.startswith("Review #")  # the first item opens by default


def test_review_text_with_html_stays_text(db):
    at = run()
    assert XSS in [t.value for t in at.text]  # st.text: neither Markdown nor HTML
    assert len(at.get("html")) == 0
    for block in at.markdown:
        assert "<script" not in block.value and "<img" not in block.value


def test_hostile_url_is_not_a_link(db):
    engine, ids = db
    from pipeline.models import Review

    with Session(engine) as session:
        session.get(Review, ids["g1"]).url = "javascript:alert(3)"
        session.commit()
    at = run()
    assert all("javascript" not in b.proto.url for b in at.get("link_button"))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("f_platform", ["trustpilot"], ["Sehr nettes Personal!"]),
        ("f_lang", ["ru"], ["Холодный кофе, долго ждали."]),
        (
            "f_label",
            ["positive", "neutral"],
            ["Anyone tried Central Cafe?", "Sehr nettes Personal!"],
        ),
        (
            "f_aspect",
            ["staff"],
            ["Waited an hour and the staff were rude.", "Sehr nettes Personal!"],
        ),
        ("f_status", ["responded"], ["Demasiado caro para lo que es."]),
        ("f_who", ["anna"], ["Холодный кофе, долго ждали."]),
        ("f_loc", ["riverside"], ["Sehr nettes Personal!"]),
    ],
)
def test_inbox_filters(db, key, value, expected):
    at = run()
    at.multiselect(key=key).set_value(value).run()
    assert not at.exception
    assert card_texts(at) == expected


def test_inbox_search_rating_and_empty_result(db):
    at = run()
    at.text_input(key="f_search").input("RUDE").run()
    assert card_texts(at) == ["Waited an hour and the staff were rude."]
    at.text_input(key="f_search").input("").run()
    at.slider(key="f_rating").set_value((4, 5)).run()
    assert card_texts(at) == ["Sehr nettes Personal!"]
    at.multiselect(key="f_platform").set_value(["yelp"]).run()
    assert at.info[0].value == "Nothing awaits a response with these filters."


def test_open_shows_the_review_in_the_panel(db):
    engine, ids = db
    at = run()
    click(at, f"open-{ids['g2']}")
    assert at.subheader[0].value == f"Review #{ids['g2']}"
    assert at.selectbox(key=f"status-{ids['g2']}").value == "in_progress"
    assert at.text_input(key=f"assignee-{ids['g2']}").value == "anna"


# --- actions -----------------------------------------------------------------------------------


def test_set_status_assign_and_note(db):
    engine, ids = db
    rid = ids["g1"]
    at = run()
    at.selectbox(key=f"status-{rid}").set_value("in_progress")
    click(at, f"set-status-{rid}")
    assert at.success[0].value == "Saved."
    at.text_input(key=f"assignee-{rid}").input("boris")
    click(at, f"assign-{rid}")
    at.text_area(key=f"note-{rid}").input("Called the guest back.")
    click(at, f"add-note-{rid}")
    row = triage_row(engine, rid)
    assert (row.status, row.assignee) == ("in_progress", "boris")
    assert row.notes.endswith("dashboard] Called the guest back.")
    with Session(engine) as session:
        fields = session.scalars(
            select(TriageEvent.field).where(
                TriageEvent.review_id == rid, TriageEvent.actor == "dashboard"
            )
        ).all()
    assert fields == ["status", "assignee", "note"]
    assert "boris" in [m.value for m in at.markdown if "assignee" in m.value][0]


def test_empty_note_is_refused_with_a_message(db):
    engine, ids = db
    rid = ids["g1"]
    at = run()
    click(at, f"add-note-{rid}")
    assert at.error[0].value == "a note cannot be empty"
    assert triage_row(engine, rid).notes is None


def test_correct_label(db):
    engine, ids = db
    rid = ids["g1"]
    at = run()
    at.selectbox(key=f"label-{rid}").set_value("positive")
    click(at, f"save-label-{rid}")
    with Session(engine) as session:
        row = session.get(Sentiment, rid)
        assert (row.label, row.corrected_label, row.corrected_by) == (
            "negative",
            "positive",
            "dashboard",
        )
        assert row.corrected_at is not None


def test_reply_where_the_platform_has_no_api(db):
    engine, ids = db
    rid = ids["t1"]
    at = run()
    click(at, f"open-{rid}")
    assert at.selectbox(key=f"reply-lang-{rid}").value == "de"
    draft = at.code[0].value
    assert draft.startswith("Hallo Author t1, vielen Dank für Ihre freundliche Bewertung")
    links = [b.proto.url for b in at.get("link_button")]
    assert links.count("https://reviews.example/trustpilot/t1") == 3  # card, panel, reply
    assert not any(b.key == f"post-{rid}" for b in at.button)
    click(at, f"responded-{rid}")
    row = triage_row(engine, rid)
    assert row.status == "responded" and row.responded_at is not None


def test_reply_draft_follows_language_and_aspects(db):
    engine, ids = db
    rid = ids["g2"]
    at = run()
    click(at, f"open-{rid}")
    drafts = [a for a in at.text_area if a.key and a.key.startswith(f"reply-{rid}-")]
    assert drafts[0].value.startswith("Здравствуйте, Author g2! Спасибо за отзыв о Central Cafe")
    assert "Качество для нас важно" in drafts[0].value
    at.selectbox(key=f"reply-lang-{rid}").set_value("pl").run()
    drafts = [a for a in at.text_area if a.key and a.key.startswith(f"reply-{rid}-pl")]
    assert drafts[0].value.startswith("Dzień dobry, Author g2!")


def test_post_reply_where_the_platform_has_an_api(db, monkeypatch):
    """Google has a reply API; the real call needs Google, so the client's function is faked
    and the dashboard's part (the text, the actor, the message) is what is checked."""
    import revmon.replies as replies
    from pipeline.triage import mark_responded

    engine, ids = db
    rid = ids["g1"]
    posted = []

    def fake_post(settings, session, review_id, text, actor):
        posted.append((review_id, text, actor))
        mark_responded(session, review_id, datetime.now(UTC), actor)

    monkeypatch.setattr(replies, "post_reply", fake_post)
    at = run()
    draft = next(a for a in at.text_area if a.key and a.key.startswith(f"reply-{rid}-"))
    draft.input("Sorry, we will do better.")
    click(at, f"post-{rid}")
    assert posted == [(rid, "Sorry, we will do better.", "dashboard")]
    assert at.success[0].value == "Reply posted."
    assert triage_row(engine, rid).status == "responded"


def test_post_reply_failure_is_shown_not_raised(db, monkeypatch):
    import revmon.replies as replies
    from crawlers.api.errors import AuthError

    def refuse(*args, **kwargs):
        raise AuthError("google_business", "token expired", "set REVMON_GOOGLE_ACCESS_TOKEN")

    monkeypatch.setattr(replies, "post_reply", refuse)
    engine, ids = db
    at = run()
    click(at, f"post-{ids['g1']}")
    assert at.error[0].value == (
        "The reply was not posted: google_business: token expired. "
        "Fix: set REVMON_GOOGLE_ACCESS_TOKEN"
    )
    assert triage_row(engine, ids["g1"]).status == "new"


# --- trends and sources ------------------------------------------------------------------------


def test_trends_page(db):
    at = run("trends")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Reviews": "7",
        "Average rating": "2.67",
        "Negative": "57%",
        "Review NPS": "-50 (critical)",
        "Response rate": "29%",
        "Median response": "3.8 h",  # 2 h and 5 h, read from the rollups' histogram
        "Secure customers": "0%",
        "Recovery": "0%",
    }
    reviews = next(m for m in at.metric if m.label == "Reviews")
    assert reviews.delta == "+7"  # nothing in the 180 days before
    tables = {tuple(d.value.columns): d.value for d in at.dataframe}
    per_location = next(
        t for cols, t in tables.items()
        if cols[:2] == ("location", "reviews") and "competitor" not in cols and len(t) == 2
    )  # fmt: skip
    assert list(per_location["location"]) == ["Central Cafe", "Riverside Cafe"]
    assert list(per_location["reviews"]) == [5, 2]
    per_platform = next(t for cols, t in tables.items() if cols[0] == "platform")
    assert dict(zip(per_platform["platform"], per_platform["reviews"], strict=True)) == {
        "google": 4, "reddit": 1, "trustpilot": 1, "yelp": 1}  # fmt: skip
    loyalty = next(t for cols, t in tables.items() if "SCI %" in cols)
    assert list(loyalty["location"]) == ["Central Cafe", "Riverside Cafe", "Rival Bistro"]
    assert list(loyalty["competitor"]) == [False, False, True]
    assert list(loyalty["NPS"])[2] == 0.0


def test_trends_filters_and_granularity(db):
    at = run("trends")
    at.multiselect(key="t_loc").set_value(["riverside"]).run()
    assert {m.label: m.value for m in at.metric}["Reviews"] == "2"
    at.radio(key="t_gran").set_value("month").run()
    assert not at.exception
    at.multiselect(key="t_platform").set_value(["reddit"]).run()
    assert at.info[0].value == "No reviews in this range."


def test_sources_page(db):
    at = run("sources")
    assert {m.label: m.value for m in at.metric} == {
        "Sources": "2", "Need attention": "1", "Blocked in the last 7 days": "1"}  # fmt: skip
    table = at.dataframe[0].value
    assert list(table["source"]) == ["google_reviews", "trustpilot"]
    assert list(table["status"]) == ["blocked", "ok"]
    assert list(table["stored"]) == [4, 1]
    assert list(table["completeness"]) == [0.4, 0.25]
    assert list(table["pages failed"]) == [1, 0]
    assert list(table["all pages read"]) == [False, False]
    assert at.expander[0].label == "google\\_reviews · central\\: blocked"
    assert "pages\\: blocked 1, ok 1" in [c.value for c in at.caption]
    assert "captcha at page 2" in [t.value for t in at.text]


def test_every_page_on_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.chdir(tmp_path)
    st.cache_data.clear()
    st.cache_resource.clear()
    assert run().info[0].value == "Nothing awaits a response with these filters."
    assert run("trends").info[0].value == "No reviews in this range."
    assert run("sources").info[0].value.startswith("No crawl has run yet")
    assert run("alerts").info[0].value.startswith("No alert has been queued yet")


def test_inbox_pages_through_many_reviews(db):
    from datetime import timedelta

    from pipeline.models import Review

    engine, ids = db
    now = datetime.now(UTC)
    with Session(engine) as session:
        for i in range(30):
            review = Review(
                platform="twogis", external_id=f"bulk{i}", location_key="central", rating=2.0,
                url=f"https://2gis.example/{i}", text=f"bulk review {i:02d}",
                published_at=now - timedelta(minutes=i), content_hash=f"{i:064x}",
            )  # fmt: skip
            session.add(review)
            session.flush()
            session.add(Triage(review_id=review.id, status="new"))
        session.commit()
    at = run()
    assert at.metric[0].value == "35"
    assert len(card_texts(at)) == 25
    at.number_input(key="inbox_page").set_value(2).run()
    shown = [t.value for t in at.text][:10]
    assert shown == [f"bulk review {i:02d}" for i in range(20, 30)]
    at.multiselect(key="f_platform").set_value(["google"]).run()  # 3 left: back to page 1
    assert not at.exception
    assert at.number_input(key="inbox_page").value == 1
    assert len([t for t in at.text if t.value.startswith("bulk")]) == 0
