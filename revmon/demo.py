"""``revmon demo``: the whole loop on bundled data, as a new user's first five minutes.

It serves the bundled pages on 127.0.0.1, points revmon's settings at them, and runs the real
crawl, scoring, triage and alert steps against the configured database (the embedded SQLite file
by default). The pages' dates are relative to the day it runs and spread over the dashboard's six
months. On the first run the sites are crawled twice: as they were a few weeks ago, then as they
are today, so that revmon sees answers arrive and reviews edited after them (recovery), and a
complaint told on three platforms (an incident, an emerging topic). Running it again stores no
duplicates: the demo site always answers on the same port, so every review keeps its
(platform, external_id).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter

import typer
from sqlalchemy import func, select

from pipeline.config import Settings
from pipeline.models import Review, Sentiment, Triage
from revmon.demo_site.server import WEBHOOK_PATH, DemoServer, demo_sources
from revmon.runtime import Runtime, build_runtime

DEMO_SECRET_ENV = "REVMON_DEMO_WEBHOOK_SECRET"  # noqa: S105  (a variable name)


def check_port(port: int) -> int:
    """Fail clearly when the demo port is taken. The port is part of every demo review's link, and
    the schema.org page gives no review ids, so its ids hash the link: another port on a later
    run would store those reviews again. ``0`` takes any free port (a one-off run)."""
    if port:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                typer.secho(
                    f"revmon demo: port {port} is busy; pass --port N and use the same N on "
                    "every demo run (the demo reviews' links include it)",
                    err=True,
                    fg="red",
                )
                raise typer.Exit(2) from None
    return port


def demo_settings(settings: Settings, base_url: str) -> Settings:
    """The user's settings (database, model) with the demo's locations, sources and one alert
    rule: negative reviews go to the demo site's signed webhook."""
    os.environ.setdefault(DEMO_SECRET_ENV, "demo-only-secret")
    demo = Settings(locations=demo_sources(base_url), alerts=demo_alerts(base_url))
    update: dict[str, object] = {"locations": demo.locations, "alerts": demo.alerts}
    if "log_level" not in settings.model_fields_set:
        update["log_level"] = "WARNING"  # the demo tells its own story; REVMON_LOG_LEVEL for more
    return settings.model_copy(update=update)


def demo_alerts(base_url: str) -> dict[str, object]:
    return {
        "channels": {
            "demo-webhook": {
                "type": "webhook",
                "url": base_url + WEBHOOK_PATH,
                "secret_env": DEMO_SECRET_ENV,
            }
        },
        # the bundled reviews span six months: let them alert despite their age
        "rules": [{"name": "negative", "channels": ["demo-webhook"], "negative": True,
                   "max_age_hours": 24 * 200}],
        "incidents": [{"name": "incident", "channels": ["demo-webhook"], "min_reviews": 3,
                       "within_hours": 72}],
    }  # fmt: skip


def run_demo(settings: Settings, *, port: int = 8377, start_dashboard: bool = True) -> None:
    with DemoServer(port=check_port(port)) as server:
        typer.echo(f"demo sources served at {server.base_url}/")
        runtime = build_runtime(demo_settings(settings, server.base_url))
        if first_run(runtime):
            server.phase = "before"
            typer.echo("the demo sites as they were a few weeks ago:")
            crawl_in_child(runtime)
            score(runtime)
            triage_and_alert(runtime)
            server.phase = "now"
            typer.echo("the demo sites today:")
        crawl(runtime)
        score(runtime)
        insights(runtime)
        triage_and_alert(runtime)
        typer.echo(f"the demo webhook received {len(server.received)} alerts in this run")
    summary(runtime)
    if start_dashboard:
        typer.echo("starting the dashboard (Ctrl+C to stop)")
        subprocess.run([sys.executable, "-m", "revmon.cli", "dashboard"], check=False)
    else:
        typer.echo("next: `revmon dashboard` to triage, or `revmon export --format jsonl`")


