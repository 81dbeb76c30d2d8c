"""The ``revmon`` command line (Typer). Each command wires a runtime and calls one module.

Commands follow the data: init, crawl, collect, score, alerts, run, dashboard, reply; then demo,
export, and the `sentiment` and `user` groups. Each body is small: the work lives in its module.
Errors a user can fix (a bad config, a missing token) are printed as one clear line and exit 2;
they are never shown as a traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from pipeline import logs
from pipeline.config import SentimentPrecision, Settings, load_settings
from revmon.report_cli import report_app
from revmon.runtime import Runtime, build_runtime

if TYPE_CHECKING:
    from revmon.sources import Source

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


def sources_or_exit(settings: Settings) -> list[Source]:
    """The configured sources matched to their collectors; a bad one is one line and exit 2."""
    from revmon.sources import SourceError, configured_sources

    try:
        return configured_sources(settings)
    except SourceError as exc:
        typer.secho(f"revmon: bad configuration: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def runtime_or_exit(settings: Settings | None = None) -> Runtime:
    """The runtime, or one line and exit 2 when the database URL is wrong or unreachable."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError

    settings = settings or settings_or_exit()
    sources_or_exit(settings)
    logs.configure(settings)
    try:
        return build_runtime(settings)
    except ArgumentError as exc:  # unparsable URL, unknown dialect or driver
        fail(f"bad database URL (REVMON_DATABASE_URL): {exc}")
    except DBAPIError as exc:
        where = make_url(settings.db_url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        fail(f"cannot use the database {where}: {logs.redact(reason)}")
    except OSError as exc:  # e.g. the SQLite file's folder cannot be created
        fail(f"cannot use the database: {exc}")


def fail(message: str) -> NoReturn:
    """A problem the user can fix: one line on stderr, exit code 2."""
    typer.secho(f"revmon: {message}", err=True, fg="red")
    raise typer.Exit(2)


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
        typer.Argument(help="platforms, collector names, location or source keys; all by default"),
    ] = None,
    full: Annotated[bool, typer.Option(help="page to the end, past stored reviews")] = False,
    due: Annotated[
        bool, typer.Option(help="only the sources due by their schedule (as `revmon run` does)")
    ] = False,
) -> None:
    """Collect every configured source, spiders and API clients alike, and store the reviews.

    Exits 1 when any source was degraded, failed, blocked or interrupted."""
    from revmon.collection import collect as run_collection
    from revmon.schedule import collect_due
    from revmon.sources import select

    runtime = runtime_or_exit()
    chosen = select(sources_or_exit(runtime.settings), sources or ())
    if not chosen:
        wanted = f" matching {', '.join(sources or ())}" if sources else ""
        typer.secho(f"revmon: no configured source{wanted}; see revmon.example.toml", err=True)
        raise typer.Exit(2)
    summary = collect_due(runtime, chosen) if due else run_collection(runtime, chosen, full=full)
    for line in summary.lines:
        typer.echo(line)
    for message in summary.fatal:
        typer.secho(f"  error: {message}", err=True, fg="yellow")
    if summary.troubled:  # cron and the service notice: a source needs a look
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
    from revmon.collection import collect_one

    runtime = runtime_or_exit()
    try:
        harvest = collect_one(
            runtime.settings,
            runtime.sessions,
            platform,
            target,
            base_url=base_url,
            out=output,
            location_key=location,
            full=full,
        )
    except ApiError as exc:  # an unknown client name
        typer.secho(f"revmon: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    if harvest.fatal is not None:  # the credentials or the target: one line naming the fix
        typer.secho(f"revmon: {harvest.fatal}", err=True, fg="red")
        raise typer.Exit(2)
    typer.echo(harvest.result.summary())
    for message in harvest.result.error_messages:
        typer.secho(f"  error: {message}", err=True, fg="yellow")
    if output is not None:
        typer.echo(f"wrote {len(harvest.items)} items to {output}")
    if harvest.result.status != "ok":
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


alerts_app = typer.Typer(invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def alerts(ctx: typer.Context) -> None:
    """Queue new negative reviews for triage, evaluate alert rules, deliver due alerts once."""
    from pipeline.alerts import run_alerts_once
    from pipeline.notifiers import ChannelConfigError

    if ctx.invoked_subcommand is not None:
        return
    runtime = runtime_or_exit()
    try:
        report = run_alerts_once(runtime.settings, runtime.sessions)
    except ChannelConfigError as exc:
        typer.secho(f"revmon: bad configuration: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(f"alerts: {report}")
    for line in report.errors:
        typer.secho(f"  {line}", err=True, fg="yellow")


@alerts_app.command("requeue")
def alerts_requeue(
    channel: Annotated[str | None, typer.Option(help="only this channel's")] = None,
    rule: Annotated[str | None, typer.Option(help="only this rule's")] = None,
    alert_id: Annotated[list[int] | None, typer.Option("--id", help="only these alerts")] = None,
) -> None:
    """Send dead alerts again once their channel is fixed; each is still delivered once."""
    from pipeline.outbox import requeue_dead

    runtime = runtime_or_exit()
    with runtime.sessions.begin() as session:
        count = requeue_dead(session, channel=channel, rule=rule, ids=tuple(alert_id or ()))
    typer.echo(f"re-queued {count} dead alerts; the next `revmon alerts` delivers them")


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

    if output is not None and not output.parent.is_dir():
        fail(f"cannot write {output}: the folder {output.parent} does not exist")
    runtime = runtime_or_exit()
    write = write_jsonl if format is ExportFormat.jsonl else write_csv
    with runtime.sessions() as session:
        if output is None:
            count = write(iter_records(session), sys.stdout)
        else:
            try:
                with output.open("w", encoding="utf-8", newline="") as out:
                    count = write(iter_records(session), out)
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror or exc}")
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

    if not author.strip():
        fail("give the exact author name to erase, as shown on the platform")
    runtime = runtime_or_exit()
    with runtime.sessions.begin() as session:
        done = erase_author(session, author, platform=platform, delete_reviews=delete)
    action = "deleted" if delete else "removed the name from"
    typer.echo(f"{action} {done.reviews} reviews and {done.elsewhere} other stored values")


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
