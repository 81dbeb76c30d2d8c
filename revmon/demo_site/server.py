"""Serve the bundled demo pages on 127.0.0.1: a Trustpilot-like site, a 2GIS-like reviews API and
a Polish café page with schema.org markup.

Dates in the bundled files are written ``{{DAY-N}}`` (N days before today) and filled in when a
page is served, so the demo's reviews always fall inside the dashboard's default six months,
whatever day it runs. The site can also show itself as it was a few weeks earlier
(``phase = "before"``: files named ``*.before.*`` where they differ): crawled then and again
now, revmon sees replies arrive and reviews edited after them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).with_name("data")
BRANCH = "70000001027654321"
ROBOTS = "User-agent: *\nDisallow: /private/\n"
WEBHOOK_PATH = "/hooks/revmon"
DAY = re.compile(r"\{\{DAY-(\d+)\}\}")
PHASES = ("before", "now")


@dataclass(frozen=True)
class Route:
    """A path (and optionally a `page` query value) answered by one bundled file."""

    path: str
    file: str
    content_type: str
    page: str = "1"
    params: dict[str, str] = field(default_factory=dict)


ROUTES = (
    Route("/review/northwind.example", "trustpilot/northwind-page-1.html", "text/html"),
    Route("/review/northwind.example", "trustpilot/northwind-page-2.html", "text/html", "2"),
    Route("/review/rivalroasters.example", "trustpilot/rival-page-1.html", "text/html"),
    Route(f"/2.0/branches/{BRANCH}/reviews", "twogis/branch-page-1.json", "application/json"),
    Route(f"/2.0/branches/{BRANCH}/reviews", "twogis/branch-page-2.json", "application/json", "2"),
    Route(f"/2.0/branches/{BRANCH}/reviews", "twogis/branch-page-3.json", "application/json", "3"),
    Route("/pl/kawiarnie/warszawa-mokotow", "schema_org/warszawa-mokotow.html", "text/html"),
)


def demo_sources(base: str) -> list[dict[str, object]]:
    """The locations and sources that the demo watches on a server at ``base``."""
    return [
        {
            "key": "northwind-warsaw",
            "name": "Northwind Coffee Warszawa",
            "timezone": "Europe/Warsaw",
            "sources": [
                {"platform": "trustpilot", "url": f"{base}/review/northwind.example"},
                {"platform": "schema_org", "url": f"{base}/pl/kawiarnie/warszawa-mokotow"},
            ],
        },
        {
            "key": "northwind-novosibirsk",
            "name": "Northwind Coffee Новосибирск",
            "timezone": "Asia/Novosibirsk",
            "sources": [
                {
                    "platform": "twogis",
                    "url": f"{base}/2.0/branches/{BRANCH}/reviews?limit=4&sort_by=date_edited"
                    "&locale=ru_RU&fields=meta.branch_rating,meta.branch_reviews_count,meta.total_count",
                }
            ],
        },
        {
            "key": "rival-roasters",
            "name": "Rival Roasters (competitor)",
            "timezone": "Europe/London",
            "is_competitor": True,
            "sources": [{"platform": "trustpilot", "url": f"{base}/review/rivalroasters.example"}],
        },
    ]


def fill_dates(body: str, today: date) -> str:
    """``{{DAY-N}}`` -> the ISO date N days before ``today``."""
    return DAY.sub(lambda m: (today - timedelta(days=int(m.group(1)))).isoformat(), body)


def page_file(route: Route, phase: str) -> Path:
    """The file a route serves in a phase: its ``.before`` variant, when there is one."""
    path = DATA / route.file
    if phase == "before":
        earlier = path.with_name(f"{path.stem}.before{path.suffix}")
        if earlier.exists():
            return earlier
    return path


def find_route(path: str, query: str) -> Route | None:
    page = parse_qs(query).get("page", ["1"])[0]
    return next((r for r in ROUTES if r.path == path.rstrip("/") and r.page == page), None)


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "revmon-demo/1"

    def do_GET(self) -> None:  # noqa: N802  (the name http.server calls)
        parts = urlsplit(self.path)
        if parts.path == "/robots.txt":
            self._send(HTTPStatus.OK, "text/plain", ROBOTS.encode())
            return
        if parts.path == "/":
            self._send(HTTPStatus.OK, "text/html", self._index())
            return
        route = find_route(parts.path, parts.query)
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
            return
        server = self.server
        body = page_file(route, server.phase).read_text(encoding="utf-8")  # type: ignore[attr-defined]
        body = body.replace("{{BASE}}", server.base_url)  # type: ignore[attr-defined]
        body = fill_dates(body, server.today)  # type: ignore[attr-defined]
        self._send(HTTPStatus.OK, f"{route.content_type}; charset=utf-8", body.encode())

    def do_POST(self) -> None:  # noqa: N802
        """The demo's alert webhook: keep what arrives so the demo can show it was delivered."""
        if urlsplit(self.path).path != WEBHOOK_PATH:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.received.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self._send(HTTPStatus.OK, "application/json", b'{"ok": true}')

    def _index(self) -> bytes:
        links = "".join(f'<li><a href="{r.path}?page={r.page}">{r.path}</a></li>' for r in ROUTES)
        return f"<h1>revmon demo sources</h1><ul>{links}</ul>".encode()

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the crawl logs every request already."""


class DemoServer:
    """The demo site in a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, today: date | None = None) -> None:
        self.httpd = ThreadingHTTPServer((host, port), DemoHandler)
        self.httpd.today = today or datetime.now(UTC).date()  # type: ignore[attr-defined]
        self.httpd.phase = "now"  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.httpd.base_url = self.base_url  # type: ignore[attr-defined]
        self.httpd.received = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def phase(self) -> str:
        return self.httpd.phase  # type: ignore[attr-defined]

    @phase.setter
    def phase(self, value: str) -> None:
        if value not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {value!r}")
        self.httpd.phase = value  # type: ignore[attr-defined]

    @property
    def received(self) -> list[tuple[dict[str, str], bytes]]:
        """Webhook deliveries so far: (headers, body)."""
        return self.httpd.received  # type: ignore[attr-defined]

    def __enter__(self) -> DemoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
