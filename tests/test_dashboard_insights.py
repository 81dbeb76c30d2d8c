"""The insight sections of the dashboard through AppTest: Trends' KPI changes, loyalty (NPS, SCI,
recovery), aspects, incidents, emerging topics, the public picture and competitors; the inbox's
incident panel, the check flag and the answer offered to an incident's siblings."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from pipeline.db import make_engine, migrate
from pipeline.insight_models import EmergingTopic, Incident, IncidentMember
from pipeline.models import CrawlRun, Review, ReviewRevision, Sentiment, Triage
from tests.seed_dashboard import seed

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
NOW = datetime.now(UTC).replace(microsecond=0)


def add_insights(session: Session, ids: dict[str, int]) -> dict[str, int]:
    """On top of the dashboard seed: a secure customer, a recovered review, a review from the
    period before, an incident of g1 and g2, an emerging topic and an older crawl run."""
    answered = NOW - timedelta(days=4)
    recovered = Review(
        platform="google", external_id="rec", location_key="central", rating=4.0,
        url="https://reviews.example/rec", text="They fixed it, thank you.", language="en",
        published_at=NOW - timedelta(days=6), reply_at=answered, reply_text="So sorry!",
        changed_at=answered + timedelta(hours=12), content_hash="rec", raw={},
    )  # fmt: skip
    before = Review(
        platform="google", external_id="old", location_key="central", rating=5.0,
        url="https://reviews.example/old", text="Great.", language="en",
        published_at=NOW - timedelta(days=200), content_hash="old", raw={},
    )  # fmt: skip
    session.add_all([recovered, before])
    session.flush()
    session.add(ReviewRevision(review_id=recovered.id, text="Broken cup, awful.", rating=1.0,
                               content_hash="was", seen_from=NOW - timedelta(days=6),
                               replaced_at=answered + timedelta(hours=12)))  # fmt: skip
    for review in (recovered, before):
        session.add(Sentiment(review_id=review.id, label="positive", score=0.8, aspects=["staff"],
                              aspect_polarity={"staff": 1}, sci_satisfied=1, sci_return=1,
                              sci_recommend=1, model_id="m", model_version="1",
                              content_hash=review.content_hash))  # fmt: skip
    incident = Incident(
        first_seen=NOW - timedelta(days=3), last_seen=NOW - timedelta(days=2), size=2,
        platforms=["google"], locations=["central"], aspects=["staff"],
    )  # fmt: skip
    session.add(incident)
    session.flush()
    for key in ("g1", "g2"):
        session.add(IncidentMember(review_id=ids[key], incident_id=incident.id, similarity=0.9))
    session.add(
        EmergingTopic(location_key="central", key="central:karta+terminal",
                      words=["terminal", "karta"], labels={"en": ["terminal"], "pl": ["karta"]},
                      recent_reviews=3, recent_share=0.3, baseline_share=0.02,
                      sample_review_ids=[ids["g1"]], window_start=NOW - timedelta(days=14))
    )  # fmt: skip
    session.add(
        CrawlRun(source="google_reviews", platform="google", location_key="central",
                 started_at=NOW - timedelta(days=20), finished_at=NOW - timedelta(days=20),
                 platform_total=8, platform_rating=4.1, status="ok")
    )  # fmt: skip
    session.get(Sentiment, ids["t1"]).needs_check = True
    session.flush()
    return {"rec": recovered.id, "incident": incident.id}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("insights") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with Session(engine) as session:
        ids = seed(session, NOW)
        ids |= add_insights(session, ids)
        session.commit()
    engine.dispose()
    return path, ids


@pytest.fixture
def db(template, tmp_path, monkeypatch):
    path, ids = template
    copy = tmp_path / "revmon.db"
    shutil.copy(path, copy)
    url = f"sqlite:///{copy}"
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    monkeypatch.delenv("REVMON_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = make_engine(url)
    yield engine, ids
    engine.dispose()


def run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def elements(at: AppTest) -> list:
    """Every element of the page, however deep in columns and containers."""
    found, stack = [], [at._tree]
    while stack:
        children = getattr(stack.pop(), "children", None)
        if isinstance(children, dict):
            found += children.values()
            stack += children.values()
    return found


def table_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_trends_kpis_compare_with_the_period_before(db):
    at = run("trends")
    metrics = {m.label: m for m in at.metric}
    assert metrics["Reviews"].value == "8" and metrics["Reviews"].delta == "+7"  # old: 1 before
    assert metrics["Secure customers"].value == "12%"  # 1 of 8 scored reviews
    assert metrics["Recovery"].value == "50%"  # rec came round; y1 was answered, did not
    assert metrics["Negative"].delta == "+50 pts"  # 4 of 8 now, none scored before


def test_trends_loyalty_incidents_topics_and_the_public_picture(db):
    at = run("trends")
    loyalty = table_with(at, "SCI %")
    central = loyalty.set_index("location").loc["Central Cafe"]
    assert central["SCI %"] == 16.7 and central["recovery %"] == 100.0  # 1 of 6; 1 of 1
    assert central["will return %"] == 16.7 and central["NPS band"] == "critical"
    incidents = table_with(at, "incident")
    assert list(incidents["incident"]) == [f"#{db[1]['incident']}"]
    assert list(incidents["locations"]) == ["Central Cafe"] and list(incidents["reviews"]) == [2]
    topics = table_with(at, "recent %")
    assert list(topics["location"]) == ["Central Cafe"]
    assert list(topics["words"]) == ["terminal · karta"]
    assert list(topics["recent %"]) == [30.0] and list(topics["usual %"]) == [2.0]
    charts = [e for e in elements(at) if getattr(e, "type", None) == "vega_lite_chart"]
    assert len(charts) == 3  # over time, aspects, competitors: one chart each, with a chooser
    side = table_with(at, "NPS band")
    assert "Rival Bistro" in list(side["location"])
    assert "Recovery: 1 of 2 answered negative reviews came round (median 12.0 h" in " ".join(
        c.value for c in at.caption
    )


def test_trends_for_one_location_hides_the_others_incidents(db):
    at = run("trends")
    at.multiselect(key="t_loc").set_value(["riverside"]).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Reviews"] == "2"
    assert "No incidents in this range." in [c.value for c in at.caption]
    assert any("Nothing is emerging" in c.value for c in at.caption)


def test_inbox_shows_the_incident_and_the_check_flag(db):
    engine, ids = db
    at = run()
    headlines = [m.value for m in at.markdown]
    assert any(f"INCIDENT #{ids['incident']}" in h and "★☆☆☆☆" in h for h in headlines)
    assert any(h.startswith(":orange-badge[CHECK]") for h in headlines)  # t1
    at.button(key=f"open-{ids['g1']}").click().run()
    warning = at.warning[0].value
    assert warning.startswith(f"Incident \\#{ids['incident']}\\: 2 reviews")  # escaped
    assert "Холодный кофе, долго ждали." in [t.value for t in at.text]  # the sibling, as text


def test_answer_offered_to_the_siblings_becomes_their_draft(db):
    engine, ids = db
    at = run()
    at.button(key=f"open-{ids['g1']}").click().run()
    draft = next(t for t in at.text_area if t.key.startswith(f"reply-{ids['g1']}-"))
    draft.input("We are sorry: the barista team is being retrained this week.").run()
    at.button(key=f"offer-{ids['g1']}").click().run()
    assert not at.exception
    assert "draft for the 1 other reviews" in at.success[0].value
    with Session(engine) as session:
        stored = session.scalar(select(Incident.answer_text))
        assert stored == "We are sorry: the barista team is being retrained this week."
        assert session.get(Triage, ids["g2"]).status == "in_progress"  # nothing posted for it
    at.button(key=f"open-{ids['g2']}").click().run()
    sibling = next(t for t in at.text_area if t.key.startswith(f"reply-{ids['g2']}-"))
    assert sibling.value == stored


def test_kpi_changes_and_colours():
    from dashboard.trend_view import kpis
    from pipeline.queries import Stats

    now = Stats("all", 10, 10, 4.26, 10, 2, 6, 2, 2, 8, 3.0, sci_secure=3,
                replied_negative=2, recovered=1)  # fmt: skip
    before = Stats("all", 8, 8, 4.0, 8, 4, 2, 2, 4, 4, 5.5)
    row = {k.label: k for k in kpis(now, before)}
    assert (row["Reviews"].value, row["Reviews"].delta) == ("10", "+2")
    assert (row["Average rating"].value, row["Average rating"].delta) == ("4.26", "+0.26")
    assert (row["Negative"].delta, row["Negative"].delta_color) == ("-30 pts", "inverse")
    assert (row["Review NPS"].value, row["Review NPS"].delta) == ("40 (fair)", "+65")
    median = row["Median response"]
    assert (median.delta, median.delta_color) == ("-2.5 h", "inverse")
    assert (row["Secure customers"].value, row["Secure customers"].delta) == ("30%", "+30 pts")
    assert row["Recovery"].value == "50%" and row["Recovery"].delta is None  # none before


def test_trends_from_the_raw_tables_when_asked(db, monkeypatch):
    monkeypatch.setenv("REVMON_TRENDS_SOURCE", "raw")
    at = run("trends")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reviews"] == "8" and metrics["Secure customers"] == "12%"
    assert metrics["Recovery"] == "—"  # recovery is read from the rollups only


def test_the_chart_choosers(db):
    at = run("trends")
    for key, value in (("t_metric", "Review NPS"), ("t_metric", "Secure customers (%)"),
                       ("t_compare", "NPS")):  # fmt: skip
        at.button_group(key=key).set_value(value).run()
        assert not at.exception
    public = table_with(at, "rating over time")
    row = public.set_index(["location", "platform"]).loc[("Central Cafe", "google")]
    assert row["rating shown"] == 3.9 and row["reviews shown"] == 10  # the newest crawl
    assert list(row["rating over time"]) == [4.1, 3.9]
