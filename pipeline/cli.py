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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file; stdout if absent")
    ] = None,
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


@app.command()
def score(
    batch_size: Annotated[int, typer.Option(min=1, help="texts per model call")] = 64,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Classify reviews that have no sentiment, an older model version, or edited text."""
    from pipeline.scoring import count_pending

    runtime = runtime_or_exit()
    classifier = runtime.classifier
    with runtime.sessions() as session:
        total = count_pending(session, classifier)
    result = _score_with_bar(runtime, total, batch_size, progress)
    typer.echo(
        f"scored {result.scored} reviews with {classifier.model_id} v{classifier.version}: "
        f"{result.negative} negative, {result.mixed} mixed"
    )


def _score_with_bar(runtime: Runtime, total: int, batch_size: int, progress: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from pipeline.scoring import score_pending

    with tqdm(total=total, unit="review", disable=not progress or total == 0) as bar:
        return score_pending(
            runtime.sessions, runtime.classifier, batch_size=batch_size, on_progress=bar.update
        )


@app.command()
def demo(
    dashboard: Annotated[
        bool, typer.Option(help="start the dashboard when done; --no-dashboard exits instead")
    ] = True,
    port: Annotated[
        int, typer.Option(help="port of the local demo site (0: any free port)")
    ] = 8377,
) -> None:
    """The whole loop on bundled demo data: serve, crawl, score, triage, alert, then show."""
    from pipeline.demo import run_demo

    run_demo(settings_or_exit(), port=port, start_dashboard=dashboard)


if __name__ == "__main__":
    app()
