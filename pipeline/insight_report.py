"""``revmon report insights``: recovery, SCI, NPS, incidents, emerging topics and aspects for a
window, as JSON or as CSV (one ``section, location, id, metric, value`` row per figure).

The rollups are refreshed first, so the report is current; every figure comes from them or
from the small derived tables.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy.orm import Session

from pipeline.incidents import recent_incidents, sample_ids
from pipeline.queries import Filters, breakdown
from pipeline.queries.insights import aspect_sentiment, location_names, recovery
from pipeline.rollups import refresh_rollups
from pipeline.topics import topics_for

CSV_COLUMNS = ("section", "location", "id", "metric", "value")


def window(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Whole UTC days: the last ``days`` days up to the end of today."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    until = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return until - timedelta(days=days), until


def build(
    session: Session, *, location: str | None = None, days: int = 90, now: datetime | None = None
) -> dict[str, Any]:
    """The whole report as plain data (rounded numbers, names beside keys)."""
    if days < 1:
        raise ValueError("--days must be at least 1")
    names = location_names(session)
    if location is not None and location not in names:
        raise LookupError(f"unknown location {location!r}; known: {', '.join(sorted(names))}")
    refresh_rollups(session, now=now)
    since, until = window(days, now)
    places = (location,) if location else ()
    own = Filters(locations=places, since=since, until=until)
    side = Filters(locations=places, since=since, until=until, include_competitors=True)
    per_location = breakdown(session, side, "location")
    return {
        "window": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "days": days,
            "location": location,
        },  # fmt: skip
        "recovery": _recovery(session, own),
        "sci": [_sci(s, names) for s in per_location if s.key],
        "nps": [_nps(s, names) for s in per_location if s.key],
        "incidents": _incidents(session, since, location),
        "emerging_topics": [_topic(t, names) for t in topics_for(session, location)],
        "aspects": [
            {
                "aspect": a.aspect,
                "mentions": a.mentions,
                "positive": a.positive,
                "negative": a.negative,
            }  # fmt: skip
            for a in aspect_sentiment(session, own)
        ],
    }


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _recovery(session: Session, filters: Filters) -> dict[str, Any]:
    figures = recovery(session, filters)
    return {"rate": _share(figures.rate), "replied": figures.replied,
            "recovered": figures.recovered, "median_hours": figures.median_hours}  # fmt: skip


def _sci(stats: Any, names: dict[str, str]) -> dict[str, Any]:
    def part(count: int) -> float | None:
        return _share(count / stats.scored) if stats.scored else None

    return {
        "location": stats.key,
        "name": names.get(stats.key, stats.key),
        "competitor": stats.is_competitor,
        "reviews": stats.scored,
        "share": _share(stats.sci_share),
        "satisfied": part(stats.sci_satisfied),
        "return": part(stats.sci_return),
        "recommend": part(stats.sci_recommend),
    }


def _nps(stats: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "location": stats.key,
        "name": names.get(stats.key, stats.key),
        "competitor": stats.is_competitor,
        "rated": stats.rated,
        "nps": None if stats.nps is None else round(stats.nps, 1),
        "band": stats.nps_band,
    }


def _incidents(session: Session, since: datetime, location: str | None) -> list[dict[str, Any]]:
    return [
        {
            "id": incident.id,
            "size": incident.size,
            "platforms": list(incident.platforms),
            "locations": list(incident.locations),
            "aspects": list(incident.aspects),
            "first_seen": incident.first_seen.isoformat(),
            "last_seen": incident.last_seen.isoformat(),
            "sample_review_ids": sample_ids(session, incident.id),
        }
        for incident in recent_incidents(session, since, location)
    ]


def _topic(topic: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "location": topic.location_key,
        "name": names.get(topic.location_key, topic.location_key),
        "words": list(topic.words),
        "labels": dict(topic.labels),
        "recent_reviews": topic.recent_reviews,
        "recent_share": topic.recent_share,
        "baseline_share": topic.baseline_share,
    }


def write_json(report: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report flattened: one row per figure, lists joined with ``|``."""
    out: list[dict[str, Any]] = []

    def add(section: str, location: Any, ident: Any, values: dict[str, Any]) -> None:
        for metric, value in values.items():
            if isinstance(value, list):
                value = "|".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False)
            out.append({"section": section, "location": location or "", "id": ident,
                        "metric": metric, "value": "" if value is None else value})  # fmt: skip

    add("recovery", report["window"]["location"], "", report["recovery"])
    for name in ("sci", "nps"):
        for row in report[name]:
            add(name, row["location"], "", {k: v for k, v in row.items() if k != "location"})
    for row in report["incidents"]:
        add("incidents", "|".join(row["locations"]), row["id"],
            {k: v for k, v in row.items() if k != "id"})  # fmt: skip
    for i, row in enumerate(report["emerging_topics"], 1):
        add("emerging_topics", row["location"], i,
            {k: v for k, v in row.items() if k != "location"})  # fmt: skip
    for row in report["aspects"]:
        add("aspects", report["window"]["location"], row["aspect"],
            {k: v for k, v in row.items() if k != "aspect"})  # fmt: skip
    return out


def write_csv(report: dict[str, Any], out: TextIO) -> None:
    """CSV rows; a text value that a spreadsheet would run as a formula is quoted."""
    from pipeline.export import _cell

    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows(report):
        writer.writerow({k: _cell(v) for k, v in row.items()})
