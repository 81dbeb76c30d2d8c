"""`revmon run`: the long-running service that collects, scores, triages and alerts.

Why a plain loop and not a scheduler library: three jobs run one after another in one thread and
never overlap, so SQLite sees one writer from here. Collection follows each source's own
interval (``revmon.sources``): the ``collect`` job looks at the shared schedule every few seconds
and, when a source is due, starts ``revmon crawl --due`` as a child process, which keeps
Twisted's reactor out of this process and runs while scoring and alerts go on.

Several services (on several machines, one PostgreSQL) share the work: a due source is leased to
one of them (``pipeline.schedule``), scoring takes its batches with ``FOR UPDATE SKIP LOCKED``
(``pipeline.scoring``), and one process at a time queues alerts (an advisory lock) while the
outbox's own leases make each delivery happen once. A job that fails is logged and tried again
at its next turn: the service stays up. SIGTERM or SIGINT stops it between jobs; a running
collection is asked to stop (SIGTERM) and waited for, then killed if it will not.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

from pipeline.models import utcnow
from revmon.runtime import Runtime
from revmon.sources import Source

log = logging.getLogger(__name__)
CRAWL_COMMAND = (sys.executable, "-m", "revmon.cli", "crawl", "--due")
CRAWL_STOP_GRACE_S = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Job:
    """A named job and how often it runs; ``fn`` returns a one-line summary for the log."""

    name: str
    interval_s: float
    fn: Callable[[], str | None]
    next_at: float = 0.0
    runs: int = 0
    failures: int = 0


@dataclass
class CrawlProcess:
    """The crawl child: started when due, never twice at once, reaped on every tick."""

    command: Sequence[str] = CRAWL_COMMAND
    blocking: bool = False  # `revmon run --once` waits for the crawl before scoring
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __call__(self) -> str:
        if self.running():
            return "previous crawl still running"
        self.process = subprocess.Popen(list(self.command))
        if self.blocking:
            code = self.process.wait()
            self.process = None
            return f"crawl finished with exit code {code}"
        return f"crawl started (pid {self.process.pid})"

    def reap(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            (log.info if code == 0 else log.warning)("crawl finished with exit code %s", code)
            self.process = None

    def stop(self, grace_s: float = CRAWL_STOP_GRACE_S) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Service:
    """Runs due jobs in order until ``stop`` is set; ``once`` runs each job a single time."""

    def __init__(self, jobs: list[Job], crawl: CrawlProcess | None = None) -> None:
        self.jobs, self.crawl = jobs, crawl
        self.stopping = threading.Event()

    def run(self, *, once: bool = False) -> None:
        try:
            while not self.stopping.is_set():
                self.tick()
                if once:
                    return
                wait = min(job.next_at for job in self.jobs) - time.monotonic()
                self.stopping.wait(max(0.0, min(wait, 5.0)))
        finally:
            if self.crawl is not None:
                self.crawl.stop()
            log.info("revmon service stopped")

    def tick(self) -> None:
        if self.crawl is not None:
            self.crawl.reap()
        for job in self.jobs:
            if self.stopping.is_set():
                return
            if time.monotonic() >= job.next_at:
                self._run(job)

    def _run(self, job: Job) -> None:
        started = time.monotonic()
        try:
            summary = job.fn()
            log.info("%s: %s (%.1f s)", job.name, summary or "done", time.monotonic() - started)
        except Exception:  # a failing job must not take the service down
            job.failures += 1
            log.exception("%s failed; next try in %.0f s", job.name, job.interval_s)
        job.runs += 1
        job.next_at = time.monotonic() + job.interval_s

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if signum is not None:
            log.info("received %s, stopping after the current job", signal.Signals(signum).name)
        self.stopping.set()


def build_jobs(runtime: Runtime, crawl: CrawlProcess | None) -> list[Job]:
    """collect (when sources are configured), then score, then triage + alerts."""
    from pipeline.alerts import run_alerts_once
    from pipeline.collection import mark_interrupted
    from pipeline.locks import try_lock
    from pipeline.scoring import score_pending
    from revmon.schedule import due_at
    from revmon.sources import configured_sources

    cfg = runtime.settings.service
    jobs = []
    sources = configured_sources(runtime.settings)
    if crawl is not None and sources:
        stale = timedelta(seconds=cfg.run_stale_seconds)

        def collect() -> str:
            with runtime.sessions.begin() as session:
                dead = mark_interrupted(session, stale_after=stale)
            swept = f"; {len(dead)} dead runs marked interrupted" if dead else ""
            if crawl.running():
                return "previous collection still running" + swept
            due = due_at(runtime, sources)
            if due is not None and due > utcnow():
                return f"next source due at {due:%H:%M:%S}" + swept
            return crawl() + swept

        jobs.append(Job("collect", check_interval(sources), collect))

    def score() -> str:
        result = score_pending(runtime.sessions, runtime.classifier)
        return f"scored {result.scored}, {result.negative} negative, {result.mixed} mixed"

    def alerts() -> str:
        with try_lock(runtime.engine, "revmon:alerts") as mine:
            if not mine:
                return "another process is running the alerts pass"
            return str(run_alerts_once(runtime.settings, runtime.sessions))

    jobs.append(Job("score", cfg.score_minutes * 60, score))
    jobs.append(Job("alerts", cfg.alerts_minutes * 60, alerts))
    return jobs


def check_interval(sources: Sequence[Source]) -> float:
    """How often to look at the schedule: often enough for the shortest interval, at most 30 s."""
    shortest = min(source.interval_minutes for source in sources) * 60
    return max(1.0, min(30.0, shortest / 4))


def serve(runtime: Runtime, *, once: bool = False) -> Service:
    """Wire the jobs, install signal handlers, run until stopped."""
    from pipeline.notifiers import build_notifiers

    for notifier in build_notifiers(runtime.settings.alerts).values():  # fail fast on secrets
        notifier.close()
    crawl = CrawlProcess(blocking=once)
    service = Service(build_jobs(runtime, crawl), crawl)
    log.info("revmon service started: %s", ", ".join(job.name for job in service.jobs))
    with stop_on_signals(service):
        service.run(once=once)
    return service


@contextmanager
def stop_on_signals(service: Service) -> Iterator[None]:
    """SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) stop the service between jobs; the
    previous handlers come back afterwards."""
    previous = {signum: signal.signal(signum, service.stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