def first_run(runtime: Runtime) -> bool:
    """No review of the demo's locations stored yet."""
    keys = [loc.key for loc in runtime.settings.locations]
    with runtime.sessions() as session:
        query = select(func.count()).select_from(Review).where(Review.location_key.in_(keys))
        return not session.scalar(query)


def insights(runtime: Runtime) -> None:
    from pipeline.insight_refresh import refresh_insights

    typer.echo(f"insights: {refresh_insights(runtime.sessions, force=True)}")


def crawl_in_child(runtime: Runtime) -> None:
    """`revmon crawl` in a child process with the demo's sources: Twisted's reactor runs once
    per process, and this process crawls again afterwards."""
    locations = [loc.model_dump(mode="json") for loc in runtime.settings.locations]
    env = {
        **os.environ,
        "REVMON_DATABASE_URL": runtime.settings.db_url,
        "REVMON_LOCATIONS": json.dumps(locations),
        "REVMON_LOG_LEVEL": runtime.settings.log_level,
    }
    result = subprocess.run(
        [sys.executable, "-m", "revmon.cli", "crawl"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        typer.echo(f"  {line}")
    if result.returncode not in (0, 1):  # 1: a source degraded; the demo goes on and says so
        typer.secho(result.stderr[-2000:], err=True, fg="yellow")


def crawl(runtime: Runtime) -> None:
    from revmon.collection import collect
    from revmon.sources import configured_sources

    sources = configured_sources(runtime.settings)
    typer.echo(f"crawling {len(sources)} sources")
    for line in collect(runtime, sources).lines:
        typer.echo(f"  {line}")


def score(runtime: Runtime) -> None:
    from pipeline.scoring import score_pending

    classifier = runtime.classifier
    typer.echo(
        f"scoring with {classifier.model_id} (version {classifier.version}, {classifier.precision})"
    )
    result = score_pending(runtime.sessions, classifier)
    typer.echo(f"scored {result.scored}: {result.negative} negative, {result.mixed} mixed")


def triage_and_alert(runtime: Runtime) -> None:
    from pipeline.alerts import run_alerts_once

    report = run_alerts_once(runtime.settings, runtime.sessions)
    typer.echo(f"queued {report.triaged} reviews for a response; {report}")


def summary(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        per_platform = Counter(dict(session.execute(
            select(Review.platform, func.count()).group_by(Review.platform)
        ).all()))  # fmt: skip
        labels = Counter(dict(session.execute(
            select(Sentiment.label, func.count()).group_by(Sentiment.label)
        ).all()))  # fmt: skip
        waiting = session.scalar(
            select(func.count())
            .select_from(Triage)
            .where(Triage.status.in_(("new", "in_progress")))
        )
    platforms = ", ".join(f"{name} {count}" for name, count in sorted(per_platform.items()))
    typer.echo(f"reviews stored: {sum(per_platform.values())} ({platforms})")
    typer.echo(
        "sentiment: "
        + ", ".join(f"{label} {labels[label]}" for label in ("negative", "neutral", "positive"))
    )
    typer.echo(f"awaiting response: {waiting}")
    report_summary(runtime)


def report_summary(runtime: Runtime) -> None:
    """The insights a newcomer can look for in the dashboard's Trends page."""
    from pipeline.insight_report import build

    with runtime.sessions.begin() as session:
        report = build(session, days=180)
    recovery = report["recovery"]
    typer.echo(
        f"recovery: {recovery['recovered']} of {recovery['replied']} answered negative reviews "
        f"came round (median {recovery['median_hours']} h after the answer)"
    )
    for incident in report["incidents"]:
        typer.echo(
            f"incident #{incident['id']}: {incident['size']} reviews on "
            f"{', '.join(incident['platforms'])} ({', '.join(incident['locations'])})"
        )
    for topic in report["emerging_topics"]:
        typer.echo(f"emerging at {topic['name']}: {', '.join(topic['words'][:6])}")
