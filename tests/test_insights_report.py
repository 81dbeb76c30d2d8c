"""``revmon report insights`` on a database whose answers are known by construction, on SQLite and
PostgreSQL (the report function) and through the CLI (JSON, CSV, bad input)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pipeline.db import make_engine, migrate, session_factory
from pipeline.insight_report import build
from pipeline.models import Location, Review, ReviewRevision, Sentiment, Triage

NOW = datetime.now(UTC).replace(microsecond=0)


def add(session, n, location, rating, *, label, sci=(0, 0, 0), aspects=None, days=3, **kw):
    at = NOW - timedelta(days=days)
    review = Review(
        platform=kw.get("platform", "google"), external_id=f"k{n}", url=f"https://x/{n}",
        text=f"review {n}", language="en", location_key=location, rating=rating,
        published_at=at, first_seen=at, last_seen=at, raw={}, content_hash=f"h{n}",
        reply_at=kw.get("reply_at"), reply_text="Sorry" if kw.get("reply_at") else None,
        changed_at=kw.get("changed_at"),
    )  # fmt: skip
    session.add(review)
    session.flush()
    aspects = aspects or {}
    session.add(
        Sentiment(review_id=review.id, label=label, score=0.0, aspects=list(aspects),
                  aspect_polarity=aspects, sci_satisfied=sci[0], sci_return=sci[1],
                  sci_recommend=sci[2], model_id="m", model_version="1",
                  content_hash=f"h{n}")
    )  # fmt: skip
    return review


def seed(session: Session) -> None:
    """central: 10 reviews, 4 secure customers, 2 only satisfied, 4 unhappy; 3 unhappy ones
    answered, one of which went from 1 to 4 stars 30 hours after the answer. rival: 2."""
    session.add_all([Location(key="central", name="Central Cafe"),
                     Location(key="rival", name="Rival Bistro", is_competitor=True)])  # fmt: skip
    for n in range(4):
        add(session, n, "central", 5, label="positive", sci=(1, 1, 1), aspects={"staff": 1})
    for n in (4, 5):
        add(session, n, "central", 4, label="positive", sci=(1, 0, 0))
    answered = NOW - timedelta(days=2)
    recovered = add(session, 6, "central", 4, label="positive", reply_at=answered,
                    changed_at=answered + timedelta(hours=30), aspects={"staff": -1})  # fmt: skip
    session.add(ReviewRevision(review_id=recovered.id, text="review 6", rating=1.0,
                               content_hash="old", seen_from=NOW - timedelta(days=3),
                               replaced_at=answered + timedelta(hours=30)))  # fmt: skip
    add(session, 7, "central", 1, label="negative", sci=(-1, -1, 0), reply_at=answered,
        aspects={"staff": -1, "price": -1})  # fmt: skip
    replied_in_queue = add(session, 8, "central", 2, label="negative", sci=(-1, 0, -1))
    session.add(Triage(review_id=replied_in_queue.id, status="responded", responded_at=answered))
    add(session, 9, "central", 3, label="neutral", aspects={"price": 0})
    add(session, 10, "rival", 5, label="positive", sci=(1, 1, 1))
    add(session, 11, "rival", 1, label="negative")
    add(session, 12, "central", 5, label="positive", days=200)  # outside the window
    session.flush()


def test_the_report_gives_the_answers_the_seed_was_built_for(session):
    seed(session)
    report = build(session, days=30, now=NOW)
    assert report["recovery"] == {"rate": 0.3333, "replied": 3, "recovered": 1,
                                  "median_hours": 30.0}  # fmt: skip
    sci = {row["location"]: row for row in report["sci"]}
    assert sci["central"] == {
        "location": "central", "name": "Central Cafe", "competitor": False, "reviews": 10,
        "share": 0.4, "satisfied": 0.6, "return": 0.4, "recommend": 0.4,
    }  # fmt: skip
    assert sci["rival"]["competitor"] and sci["rival"]["share"] == 0.5
    nps = {row["location"]: row for row in report["nps"]}
    # central: 4 five-star (promoters), 3 four-star, 3 of 1-3 stars: (4 - 3) / 10
    assert nps["central"]["nps"] == 10.0 and nps["central"]["band"] == "worrying"
    assert nps["central"]["name"] == "Central Cafe" and nps["central"]["rated"] == 10
    assert nps["rival"] == {"location": "rival", "name": "Rival Bistro", "competitor": True,
                            "rated": 2, "nps": 0.0, "band": "critical"}  # fmt: skip
    aspects = {row["aspect"]: row for row in report["aspects"]}
    assert aspects["staff"] == {"aspect": "staff", "mentions": 6, "positive": 4, "negative": 2}
    assert aspects["price"] == {"aspect": "price", "mentions": 2, "positive": 0, "negative": 1}
    assert report["incidents"] == [] and report["emerging_topics"] == []
    assert report["window"]["days"] == 30


def test_one_location_and_bad_input(session):
    seed(session)
    report = build(session, location="central", days=30, now=NOW)
    assert [row["location"] for row in report["sci"]] == ["central"]
    assert report["recovery"]["replied"] == 3
    assert build(session, location="rival", days=30, now=NOW)["recovery"]["replied"] == 0
    with pytest.raises(LookupError, match="unknown location 'nowhere'"):
        build(session, location="nowhere", now=NOW)
    with pytest.raises(ValueError):
        build(session, days=0, now=NOW)


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'report.db'}"
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine).begin() as session:
        seed(session)
    engine.dispose()
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    monkeypatch.delenv("REVMON_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_cli_json_and_csv(cli_db):
    from revmon.cli import app

    result = CliRunner().invoke(app, ["report", "insights", "--days", "30", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"window", "recovery", "sci", "nps", "incidents", "emerging_topics",
                           "aspects"}  # fmt: skip
    assert report["recovery"]["rate"] == 0.3333
    result = CliRunner().invoke(
        app, ["report", "insights", "--location", "central", "--days", "30", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["section", "location", "id", "metric", "value"]
    values = {(r["section"], r["location"], r["id"], r["metric"]): r["value"] for r in rows}
    assert values[("recovery", "central", "", "rate")] == "0.3333"
    assert values[("sci", "central", "", "share")] == "0.4"
    assert values[("nps", "central", "", "band")] == "worrying"
    assert values[("aspects", "central", "staff", "negative")] == "2"


def test_cli_refuses_an_unknown_location_and_a_bad_format(cli_db):
    from revmon.cli import app

    result = CliRunner().invoke(app, ["report", "insights", "--location", "nowhere"])
    assert result.exit_code == 2 and "unknown location" in result.output
    result = CliRunner().invoke(app, ["report", "insights", "--format", "xml"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["report", "insights", "--days", "0"])
    assert result.exit_code == 2


def test_rebuild_sees_deleted_reviews(cli_db):
    import os

    from sqlalchemy import delete, update

    from revmon.cli import app

    engine = make_engine(os.environ["REVMON_DATABASE_URL"])
    with session_factory(engine).begin() as session:  # scored and triaged days ago
        session.execute(update(Sentiment).values(scored_at=NOW - timedelta(days=3)))
        session.execute(update(Triage).values(updated_at=NOW - timedelta(days=3)))
    first = json.loads(CliRunner().invoke(app, ["report", "insights", "--days", "30"]).stdout)
    with session_factory(engine).begin() as session:
        session.execute(delete(Review).where(Review.external_id == "k7"))  # an erased author
    engine.dispose()
    stale = json.loads(CliRunner().invoke(app, ["report", "insights", "--days", "30"]).stdout)
    assert stale["recovery"]["replied"] == first["recovery"]["replied"] == 3
    result = CliRunner().invoke(app, ["report", "insights", "--days", "30", "--rebuild"])
    assert json.loads(result.stdout)["recovery"]["replied"] == 2
