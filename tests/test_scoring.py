"""Scoring runs with the real bundled model, on both databases: what gets (re-)scored and when."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.items import ReviewItem
from pipeline.ingest import ingest_items
from pipeline.models import Review, Sentiment
from pipeline.scoring import correct_label, count_pending, score_pending, training_examples

pytestmark = pytest.mark.slow
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def classifier():
    from sentiment import load_classifier

    return load_classifier(None)


def review(n: int, text: str, rating: float | None, **extra: object) -> ReviewItem:
    return ReviewItem(
        platform="trustpilot",
        external_id=f"s-{n}",
        url=f"https://example.com/{n}",
        text=text,
        published_at="2026-11-01T10:00:00Z",
        rating=rating,
        language="en",
        **extra,
    )


SAMPLE = [
    review(1, "Terrible. Food poisoning after the chicken sandwich, I am calling my lawyer.", 1),
    review(2, "Wonderful staff and the best flat white in town.", 5),
    review(3, "Świetna obsługa, polecam!", 5),
    review(4, "Ужасное обслуживание, ждали час.", 2),
    review(5, "The food was cold, the waiter was rude and we waited an hour for the bill.", 5),
    review(6, "", 4),
]


def labels(session: Session) -> dict[str, Sentiment]:
    rows = session.execute(select(Review.external_id, Sentiment).join(Sentiment)).all()
    return {external_id: sentiment for external_id, sentiment in rows}


def test_scores_everything_once(sessions: sessionmaker[Session], classifier) -> None:
    with sessions.begin() as session:
        ingest_items(session, SAMPLE, now=T0)
    progress: list[int] = []
    result = score_pending(sessions, classifier, chunk=4, on_progress=progress.append)
    assert result.scored == 6 and progress == [4, 2]
    with sessions() as session:
        scored = labels(session)
        assert count_pending(session, classifier) == 0
    assert scored["s-1"].label == "negative" and scored["s-1"].urgency >= 70
    assert "health" in scored["s-1"].signals
    assert scored["s-2"].label == "positive" and scored["s-3"].label == "positive"
    assert scored["s-4"].label == "negative"
    assert scored["s-5"].mixed  # 5 stars, negative text: likely a misclick, a person should look
    assert scored["s-6"].label in {"neutral", "positive"}  # no text: the rating speaks
    assert all(s.model_id == classifier.model_id for s in scored.values())
    assert all(-1.0 <= s.score <= 1.0 for s in scored.values())
    assert abs(sum(scored["s-2"].probs.values()) - 1.0) < 0.01
    assert score_pending(sessions, classifier).scored == 0


def test_edit_and_version_bump_trigger_rescoring(
    sessions: sessionmaker[Session], classifier
) -> None:
    with sessions.begin() as session:
        ingest_items(session, SAMPLE[:3], now=T0)
    score_pending(sessions, classifier)
    with sessions.begin() as session:
        ingest_items(session, [review(2, "Cold coffee and a rude barista. Never again.", 1)])
    assert score_pending(sessions, classifier).scored == 1
    with sessions() as session:
        assert labels(session)["s-2"].label == "negative"

    bumped = copy.copy(classifier)
    bumped.version = classifier.version + "-next"
    assert score_pending(sessions, bumped).scored == 3
    with sessions() as session:
        assert {s.model_version for s in labels(session).values()} == {bumped.version}


def test_correction_survives_rescoring_and_feeds_training(
    sessions: sessionmaker[Session], classifier
) -> None:
    with sessions.begin() as session:
        ingest_items(session, [*SAMPLE[:2], review(7, "It was fine I guess", 3)], now=T0)
    score_pending(sessions, classifier)
    with sessions.begin() as session:
        review_id = session.scalar(select(Review.id).where(Review.external_id == "s-7"))
        correct_label(session, review_id, "negative", actor="anna")
        with pytest.raises(ValueError, match="label must be one of"):
            correct_label(session, review_id, "angry", actor="anna")
    bumped = copy.copy(classifier)
    bumped.version = classifier.version + "-next"
    score_pending(sessions, bumped)
    with sessions() as session:
        corrected = labels(session)["s-7"]
        assert corrected.corrected_label == "negative" and corrected.corrected_by == "anna"
        examples = dict(training_examples(session))
    assert examples["It was fine I guess"] == "negative"  # the correction, though rated 3
    assert examples[SAMPLE[0].text] == "negative"  # 1 star
    assert examples[SAMPLE[1].text] == "positive"  # 5 stars


def test_revmon_score_command(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.db import make_engine, migrate, session_factory
    from revmon.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine).begin() as session:
        ingest_items(session, SAMPLE[:4], now=T0)
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["score", "--no-progress", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "scored 4 reviews" in result.output and "2 negative" in result.output
    again = CliRunner().invoke(app, ["score", "--no-progress"])
    assert "scored 0 reviews" in again.output
