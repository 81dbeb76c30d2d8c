"""The dashboard's access to revmon: one cached runtime, cached query results, and the actions.

Pages call these and hold UI only. Reads go through ``st.cache_data`` with a short TTL (the crawler
writes in the background); every action commits in its own transaction and then clears the cached
reads, so the person who acted sees the result at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from pipeline import queries
from pipeline.config import UserConfig
from pipeline.db import read_only
from pipeline.incidents import IncidentView
from pipeline.queries import Filters, insights
from revmon.runtime import Runtime, build_runtime

INBOX_TTL = 30
TRENDS_TTL = 300
REFRESH_TTL = 60  # the rollups are brought up to date at most once a minute per process


def runtime() -> Runtime:
    """The process-wide runtime for the configured database."""
    return _runtime(os.environ.get("REVMON_DATABASE_URL"), os.environ.get("REVMON_CONFIG"))


@st.cache_resource(show_spinner=False)
def _runtime(database_url: str | None, config: str | None) -> Runtime:
    """Keyed by where the data comes from, so a changed environment gets its own engine."""
    return build_runtime()


def _read(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    current = runtime()
    with read_only(current.sessions)() as session:  # never queues behind a crawl's writes
        session.info["trends_source"] = current.settings.trends_source
        return function(session, *args, **kwargs)


@st.cache_data(ttl=INBOX_TTL, show_spinner=False)
def inbox(filters: Filters, limit: int, offset: int) -> queries.InboxPage:
    return _read(queries.inbox, filters, limit=limit, offset=offset)


@st.cache_data(ttl=INBOX_TTL, show_spinner=False)
def inbox_item(review_id: int) -> queries.InboxItem | None:
    return _read(queries.inbox_item, review_id)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def filter_options() -> queries.FilterOptions:
    return _read(queries.filter_options)


@st.cache_data(ttl=REFRESH_TTL, show_spinner=False)
def fresh_rollups() -> str:
    """Bring the rollups up to date before Trends reads them (what changed since the last
    refresh only; the service and ``revmon score`` refresh them too)."""
    from pipeline.rollups import refresh_rollups

    with runtime().sessions.begin() as session:
        return str(refresh_rollups(session))


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def compare_periods(filters: Filters) -> insights.Comparison:
    return _read(insights.compare_periods, filters)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def recovery(filters: Filters) -> insights.RecoveryFigures:
    return _read(insights.recovery, filters)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def aspect_sentiment(filters: Filters) -> list[insights.AspectSentiment]:
    return _read(insights.aspect_sentiment, filters)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def public_picture(filters: Filters, granularity: str = "week") -> list[insights.PlatformPoint]:
    return _read(insights.public_picture, filters, granularity)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def trend_options() -> queries.FilterOptions:
    return _read(insights.trend_options)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def location_names() -> dict[str, str]:
    return _read(insights.location_names)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def incidents(since: datetime, location: str | None = None) -> list[IncidentRow]:
    from pipeline.incidents import recent_incidents

    def rows(session: Session) -> list[IncidentRow]:
        return [
            IncidentRow(
                i.id,
                i.size,
                list(i.platforms),
                list(i.locations),
                list(i.aspects),
                i.first_seen,
                i.last_seen,
            )  # fmt: skip
            for i in recent_incidents(session, since, location)
        ]

    return _read(rows)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def emerging_topics(location: str | None = None) -> list[TopicRow]:
    from pipeline.topics import topics_for

    def rows(session: Session) -> list[TopicRow]:
        return [
            TopicRow(
                t.location_key,
                list(t.words),
                dict(t.labels),
                t.recent_reviews,
                t.recent_share,
                t.baseline_share,
            )  # fmt: skip
            for t in topics_for(session, location)
        ]

    return _read(rows)


@dataclass(frozen=True)
class IncidentRow:
    id: int
    size: int
    platforms: list[str]
    locations: list[str]
    aspects: list[str]
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class TopicRow:
    location_key: str
    words: list[str]
    labels: dict[str, list[str]]
    recent_reviews: int
    recent_share: float
    baseline_share: float


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def summary(filters: Filters) -> queries.Stats:
    return _read(queries.summary, filters)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def trend(filters: Filters, granularity: str) -> list[queries.Stats]:
    return _read(queries.trend, filters, granularity)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def aspect_trend(filters: Filters, granularity: str) -> list[queries.AspectCount]:
    return _read(queries.aspect_trend, filters, granularity)


@st.cache_data(ttl=TRENDS_TTL, show_spinner=False)
def breakdown(filters: Filters, by: str) -> list[queries.Stats]:
    return _read(queries.breakdown, filters, by)


@st.cache_data(ttl=INBOX_TTL, show_spinner=False)
def incident_of(review_id: int) -> IncidentView | None:
    from pipeline.incidents import incident_of as read

    return _read(read, review_id)


@st.cache_data(ttl=INBOX_TTL, show_spinner=False)
def source_status() -> list[queries.SourceStatus]:
    return _read(queries.source_status)


def sign_in(users: Sequence[UserConfig], username: str, password: str) -> UserConfig | None:
    """Check a sign-in; a weak stored hash is upgraded in the same transaction."""
    from pipeline import auth

    with runtime().sessions.begin() as session:
        return auth.sign_in(session, users, username, password)


@st.cache_data(ttl=INBOX_TTL, show_spinner=False)
def outbox_status() -> queries.OutboxStatus:
    return _read(queries.outbox_status)


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    changed: bool = True  # False: the action was accepted but there was nothing to change


def act(action: Callable[[Session], str | bool | None], unchanged: str = "") -> Outcome:
    """Run ``action`` in one transaction; a refusal (bad input, unknown review, unsupported
    platform) comes back as a message for the person, never as a traceback. The action
    returns its message, or False when it changed nothing (then ``unchanged`` is said)."""
    try:
        with runtime().sessions.begin() as session:
            result = action(session)
    except (ValueError, LookupError, RuntimeError) as exc:
        return Outcome(False, str(exc))
    if result is False:
        return Outcome(True, unchanged or "Nothing changed.", changed=False)
    st.cache_data.clear()
    return Outcome(True, result if isinstance(result, str) else "Saved.")


def set_status(review_id: int, status: str, actor: str) -> Outcome:
    from pipeline import triage

    return act(
        lambda s: triage.set_status(s, review_id, status, actor),
        f"Nothing changed: the status is already {status}.",
    )


def assign(review_id: int, assignee: str | None, actor: str) -> Outcome:
    from pipeline import triage

    who = (assignee or "").strip()
    return act(
        lambda s: triage.assign(s, review_id, assignee, actor),
        f"Nothing changed: already assigned to {who}." if who else "Nothing changed: unassigned.",
    )


def add_note(review_id: int, note: str, actor: str) -> Outcome:
    from pipeline import triage

    return act(lambda s: triage.add_note(s, review_id, note, actor))


def correct_label(review_id: int, label: str, actor: str) -> Outcome:
    from pipeline import scoring

    return act(
        lambda s: scoring.correct_label(s, review_id, label, actor),
        f"Nothing changed: the label is already corrected to {label}.",
    )


def mark_responded(review_id: int, actor: str, text: str | None = None) -> Outcome:
    """Mark answered on the platform's site, keeping the reply that was pasted (or drafted)."""
    from pipeline import triage

    return act(
        lambda s: triage.mark_responded(s, review_id, datetime.now(UTC), actor, text),
        "Nothing changed: already marked responded with this reply.",
    )


