"""The read side for the dashboard: the inbox, trend aggregates and the state of each source.

Every function takes a session and plain, hashable filter values and returns plain dataclasses, so
the dashboard can cache results with ``st.cache_data`` and tests can compare them field by field.
Aggregates run in SQL (the same statements on SQLite and PostgreSQL, with a dialect switch only for
date buckets, durations and JSON arrays), so a million reviews never travel to Python.
"""

from pipeline.queries.alerts import DeadAlert, OutboxStatus, outbox_status
from pipeline.queries.filters import AWAITING, Filters, Granularity, GroupBy, as_utc, count_if
from pipeline.queries.inbox import (
    FilterOptions,
    InboxItem,
    InboxPage,
    filter_options,
    inbox,
    inbox_item,
)
from pipeline.queries.sources import SourceStatus, source_status
from pipeline.queries.trends import (
    NPS_BANDS,
    AspectCount,
    Stats,
    aspect_trend,
    breakdown,
    nps_band,
    period_expr,
    summary,
    trend,
)

__all__ = [
    "AWAITING", "NPS_BANDS", "AspectCount", "DeadAlert", "FilterOptions", "Filters",
    "Granularity", "GroupBy", "InboxItem", "InboxPage", "OutboxStatus", "SourceStatus", "Stats",
    "as_utc", "aspect_trend", "breakdown", "count_if", "filter_options", "inbox", "inbox_item",
    "nps_band", "outbox_status", "period_expr", "source_status", "summary", "trend",
]  # fmt: skip
