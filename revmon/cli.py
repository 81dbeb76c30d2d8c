"""The ``revmon`` command line (Typer). Each command wires a runtime and calls one module.

Commands follow the data: init, crawl, collect, score, alerts, run, dashboard, reply; then demo,
export, and the `sentiment` and `user` groups. Each body is small: the work lives in its module.
Errors a user can fix (a bad config, a missing token) are printed as one clear line and exit 2;
they are never shown as a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from pipeline.config import SentimentPrecision, Settings, load_settings
from revmon.report_cli import report_app
from revmon.runtime import Runtime, build_runtime

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
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl" on every command
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
def crawl(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="platforms, spider names or location keys; all sources by default"),
    ] = None,
    full: Annotated[bool, typer.Option(help="page to the end, past stored reviews")] = False,
) -> None:
    """Run the spiders for the configured sources in one Scrapy process and store the reviews."""
    from revmon.crawl import crawl_configured

    runtime = runtime_or_exit()
    try:
        summary = crawl_configured(runtime, sources or (), full=full)
    except ValueError as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo("\n".join(summary.lines))
    if summary.troubled:  # a failed or blocked source: exit 1, so cron and the service notice
        raise typer.Exit(1)


@app.command()
def collect(
    platform: Annotated[str, typer.Argument(help="API client, e.g. google_business, app_store")],
    target: Annotated[str, typer.Argument(help="e.g. accounts/1/locations/2, pl/987654321")],
    base_url: Annotated[str | None, typer.Option(help="talk to this host instead")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-O", help="also write JSON lines")
    ] = None,
    location: Annotated[str | None, typer.Option(help="location key for the items")] = None,
    full: Annotated[bool, typer.Option(help="do not stop at already stored reviews")] = False,
) -> None:
    """Run one official API client for one target and store its reviews or mentions."""
    from crawlers.api.errors import ApiError
    from revmon.collect import collect as run_collect

    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl" on every command
    try:
        result = run_collect(
            settings,
            platform,
            target,
            base_url=base_url,
            out=output,
            location_key=location,
            full=full,
        )
    except ApiError as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(result.summary())
    for message in result.error_messages:
        typer.secho(f"  error: {message}", err=True, fg="yellow")
    if result.status != "ok":
        raise typer.Exit(1)


@app.command()
def score(
    batch_size: Annotated[int, typer.Option(min=1, help="texts per model call")] = 64,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Classify reviews that have no sentiment, an older model version, or edited text."""
    from tqdm import tqdm

    from pipeline.scoring import count_pending, score_pending

    runtime = runtime_or_exit()
    classifier = runtime.classifier
    with runtime.sessions() as session:
        total = count_pending(session, classifier)
    with tqdm(total=total, unit="review", disable=not progress or total == 0) as bar:
        result = score_pending(
            runtime.sessions, classifier, batch_size=batch_size, on_progress=bar.update
        )
    typer.echo(
        f"scored {result.scored} reviews with {classifier.model_id} v{classifier.version} "
        f"({classifier.precision}): {result.negative} negative, {result.mixed} mixed"
    )
    if result.scored:
        from pipeline.insight_refresh import refresh_insights

        typer.echo(refresh_insights(runtime.sessions))


