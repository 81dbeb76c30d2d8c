"""Pieces of the Trends page: KPI figures with their change, and the tables and chart frames,
rounded, with location names instead of keys. Pure functions over query results, so the page
stays a list of sections and the numbers can be checked without Streamlit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipeline.queries import Stats
from pipeline.queries.insights import AspectSentiment, PlatformPoint

NO_LOCATION = "(no location)"
# the Over time chart's choices: label -> (frame column, chart kind)
OVER_TIME = {
    "Volume": ("reviews", "bar"),
    "Average rating": ("avg rating", "line"),
    "Share negative (%)": ("negative %", "line"),
    "Review NPS": ("NPS", "line"),
    "Secure customers (%)": ("SCI %", "line"),
    "Response rate (%)": ("response rate %", "line"),
    "Median response (h)": ("median response h", "bar"),
}
COMPARED = ("avg rating", "negative %", "NPS", "response rate %")


@dataclass(frozen=True)
class Kpi:
    """One figure of the KPI row: its value now, and the change against the period before."""

    label: str
    value: str
    delta: str | None
    delta_color: str  # "normal": up is good, "inverse": up is bad, "off"
    help: str


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _change(now: float | None, before: float | None, unit: str, digits: int) -> str | None:
    if now is None or before is None:
        return None
    return f"{now - before:+.{digits}f}{unit}"


def kpis(current: Stats, previous: Stats) -> list[Kpi]:
    """The KPI row; each delta is the change against the previous period of equal length."""

    def pts(getter: Callable[[Stats], float | None]) -> str | None:
        now, before = getter(current), getter(previous)
        return _change(None if now is None else 100 * now,
                       None if before is None else 100 * before, " pts", 0)  # fmt: skip

    nps = "—" if current.nps is None else f"{current.nps:.0f} ({current.nps_band})"
    return [
        Kpi(
            "Reviews",
            str(current.reviews),
            _change(current.reviews, previous.reviews, "", 0),
            "normal",
            "Reviews and mentions published in the range",
        ),  # fmt: skip
        Kpi(
            "Average rating",
            number(current.avg_rating),
            _change(current.avg_rating, previous.avg_rating, "", 2),
            "normal",
            "Stars, normalised to 1-5",
        ),  # fmt: skip
        Kpi(
            "Negative",
            percent(current.negative_share),
            pts(lambda s: s.negative_share),
            "inverse",
            "Share of scored reviews that are negative",
        ),  # fmt: skip
        Kpi(
            "Review NPS",
            nps,
            _change(current.nps, previous.nps, "", 0),
            "normal",
            "% of 5-star minus % of 1-3 star reviews. 50+ good, below 30 worrying, below 5 "
            "critical",
        ),  # fmt: skip
        Kpi(
            "Response rate",
            percent(current.response_rate),
            pts(lambda s: s.response_rate),
            "normal",
            "Reviews answered publicly or marked responded",
        ),  # fmt: skip
        Kpi(
            "Median response",
            f"{number(current.median_response_hours, 1)} h",
            _change(current.median_response_hours, previous.median_response_hours, " h", 1),
            "inverse",
            "From publication to the first answer",
        ),  # fmt: skip
        Kpi(
            "Secure customers",
            percent(current.sci_share),
            pts(lambda s: s.sci_share),
            "normal",
            "Review-based Secure Customer Index: reviews that show satisfaction, "
            "a will to return and to recommend (Burke)",
        ),  # fmt: skip
        Kpi(
            "Recovery",
            percent(current.recovery_rate),
            pts(lambda s: s.recovery_rate),
            "normal",
            "Of answered negative reviews, the share whose author later raised the "
            "rating or turned the text non-negative",
        ),  # fmt: skip
    ]


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def place(key: str | None, names: dict[str, str]) -> str:
    return NO_LOCATION if not key else names.get(key, key)


def frame(rows: list[Stats], key_name: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per group with the derived figures the charts and tables show, rounded;
    ``names`` turns location keys into the names people know them by."""
    keys = [place(r.key, names) if names is not None else r.key for r in rows]
    return pd.DataFrame(
        {
            key_name: keys,
            "reviews": [r.reviews for r in rows],
            "avg rating": [_round(r.avg_rating, 2) for r in rows],
            "negative %": [_pct(r.negative_share) for r in rows],
            "NPS": [_round(r.nps, 0) for r in rows],
            "NPS band": [r.nps_band for r in rows],
            "response rate %": [_pct(r.response_rate) for r in rows],
            "median response h": [_round(r.median_response_hours, 1) for r in rows],
            "SCI %": [_pct(r.sci_share) for r in rows],
        }
    )


def loyalty(rows: list[Stats], names: dict[str, str]) -> pd.DataFrame:
    """Per location: review NPS with its band beside the review-based SCI and its three parts,
    and recovery (competitors last)."""

    def share(count: int, stats: Stats) -> float | None:
        return _pct(count / stats.scored) if stats.scored else None

    ordered = sorted(rows, key=lambda r: (r.is_competitor, place(r.key, names)))
    return pd.DataFrame(
        {
            "location": [place(r.key, names) for r in ordered],
            "competitor": [r.is_competitor for r in ordered],
            "NPS": [_round(r.nps, 0) for r in ordered],
            "NPS band": [r.nps_band for r in ordered],
            "SCI %": [_pct(r.sci_share) for r in ordered],
            "satisfied %": [share(r.sci_satisfied, r) for r in ordered],
            "will return %": [share(r.sci_return, r) for r in ordered],
            "will recommend %": [share(r.sci_recommend, r) for r in ordered],
            "recovery %": [_pct(r.recovery_rate) for r in ordered],
            "answered negatives": [r.replied_negative for r in ordered],
        }
    )


def aspects(rows: list[AspectSentiment]) -> pd.DataFrame:
    """Praise and complaints per aspect, for a chart that splits the two."""
    return pd.DataFrame(
        {
            "aspect": [r.aspect for r in rows],
            "praised": [r.positive for r in rows],
            "criticised": [r.negative for r in rows],
        }
    )


def public_table(points: list[PlatformPoint]) -> pd.DataFrame:
    """One row per location and platform: the latest displayed rating and count, and their
    course over the range as sparklines (a table draws 72 series faster than a chart)."""
    series: dict[tuple[str, str], list[PlatformPoint]] = {}
    for point in sorted(points, key=lambda p: p.day):
        series.setdefault((point.location_name or NO_LOCATION, point.platform), []).append(point)
    rows = sorted(series.items())
    return pd.DataFrame(
        {
            "location": [key[0] for key, _ in rows],
            "platform": [key[1] for key, _ in rows],
            "rating shown": [_last(p, "rating") for _, p in rows],
            "rating over time": [[x.rating for x in p if x.rating is not None] for _, p in rows],
            "reviews shown": [_last(p, "total") for _, p in rows],
            "count over time": [[x.total for x in p if x.total is not None] for _, p in rows],
        }
    )


def _last(points: list[PlatformPoint], field: str) -> float | int | None:
    values = [getattr(p, field) for p in points if getattr(p, field) is not None]
    return values[-1] if values else None


def side_by_side(rows: list[Stats], names: dict[str, str]) -> pd.DataFrame:
    """Own locations and competitors on the four figures a marketer compares."""
    table = frame(rows, "location", names)
    table["kind"] = ["competitor" if r.is_competitor else "own" for r in rows]
    return table
