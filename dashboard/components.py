"""Widgets the pages share: the filter sidebar and safe ways to show untrusted review content.

Review text, titles, authors, notes and URLs come from strangers on the internet. They are shown
with ``st.text`` (no Markdown, no HTML), put into Markdown only through :func:`md_escape`, and a
URL becomes a link only when it is http(s).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import streamlit as st

from dashboard import data
from pipeline import queries
from pipeline.models import TRIAGE_STATUSES
from pipeline.queries import AWAITING, Filters, as_utc

LABELS = ("negative", "neutral", "positive")
ASPECTS = (
    "staff", "wait_time", "price", "quality", "cleanliness", "delivery", "billing", "app_website",
)  # fmt: skip
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")


def md_escape(value: object) -> str:
    """Text that Markdown and HTML show literally (every special character backslash-escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) with a host; a ``javascript:`` or ``data:`` link never renders."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def stars(rating: float | None) -> str:
    return "no rating" if rating is None else f"{'★' * round(rating)}{'☆' * (5 - round(rating))}"


def when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def due_text(due_at: datetime | None, overdue: bool, now: datetime | None = None) -> str:
    """'overdue by 5 h' / 'due in 2 d' / 'no deadline'."""
    if due_at is None:
        return "no deadline"
    delta = due_at - (now or datetime.now(UTC))
    hours = abs(delta.total_seconds()) / 3600
    span = f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"
    return f"overdue by {span}" if overdue else f"due in {span}"


def location_choices(
    include_competitors: bool, options: queries.FilterOptions | None = None
) -> dict[str, str]:
    """key -> shown name, competitors marked."""
    options = options or data.filter_options()
    return {
        key: f"{name} (competitor)" if competitor else name
        for key, name, competitor in options.locations
        if include_competitors or not competitor
    }


def date_range(key: str, default_days: int | None) -> tuple[datetime | None, datetime | None]:
    """A date-range picker as UTC bounds [since, until)."""
    today = datetime.now(UTC).date()
    default: tuple[date, ...] = (
        (today - timedelta(days=default_days), today) if default_days else ()
    )
    picked = st.sidebar.date_input("Published between", value=default, key=key)
    picked = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
    since = as_utc(picked[0]) if len(picked) >= 1 else None
    until = as_utc(picked[1]) + timedelta(days=1) if len(picked) == 2 else None
    return since, until


def inbox_filters() -> Filters:
    """The inbox's sidebar: every filter the brief lists, all optional."""
    options = data.filter_options()
    sidebar = st.sidebar
    sidebar.header("Filters")
    places = location_choices(include_competitors=False)
    locations = sidebar.multiselect("Location", list(places), format_func=places.get, key="f_loc")
    platforms = sidebar.multiselect("Platform", options.platforms, key="f_platform")
    languages = sidebar.multiselect("Language", options.languages, key="f_lang")
    labels = sidebar.multiselect("Sentiment", LABELS, key="f_label")
    low, high = sidebar.slider("Rating", 1, 5, (1, 5), key="f_rating")
    aspects = sidebar.multiselect("Aspect", ASPECTS, key="f_aspect")
    statuses = sidebar.multiselect("Status", TRIAGE_STATUSES, default=AWAITING, key="f_status")
    people = {"": "(unassigned)", **{name: name for name in options.assignees}}
    assignees = sidebar.multiselect("Assignee", list(people), format_func=people.get, key="f_who")
    search = sidebar.text_input("Text contains", key="f_search").strip() or None
    since, until = date_range("f_dates", default_days=None)
    return Filters(
        locations=tuple(locations),
        platforms=tuple(platforms),
        languages=tuple(languages),
        labels=tuple(labels),
        aspects=tuple(aspects),
        statuses=tuple(statuses),
        assignees=tuple(assignees),
        min_rating=None if low == 1 else float(low) - 0.5,
        max_rating=None if high == 5 else float(high) + 0.49,
        since=since,
        until=until,
        search=search,
    )
