"""``revmon report ...``: reports over a window of days (``insights``; more can join)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

report_app = typer.Typer(help="Reports over a window of days.", no_args_is_help=True)


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


@report_app.command("insights")
def report_insights(
    location: Annotated[str | None, typer.Option(help="one location key; all by default")] = None,
    days: Annotated[int, typer.Option(min=1, help="the last N days, up to today")] = 90,
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.json,  # noqa: A002
    rebuild: Annotated[
        bool, typer.Option(help="rebuild the rollups from the raw tables first (after erase)")
    ] = False,
) -> None:
    """Recovery, SCI, NPS, incidents, emerging topics and aspects, as JSON or CSV."""
    from pipeline.insight_report import build, write_csv, write_json
    from revmon.cli import runtime_or_exit

    runtime = runtime_or_exit()
    try:
        with runtime.sessions.begin() as session:
            if rebuild:
                from pipeline.rollups import refresh_rollups

                refresh_rollups(session, full=True)
            report = build(session, location=location, days=days)
    except LookupError as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    (write_json if format is ReportFormat.json else write_csv)(report, sys.stdout)
