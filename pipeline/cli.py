"""The ``revmon`` command line (Typer). Each command wires a runtime and calls one module.

Commands: init, crawl, demo, score, export, dashboard (and those other modules register below).
Errors a user can fix (a bad config, a missing token) are printed as one clear line and exit 2;
they are never shown as a traceback.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from pipeline.config import Settings, load_settings
from pipeline.runtime import Runtime, build_runtime

app = typer.Typer(
    name="revmon",
    help="Self-hosted review and reputation monitoring: collect, score, triage, alert, show.",
    no_args_is_help=True,
    add_completion=False,
)


def settings_or_exit() -> Settings:
    """Load the settings, turning a bad config into a one-line message naming the field."""
    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors()
        )
        typer.secho(f"revmon: bad configuration: {problems}", err=True, fg="red")
        raise typer.Exit(2) from None
    except (FileNotFoundError, ValueError) as exc:
        typer.secho(f"revmon: bad configuration: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def runtime_or_exit(settings: Settings | None = None) -> Runtime:
    settings = settings or settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return build_runtime(settings)


@app.command()
def init() -> None:
    """Create or migrate the database and load the configured locations."""
    runtime = runtime_or_exit()
    typer.echo(f"database ready: {runtime.engine.url.render_as_string(hide_password=True)}")
    typer.echo(f"locations: {len(runtime.settings.locations)}")


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command()
def export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.jsonl,  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file; stdout if absent")] = None,
) -> None:
    """Export every review with its sentiment and triage state as JSON lines or CSV."""
    from pipeline.export import iter_records, write_csv, write_jsonl

    runtime = runtime_or_exit()
    write = write_jsonl if format is ExportFormat.jsonl else write_csv
    with runtime.sessions() as session:
        if output is None:
            count = write(iter_records(session), sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = write(iter_records(session), out)
    typer.echo(f"exported {count} reviews", err=True)


if __name__ == "__main__":
    app()
