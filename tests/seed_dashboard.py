"""A small, hand-countable database for the read-side and dashboard tests.

Every expected number in tests/test_queries.py and tests/test_dashboard*.py follows from the rows
below; change a row and update the expectations with it. ``NOW`` is a Monday noon (UTC).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.models import CrawlRun, Location, Review, Sentiment, Triage

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"

LOCATIONS = [
    ("central", "Central Cafe", False),
    ("riverside", "Riverside Cafe", False),
    ("rival", "Rival Bistro", True),
]


# external_id: platform, location, rating, language, text, published, label, corrected, aspects,
# urgency, triage (status, assignee, due, responded) or None, reply_at
def reviews(now: datetime = NOW) -> dict[str, dict[str, Any]]:
    """The seeded reviews, dated relative to ``now``."""
    NOW = now  # noqa: N806 (the table below reads like the expectations in the tests)
    return {
        "g1": dict(platform="google", loc="central", rating=1.0, lang="en",
                   text="Waited an hour and the staff were rude.", at=NOW - timedelta(days=3),
                   label="negative", aspects=["staff", "wait_time"], urgency=80,
                   triage=("new", None, NOW - timedelta(days=1), None)),
        "g2": dict(platform="google", loc="central", rating=2.0, lang="ru",
                   text="Холодный кофе, долго ждали.", at=NOW - timedelta(days=2),
                   label="negative", aspects=["quality"], urgency=60,
                   triage=("in_progress", "anna", NOW + timedelta(days=1), None)),
        "x1": dict(platform="google", loc="central", rating=1.0, lang="en", text=XSS,
                   at=NOW - timedelta(days=1), label="negative", aspects=[], urgency=90,
                   triage=("new", None, NOW + timedelta(hours=2), None)),
        "m1": dict(platform="reddit", loc="central", rating=None, lang="en", kind="mention",
                   text="Anyone tried Central Cafe?", at=NOW - timedelta(hours=2),
                   label="neutral", aspects=[], urgency=10, triage=("new", None, None, None)),
        "t1": dict(platform="trustpilot", loc="riverside", rating=5.0, lang="de",
                   text="Sehr nettes Personal!", at=NOW - timedelta(days=10),
                   label="positive", aspects=["staff"], urgency=5,
                   triage=("new", None, None, None)),
        "y1": dict(platform="yelp", loc="riverside", rating=3.0, lang="es",
                   text="Demasiado caro para lo que es.", at=NOW - timedelta(days=10),
                   label="neutral", corrected="negative", aspects=["price"], urgency=30,
                   triage=("responded", "anna", NOW - timedelta(days=9),
                           NOW - timedelta(days=10) + timedelta(hours=5))),
        "g3": dict(platform="google", loc="central", rating=4.0, lang="pl",
                   text="Dobra kawa, trochę drogo.", at=NOW - timedelta(days=10),
                   label="positive", aspects=["quality"], urgency=0, triage=None,
                   reply_at=NOW - timedelta(days=10) + timedelta(hours=2)),
        "r1": dict(platform="google", loc="rival", rating=5.0, lang="en", text="Lovely place.",
                   at=NOW - timedelta(days=2), label="positive", aspects=[], urgency=0,
                   triage=None),
        "r2": dict(platform="google", loc="rival", rating=1.0, lang="en", text="Never again.",
                   at=NOW - timedelta(days=2), label="negative", aspects=[], urgency=50,
                   triage=None),
    }  # fmt: skip


def seed(session: Session, now: datetime = NOW) -> dict[str, int]:
    """Insert the rows above; return review ids by external id."""
    for key, name, competitor in LOCATIONS:
        session.add(Location(key=key, name=name, is_competitor=competitor))
    ids = {ext_id: _add_review(session, ext_id, spec) for ext_id, spec in reviews(now).items()}
    _add_runs(session, now)
    session.flush()
    return ids


def _add_review(session: Session, external_id: str, spec: dict[str, Any]) -> int:
    digest = hashlib.sha256(spec["text"].encode()).hexdigest()
    review = Review(
        platform=spec["platform"],
        external_id=external_id,
        kind=spec.get("kind", "review"),
        location_key=spec["loc"],
        url=f"https://reviews.example/{spec['platform']}/{external_id}",
        author=f"Author {external_id}",
        rating=spec["rating"],
        text=spec["text"],
        language=spec["lang"],
        published_at=spec["at"],
        reply_text="Thank you!" if spec.get("reply_at") else None,
        reply_at=spec.get("reply_at"),
        raw={},
        content_hash=digest,
    )
    session.add(review)
    session.flush()
    session.add(
        Sentiment(
            review_id=review.id,
            label=spec["label"],
            score=-0.8 if spec["label"] == "negative" else 0.5,
            probs={},
            aspects=spec["aspects"],
            signals=["health"] if external_id == "g1" else [],
            urgency=spec["urgency"],
            model_id="test-model",
            model_version="1",
            content_hash=digest,
            corrected_label=spec.get("corrected"),
            corrected_by="lead" if spec.get("corrected") else None,
        )
    )
    if spec["triage"]:
        status, assignee, due_at, responded_at = spec["triage"]
        session.add(
            Triage(
                review_id=review.id,
                status=status,
                assignee=assignee,
                due_at=due_at,
                responded_at=responded_at,
            )
        )
    return review.id


def _add_runs(session: Session, now: datetime) -> None:
    NOW = now  # noqa: N806
    google = dict(source="google_reviews", platform="google", location_key="central",
                  target="https://maps.example/central")  # fmt: skip
    session.add(
        CrawlRun(**google, started_at=NOW - timedelta(days=2), finished_at=NOW - timedelta(days=2),
                 items=4, new=4, pages=1, platform_total=10, platform_rating=3.9, status="ok")
    )  # fmt: skip
    session.add(
        CrawlRun(**google, started_at=NOW - timedelta(hours=3),
                 finished_at=NOW - timedelta(hours=3), items=0, errors=1, pages=2,
                 pages_failed=1, outcomes={"ok": 1, "blocked": 1}, status="blocked",
                 error_log=["captcha at page 2"])
    )  # fmt: skip
    session.add(
        CrawlRun(source="trustpilot", platform="trustpilot", location_key="riverside",
                 target="https://trustpilot.example/review/riverside",
                 started_at=NOW - timedelta(days=9),
                 finished_at=NOW - timedelta(days=9), items=1, new=1, pages=1, platform_total=4,
                 platform_rating=4.5, status="ok")
    )  # fmt: skip