@app.command()
def alerts() -> None:
    """Queue new negative reviews for triage, evaluate alert rules, deliver due alerts once."""
    from pipeline.alerts import run_alerts_once
    from pipeline.notifiers import ChannelConfigError

    runtime = runtime_or_exit()
    try:
        report = run_alerts_once(runtime.settings, runtime.sessions)
    except ChannelConfigError as exc:
        typer.secho(f"revmon: bad configuration: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(f"alerts: {report}")
    for line in report.errors:
        typer.secho(f"  {line}", err=True, fg="yellow")


@app.command()
def run(
    once: Annotated[bool, typer.Option(help="run every job once, then exit")] = False,
) -> None:
    """The long-running service: crawl, score, triage and alert on the configured schedule."""
    from pipeline.notifiers import ChannelConfigError
    from revmon.service import serve

    runtime = runtime_or_exit()
    try:
        serve(runtime, once=once)
    except ChannelConfigError as exc:
        typer.secho(f"revmon: bad configuration: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8501,
    address: Annotated[str, typer.Option(help="address to bind; 0.0.0.0 for all")] = "127.0.0.1",
) -> None:
    """Start the Streamlit dashboard (inbox, trends, sources) in the foreground."""
    from revmon.launch import run_dashboard

    settings_or_exit()  # a bad config fails here with one line, not inside the browser
    typer.echo(f"revmon dashboard on http://{address}:{port}")
    raise typer.Exit(run_dashboard(port, address))


@app.command()
def reply(
    review_id: Annotated[int, typer.Argument(help="the review's id in revmon")],
    text: Annotated[str, typer.Argument(help="the reply, as it will appear publicly")],
    actor: Annotated[str | None, typer.Option("--as", help="who answers; default: $USER")] = None,
) -> None:
    """Post a reply to a review through the platform's API and mark it responded."""
    import getpass

    from crawlers.api.errors import ApiError
    from revmon.replies import post_reply

    runtime = runtime_or_exit()
    try:
        with runtime.sessions.begin() as session:
            post_reply(runtime.settings, session, review_id, text, actor or getpass.getuser())
    except (ApiError, LookupError) as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(f"replied to review {review_id}")


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
    from revmon.demo import run_demo

    run_demo(settings_or_exit(), port=port, start_dashboard=dashboard)


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
def erase(
    author: Annotated[str, typer.Argument(help="the exact display name, as shown on the platform")],
    platform: Annotated[str | None, typer.Option(help="only on this platform")] = None,
    delete: Annotated[
        bool, typer.Option("--delete", help="delete the reviews, not only the name")
    ] = False,
) -> None:
    """Erase an author's name (or their reviews) on request: personal data is theirs."""
    from pipeline.privacy import erase_author

    runtime = runtime_or_exit()
    with runtime.sessions.begin() as session:
        done = erase_author(session, author, platform=platform, delete_reviews=delete)
    action = "deleted" if delete else "removed the name from"
    typer.echo(f"{action} {done.reviews} reviews")


app.add_typer(report_app, name="report")

sentiment_app = typer.Typer(
    help="Multilingual review sentiment: classify, evaluate, retrain.", no_args_is_help=True
)
app.add_typer(sentiment_app, name="sentiment")
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="HF model name/path or ENCODER::HEAD; default: configured"),
]
PrecisionOption = Annotated[
    SentimentPrecision | None,
    typer.Option(
        "--precision", help="auto (bf16 on AMX CPUs, else fp32), fp32 or bf16; default: configured"
    ),
]


@sentiment_app.command("classify")
def sentiment_classify(
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    precision: PrecisionOption = None,
) -> None:
    """Read JSON lines {"text": ...} on stdin; write label, score and probs per line, in order."""
    from sentiment.cli import classify

    settings = settings_or_exit()
    classify(
        model or settings.sentiment_model, batch_size, precision or settings.sentiment_precision
    )


@sentiment_app.command("eval")
def sentiment_eval(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled JSON lines")],
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    precision: PrecisionOption = None,
) -> None:
    """Print accuracy and per-class F1, overall and per language (text, label, optional lang)."""
    from sentiment.cli import eval_cmd

    settings = settings_or_exit()
    model = model or settings.sentiment_model
    eval_cmd(file, model, batch_size, precision or settings.sentiment_precision)


@sentiment_app.command("train")
def sentiment_train(
    extra: Annotated[list[Path], typer.Option("--extra", exists=True, help="more JSONL")] = [],  # noqa: B006
    use_db: Annotated[bool, typer.Option(help="add corrected labels and rated reviews")] = True,
) -> None:
    """Refit the head on the shipped set, people's corrections and star-rated stored reviews."""
    from pipeline.scoring import training_examples
    from sentiment.classifier import read_jsonl
    from sentiment.training import train_head

    runtime = runtime_or_exit()
    pairs = [(row["text"], row["label"]) for path in extra for row in read_jsonl(path)]
    if use_db:
        with runtime.sessions() as session:
            pairs += training_examples(session)
    metrics = train_head(pairs, model=runtime.settings.sentiment_model)
    typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
    typer.echo("the new head is used from the next start; `revmon score` re-scores with it")


@sentiment_app.command("train-adapter")
def sentiment_train_adapter(
    out_dir: Annotated[Path | None, typer.Option(help="default: the package's data folder")] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    seed: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Regenerate the shipped LoRA adapter and head from the training set (for maintainers)."""
    import sentiment
    from sentiment.cli import train_adapter_cmd

    train_adapter_cmd(out_dir or Path(sentiment.__file__).with_name("data"), epochs, seed)


@sentiment_app.command("screen")
def sentiment_screen(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines")],
    against: Annotated[str, typer.Option(help="shipped sets: all, train or held-out")] = "all",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write kept lines")] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="cosine; default 0.92")
    ] = None,
) -> None:
    """List lines that repeat or paraphrase a shipped review; -o writes the others (maintainers)."""
    from sentiment.cli import screen_cmd

    screen_cmd(file, against, out, threshold)


user_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("hash-password")
def user_hash_password(
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Print a scrypt hash to paste as a user's password_hash in revmon.toml."""
    from pipeline.auth import hash_password

    try:
        typer.echo(hash_password(password))
    except ValueError as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def main() -> None:
    """The console entry point: problems a user can fix become one line and exit code 2."""
    from sentiment.classifier import BadJsonLines, ModelLoadError

    try:
        app()
    except (ModelLoadError, BadJsonLines) as exc:
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
