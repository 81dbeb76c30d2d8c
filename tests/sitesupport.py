"""A local HTTP server that plays saved pages, and a helper that runs a real ``scrapy crawl``.

Routes map an exact path with its query (``/review/example.com?page=2``) to one response or to a
sequence (the last one repeats), so a test can serve a 429 and then the page. ``{{BASE}}`` in a
body is replaced by the server's own address, so saved pages can link to each other absolutely.
Every request is recorded with its time, to assert what was (and was not) fetched.

Crawls run in a child process: Twisted's reactor cannot be restarted inside one pytest process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sites"
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    """One canned response: a fixture file (relative to FIXTURES) or a literal body."""

    file: str | None = None
    body: str | bytes = b""
    status: int = 200
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def render(self, base: str) -> bytes:
        raw = (FIXTURES / self.file).read_bytes() if self.file else self.body
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        return data.replace(b"{{BASE}}", base.encode("ascii"))


@dataclass(frozen=True)
class Hit:
    path: str
    at: float
    user_agent: str


class SiteServer:
    """A threaded HTTP server on 127.0.0.1 with a free port; use it as a context manager."""

    def __init__(self, robots: str = "User-agent: *\nAllow: /\n") -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.served: dict[str, int] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.route("/robots.txt", Reply(body=robots, content_type="text/plain"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def route(self, path: str, *replies: Reply) -> SiteServer:
        """Serve ``replies`` in turn at ``path`` (with its query); the last one repeats."""
        with self.lock:
            self.routes[path] = list(replies)
            self.served[path] = 0
        return self

    def page(self, path: str, file: str, **kwargs: Any) -> SiteServer:
        return self.route(path, Reply(file=file, **kwargs))

    def count(self, path: str) -> int:
        """How many times ``path`` was requested."""
        return sum(1 for hit in self.hits if hit.path == path)

    def fetched(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, path: str) -> Reply | None:
        with self.lock:
            replies = self.routes.get(path)
            if not replies:
                return None
            index = min(self.served[path], len(replies) - 1)
            self.served[path] += 1
            return replies[index]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # no Nagle: keep-alive replies must not wait for a delayed ACK
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                hit = Hit(self.path, time.time(), self.headers.get("User-Agent", ""))
                with site.lock:
                    site.hits.append(hit)
                reply = site._next_reply(self.path) or Reply(body="not found", status=404)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.render(site.base)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value.replace("{{BASE}}", site.base))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


# Fast but still polite: AutoThrottle stays on, only its start delay is zero.
FAST = {
    "AUTOTHROTTLE_START_DELAY": "0",
    "DOWNLOAD_DELAY": "0",
    "REVMON_RETRY_BACKOFF_BASE": "0.05",
    "ROBOTSTXT_OBEY": "True",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": "False",
}


@dataclass
class CrawlResult:
    returncode: int
    log: str
    items: list[dict[str, Any]]


def scrapy_crawl(
    spider: str,
    url: str | None,
    database_url: str,
    out: Path,
    *,
    args: Sequence[str] = (),
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> CrawlResult:
    """``python -m scrapy crawl SPIDER -a url=URL -O OUT`` from the repo root, storing to a DB."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(out)]
    if url is not None:
        command += ["-a", f"url={url}"]
    for arg in args:
        command += ["-a", arg]
    for name, value in {**FAST, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    child_env = {**os.environ, "REVMON_DATABASE_URL": database_url, **(env or {})}
    proc = subprocess.run(
        command, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=timeout
    )
    items = list(read_jsonl(out)) if out.exists() else []
    return CrawlResult(proc.returncode, proc.stdout + proc.stderr, items)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


@dataclass
class Stored:
    """What a crawl left in the database: reviews (by external id), revisions and crawl runs."""

    reviews: dict[str, dict[str, Any]]
    revisions: list[dict[str, Any]]
    runs: list[dict[str, Any]]


def stored(database_url: str) -> Stored:
    """Read back every review, revision and crawl run (plain dicts, ordered by id)."""
    from sqlalchemy import select

    from pipeline.db import make_engine
    from pipeline.models import CrawlRun, Review, ReviewRevision

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            reviews = [dict(r._mapping) for r in conn.execute(select(Review.__table__))]
            revisions = [
                dict(r._mapping)
                for r in conn.execute(select(ReviewRevision.__table__).order_by(ReviewRevision.id))
            ]
            runs = [
                dict(r._mapping)
                for r in conn.execute(select(CrawlRun.__table__).order_by(CrawlRun.id))
            ]
    finally:
        engine.dispose()
    return Stored({r["external_id"]: r for r in reviews}, revisions, runs)


def without_raw(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "raw"} for item in items]


@contextmanager
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of its own, dropped afterwards.

    Crawls commit their rows, so they must not share the session's test database (other tests
    count rows there).
    """
    from pipeline.db import make_engine, migrate, scratch_postgres

    with scratch_postgres(postgres_url, "revmon_crawl") as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