def supports_reply(platform: str) -> bool:
    """Whether revmon can post a reply on ``platform`` (False until the reply API exists)."""
    try:
        from revmon.replies import supports_reply as supported
    except ImportError:
        return False
    return bool(supported(platform))


def offer_to_siblings(review_id: int, text: str, actor: str) -> Outcome:
    """Keep this answer on the review's incident: each sibling's reply draft starts from it."""
    from pipeline.incidents import remember_answer

    def _offer(session: Session) -> str:
        siblings = remember_answer(session, review_id, text, actor)
        return f"The answer is now the draft for the {siblings} other reviews of the incident."

    return act(_offer)


def post_reply(review_id: int, text: str, actor: str) -> Outcome:
    """Post on the platform; its refusal (auth, too long, rejected, network) is a message."""
    from crawlers.api.errors import ApiError
    from revmon import replies

    settings = runtime().settings

    def _post(session: Session) -> str:
        replies.post_reply(settings, session, review_id, text, actor)
        return "Reply posted."

    try:
        return act(_post)
    except ApiError as exc:
        return Outcome(False, f"The reply was not posted: {exc}")


def requeue_dead(channel: str | None) -> Outcome:
    """An admin's re-queue of dead alerts once their channel is fixed; each is still sent once."""
    from pipeline.outbox import requeue_dead as requeue

    def _requeue(session: Session) -> str | bool:
        count = requeue(session, channel=channel)
        return (
            f"Re-queued {count} dead alerts; the next alerts pass delivers them."
            if count
            else False
        )

    return act(_requeue, "Nothing changed: there are no dead alerts to re-queue.")
