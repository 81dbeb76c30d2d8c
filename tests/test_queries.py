"""The dashboard's read side on a hand-countable database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline.queries import (
    AspectCount,
    Filters,
    aspect_trend,
    breakdown,
    filter_options,
    inbox,
    inbox_item,
    nps_band,
    source_status,
    summary,
    trend,
)
from tests.seed_dashboard import NOW, XSS, seed


@pytest.fixture
def ids(session):
    return seed(session)


def order(page, ids):
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item.review_id] for item in page.items]


def test_inbox_puts_overdue_first_then_urgency(session, ids):
    page = inbox(session, now=NOW)
    assert order(page, ids) == ["g1", "x1", "g2", "m1", "t1"]
    assert (page.total, page.overdue) == (5, 1)
    first = page.items[0]
    assert first.overdue and first.status == "new" and first.assignee is None
    assert first.location_name == "Central Cafe" and first.location_key == "central"
    assert first.platform == "google" and first.rating == 1.0 and first.language == "en"
    assert first.aspects == ["staff", "wait_time"] and first.signals == ["health"]
    assert first.urgency == 80 and first.label == "negative" and first.score == -0.8
    assert first.url == "https://reviews.example/google/g1"
    assert first.due_at == NOW - timedelta(days=1) and first.published_at == NOW - timedelta(days=3)
    assert page.items[1].text == XSS  # stored and returned verbatim; escaping is the view's job


def test_inbox_pages(session, ids):
    page = inbox(session, now=NOW, limit=2, offset=2)
    assert order(page, ids) == ["g2", "m1"]
    assert page.total == 5
    assert inbox(session, now=NOW, offset=10).items == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(locations=("central",)), ["g1", "x1", "g2", "m1"]),
        (Filters(platforms=("trustpilot", "reddit")), ["m1", "t1"]),
        (Filters(languages=("ru",)), ["g2"]),
        (Filters(labels=("negative",)), ["g1", "x1", "g2"]),
        (Filters(aspects=("staff",)), ["g1", "t1"]),
        (Filters(aspects=("quality", "wait_time")), ["g1", "g2"]),
        (Filters(assignees=("",)), ["g1", "x1", "m1", "t1"]),
        (Filters(assignees=("anna",)), ["g2"]),
        (Filters(max_rating=2.0), ["g1", "x1", "g2"]),
        (Filters(min_rating=4.5), ["t1"]),
        (Filters(since=NOW - timedelta(days=2, hours=12)), ["x1", "g2", "m1"]),
        (Filters(until=NOW - timedelta(days=2, hours=12)), ["g1", "t1"]),
        (Filters(search="RUDE"), ["g1"]),
        (Filters(search="100%_"), []),
        (Filters(statuses=("responded", "ignored")), ["y1"]),
        (Filters(locations=("nowhere",)), []),
    ],
)
def test_inbox_filters(session, ids, filters, expected):
    assert order(inbox(session, filters, now=NOW), ids) == expected


def test_corrected_label_wins(session, ids):
    item = inbox_item(session, ids["y1"], now=NOW)
    assert (item.label, item.model_label, item.corrected_label) == (
        "negative",
        "neutral",
        "negative",
    )
    assert item.status == "responded" and item.responded_at is not None and not item.overdue
    assert inbox_item(session, ids["g3"]) is None  # not in the queue: no triage row
    assert inbox_item(session, 10**9) is None


def test_filter_options(session, ids):
    options = filter_options(session)
    assert options.locations == [
        ("central", "Central Cafe", False),
        ("rival", "Rival Bistro", True),
        ("riverside", "Riverside Cafe", False),
    ]
    assert options.platforms == ["google", "reddit", "trustpilot", "yelp"]
    assert options.languages == ["de", "en", "es", "pl", "ru"]
    assert options.assignees == ["anna"]


def test_summary_counts_every_figure(session, ids):
    stats = summary(session, Filters())
    assert (stats.reviews, stats.rated, stats.scored) == (7, 6, 7)
    assert stats.avg_rating == pytest.approx(16 / 6)
    assert (stats.negative, stats.negative_share) == (4, pytest.approx(4 / 7))
    assert (stats.promoters, stats.passives, stats.detractors) == (1, 1, 4)
    assert stats.nps == pytest.approx(-50.0) and stats.nps_band == "critical"
    assert (stats.responded, stats.response_rate) == (2, pytest.approx(2 / 7))
    assert stats.median_response_hours == pytest.approx(3.5)
    assert summary(session, Filters(include_competitors=True)).reviews == 9


def test_summary_of_nothing(session, ids):
    stats = summary(session, Filters(locations=("nowhere",)))
    assert stats.reviews == 0 and stats.nps is None and stats.response_rate is None
    assert stats.negative_share is None and stats.median_response_hours is None


def test_weekly_trend(session, ids):
    weeks = {s.key: s for s in trend(session, Filters(), "week")}
    assert list(weeks) == ["2026-03-02", "2026-03-09", "2026-03-16"]
    first, second, third = weeks.values()
    assert (first.reviews, first.avg_rating, first.negative, first.nps) == (3, 4.0, 1, 0.0)
    assert first.nps_band == "critical" and first.responded == 2
    assert first.median_response_hours == pytest.approx(3.5)
    assert (second.reviews, second.negative, second.detractors, second.nps) == (3, 3, 3, -100.0)
    assert second.avg_rating == pytest.approx(4 / 3) and second.median_response_hours is None
    assert (third.reviews, third.rated, third.avg_rating, third.nps) == (1, 0, None, None)


def test_daily_and_monthly_trend(session, ids):
    days = [(s.key, s.reviews) for s in trend(session, Filters(), "day")]
    assert days == [("2026-03-06", 3), ("2026-03-13", 1), ("2026-03-14", 1), ("2026-03-15", 1),
                    ("2026-03-16", 1)]  # fmt: skip
    assert [(s.key, s.reviews) for s in trend(session, Filters(), "month")] == [("2026-03-01", 7)]
    with pytest.raises(ValueError, match="granularity"):
        trend(session, Filters(), "year")


def test_aspect_trend(session, ids):
    counts = aspect_trend(session, Filters(), "week")
    w1, w2 = date(2026, 3, 2), date(2026, 3, 9)
    assert counts == [
        AspectCount(w1, "price", 1, 1),
        AspectCount(w1, "quality", 1, 0),
        AspectCount(w1, "staff", 1, 0),
        AspectCount(w2, "quality", 1, 1),
        AspectCount(w2, "staff", 1, 1),
        AspectCount(w2, "wait_time", 1, 1),
    ]
    only_rival = aspect_trend(session, Filters(locations=("rival",)), "week")
    assert only_rival == []


def test_breakdown_by_location_with_competitors(session, ids):
    rows = {s.key: s for s in breakdown(session, Filters(include_competitors=True), "location")}
    assert list(rows) == ["central", "rival", "riverside"]
    central, rival, riverside = rows.values()
    assert (central.reviews, central.rated, central.avg_rating) == (5, 4, 2.0)
    assert central.nps == -75.0 and not central.is_competitor
    assert (rival.reviews, rival.nps, rival.nps_band, rival.is_competitor) == (
        2,
        0.0,
        "critical",
        True,
    )
    assert (riverside.reviews, riverside.responded) == (2, 1)
    assert riverside.median_response_hours == pytest.approx(5.0)


def test_breakdown_by_platform(session, ids):
    rows = {s.key: s.reviews for s in breakdown(session, Filters(), "platform")}
    assert rows == {"google": 4, "reddit": 1, "trustpilot": 1, "yelp": 1}
    with pytest.raises(ValueError, match="location or platform"):
        breakdown(session, Filters(), "author")


@pytest.mark.parametrize(
    ("nps", "band"),
    [(100, "good"), (50, "good"), (49.9, "fair"), (30, "fair"), (29.9, "worrying"),
     (5, "worrying"), (4.9, "critical"), (-100, "critical"), (None, None)],
)  # fmt: skip
def test_nps_bands(nps, band):
    assert nps_band(nps) == band


def test_source_status(session, ids):
    google, trustpilot = source_status(session, now=NOW)
    assert (google.source, google.platform, google.location_key) == (
        "google_reviews", "google", "central")  # fmt: skip
    assert (google.status, google.errors, google.error_log, google.pages) == (
        "blocked", 1, ["captcha at page 2"], 2)  # fmt: skip
    assert (google.pages_failed, google.outcomes, google.complete) == (
        1, {"ok": 1, "blocked": 1}, False)  # fmt: skip
    assert (google.runs_recent, google.blocked_recent, google.failed_recent) == (2, 1, 0)
    assert (google.platform_total, google.platform_rating, google.stored) == (10, 3.9, 4)
    assert google.completeness == pytest.approx(0.4)
    assert google.started_at == NOW - timedelta(hours=3)
    assert (trustpilot.status, trustpilot.runs_recent, trustpilot.stored) == ("ok", 0, 1)
    assert trustpilot.completeness == pytest.approx(0.25)


def test_source_status_without_runs(session):
    assert source_status(session, now=NOW) == []
