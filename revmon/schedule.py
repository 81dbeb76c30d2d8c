"""``revmon crawl --due``: collect the sources whose time has come, under a lease each.

The service (``revmon run``) starts this as a child process whenever a configured source is due;
several service processes on several machines share the schedule in the database, so each source
is collected by one of them, once per its interval (``pipeline.schedule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pipeline.collection import process_owner
from pipeline.schedule import claim_due, next_due, settle
from revmon.collection import CollectSummary, collect
from revmon.runtime import Runtime
from revmon.sources import Source


def collect_due(runtime: Runtime, sources: Sequence[Source]) -> CollectSummary:
    """Take the due sources' leases, collect them, settle their schedule rows."""
    owner = process_owner()
    lease = timedelta(minutes=runtime.settings.service.lease_minutes)
    with runtime.sessions.begin() as session:
        taken = set(claim_due(session, [s.key for s in sources], owner, lease=lease))
    due = [source for source in sources if source.key in taken]
    if not due:
        return CollectSummary([])
    summary = collect(runtime, due)
    statuses = {(run.source, run.target, run.location_key): run.status for run in summary.runs}
    outcomes = {
        s.key: statuses.get((s.kind.name, s.where, s.location_key), "interrupted") for s in due
    }
    intervals = {s.key: timedelta(minutes=s.interval_minutes) for s in due}
    with runtime.sessions.begin() as session:
        settle(session, outcomes, owner, intervals)
    return summary


def due_at(runtime: Runtime, sources: Sequence[Source]) -> datetime | None:
    """When the next of ``sources`` is due (None: never scheduled yet, so due now)."""
    with runtime.sessions() as session:
        return next_due(session, [source.key for source in sources])
