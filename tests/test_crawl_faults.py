"""Hostile pages and faults through the real Scrapy engine: nothing is lost silently.

Each case serves good pages next to a bad one (an empty 200 body, a JSON answer of the wrong
shape, a 403/404/503, a link that leads off the site, an item the database would refuse) and
checks that the good pages' reviews are stored, the bad page is counted with its reason, the run's
status says so, and nothing stored earlier is lost or duplicated. Then the faults of the
process itself: a dropped database connection mid-crawl and a crawler killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipeline.collection import mark_interrupted
from pipeline.db import make_engine, session_factory
from pipeline.models import CrawlRun, utcnow
from tests.sitesupport import (
    FAST,
    FIXTURES,
    JSON,
    REPO,
    Reply,
    SiteServer,
    fresh_database,
    scrapy_crawl,
    stored,
)

TP = "/review/example.com"  # configured; the spider asks for every language
TP1 = "/review/example.com?languages=all"
TP2 = "/review/example.com?languages=all&page=2"
TP3 = "/review/example.com?languages=all&page=3"
SCHEMA = "/produkt/kawa-3000"
SCHEMA2 = "/produkt/kawa-3000?strona=2"
BRANCH = "/2.0/branches/70000001027654321/reviews?limit=50"
BRANCH_FETCHED = BRANCH + (  # the spider adds the fields it needs
    "&fields=meta.branch_rating%2Cmeta.branch_reviews_count%2Cmeta.total_count"
    "%2Creviews.hiding_reason"
)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the crawl's own on each backend (crawls commit their rows)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'revmon.db'}"
    else:
        with fresh_database(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def crawl(spider: str, site: SiteServer, start: str, db: str, tmp_path: Path, **kw: object):
    result = scrapy_crawl(spider, site.url(start), db, tmp_path / f"{spider}.jsonl", **kw)
    assert result.returncode == 0, result.log[-3000:]
    return result


def only_run(db: str) -> dict:
    [run] = stored(db).runs
    return run


def serve_otzovik(site: SiteServer, broken: Reply) -> None:
    site.page("/reviews/northwind_coffee/", "otzovik/list1.html")
    site.page("/reviews/northwind_coffee/2/", "otzovik/list2.html")
    site.page("/review_15234567.html", "otzovik/review_15234567.html")
    site.page("/review_15230001.html", "otzovik/review_15230001.html")
    site.page("/review_15200002.html", "otzovik/review_15200002.html")
    site.route("/review_15100003.html", broken)


def serve_irecommend(site: SiteServer, broken: Reply) -> None:
    site.page("/content/northwind-coffee", "irecommend/list0.html")
    site.page("/content/northwind-coffee?page=1", "irecommend/list1_empty.html")
    site.page("/content/uyutno-no-dorogovato", "irecommend/review_uyutno.html")
    site.route("/content/best-breakfast-moscow", broken)


EMPTY_BODY_CASES = {
    # spider: (how to serve, start page, reviews from the good pages, pages fetched and parsed)
    "trustpilot": (
        lambda site, broken: (site.page(TP1, "trustpilot/page1.html"), site.route(TP2, broken)),
        TP,
        3,
        1,
    ),
    "schema_org": (
        lambda site, broken: (
            site.page(SCHEMA, "schema_org/product_pl.html"),
            site.route(SCHEMA2, broken),
        ),
        SCHEMA,
        3,
        1,
    ),
    "otzovik": (serve_otzovik, "/reviews/northwind_coffee/", 3, 5),
    "irecommend": (serve_irecommend, "/content/northwind-coffee", 1, 3),
}


@pytest.mark.parametrize("spider", sorted(EMPTY_BODY_CASES))
def test_an_empty_200_body_is_a_counted_page_not_a_silent_end(
    spider: str, db: str, tmp_path: Path
) -> None:
    serve, start, reviews, good_pages = EMPTY_BODY_CASES[spider]
    with SiteServer() as site:
        serve(site, Reply(body=b"", status=200))
        crawl(spider, site, start, db, tmp_path)
    run = only_run(db)
    assert run["outcomes"] == {"ok": good_pages, "empty": 1}
    assert (run["status"], run["complete"], run["pages_failed"]) == ("degraded", False, 1)
    assert any("HTTP 200 with an empty body" in error for error in run["error_log"])
    assert len(stored(db).reviews) == reviews


def test_a_2gis_answer_with_meta_of_the_wrong_shape_is_counted_and_loses_no_review(
    db: str, tmp_path: Path
) -> None:
    page = json.loads((FIXTURES / "twogis" / "page1.json").read_text(encoding="utf-8"))
    page["meta"] = ["not", "an", "object"]
    with SiteServer() as site:
        site.route(BRANCH_FETCHED, Reply(body=json.dumps(page), content_type=JSON))
        crawl("twogis", site, BRANCH, db, tmp_path)
    run = only_run(db)
    assert (run["status"], run["errors"]) == ("degraded", 1)
    assert "meta" in run["error_log"][0]
    assert len(stored(db).reviews) == run["items"] - run["rejected"] > 0


@pytest.mark.parametrize(
    ("start", "later", "outcomes", "status", "reviews"),
    [
        (Reply(status=403, body="forbidden"), None, {"http_403": 1}, "failed", 0),
        (None, Reply(status=404, body="gone"), {"ok": 1, "http_404": 1}, "degraded", 3),
        (None, Reply(status=503, body="down"), {"ok": 1, "http_503": 1}, "degraded", 3),
    ],
    ids=["403-start", "404-later", "503-later-after-retries"],
)
def test_http_errors_on_the_start_or_a_later_page_are_counted(
    db: str, tmp_path: Path, start, later, outcomes, status, reviews
) -> None:
    with SiteServer() as site:
        site.route(TP1, start or Reply(file="trustpilot/page1.html"))
        site.route(TP2, later or Reply(file="trustpilot/page2.html"))
        crawl("trustpilot", site, TP, db, tmp_path)
    run = only_run(db)
    assert run["outcomes"] == outcomes
    assert (run["status"], run["complete"]) == (status, False)
    assert len(stored(db).reviews) == reviews


@pytest.mark.parametrize(
    "link",
    [
        "file:///etc/hostname",
        "data:text/html,<p>x</p>",
        "http://localhost:{port}/produkt/x",
        "http://127.0.0.1:{port}/produkt/x",
    ],
    ids=["file", "data", "another-host", "another-port"],
)
def test_a_page_cannot_send_the_spider_off_the_site(db: str, tmp_path: Path, link: str) -> None:
    page = (FIXTURES / "schema_org" / "product_pl.html").read_text(encoding="utf-8")
    with SiteServer() as elsewhere, SiteServer() as site:
        target = link.format(port=elsewhere.base.rsplit(":", 1)[1])
        site.route(SCHEMA, Reply(body=page.replace("/produkt/kawa-3000?strona=2", target)))
        crawl("schema_org", site, SCHEMA, db, tmp_path)
        assert elsewhere.hits == []
    run = only_run(db)
    assert run["outcomes"] == {"ok": 1, "refused": 1}
    assert run["status"] == "degraded" and run["complete"] is False
    assert "refused" not in run["error_log"][0] or target in run["error_log"][0]
    assert len(stored(db).reviews) == 3  # the page's own reviews


def test_a_2gis_next_link_to_a_local_file_or_another_host_stores_nothing_from_there(
    db: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"reviews":[{"id":"666","text":"local secret","date_created":'
                      '"2024-01-01T00:00:00+07:00","rating":5}]}', encoding="utf-8")  # fmt: skip
    page = json.loads((FIXTURES / "twogis" / "page1.json").read_text(encoding="utf-8"))
    with SiteServer() as elsewhere, SiteServer() as site:
        for next_link in (f"file://{secret}", f"{elsewhere.base}/internal"):
            page["meta"]["next_link"] = next_link
            site.route(BRANCH_FETCHED, Reply(body=json.dumps(page), content_type=JSON))
            crawl("twogis", site, BRANCH, db, tmp_path, settings={"HTTPCACHE_ENABLED": "False"})
        assert elsewhere.hits == []
    assert "666" not in stored(db).reviews
    assert all(run["status"] == "degraded" for run in stored(db).runs)


def test_bad_items_in_a_real_crawl_are_rejected_alone_and_nul_bytes_cleaned(
    pg_db: str, tmp_path: Path
) -> None:
    page = (FIXTURES / "trustpilot" / "page1.html").read_text(encoding="utf-8")
    page = page.replace(
        '"text":"Ordered on Monday, arrived Wednesday.',
        '"text":"Ordered on Monday,\\u0000 arrived Wednesday.',
    ).replace('"publishedDate":"2024-02-28T09:10:00.000Z"', '"publishedDate":"9999-02-28"')
    with SiteServer() as site:
        site.route(TP1, Reply(body=page))
        site.page(TP2, "trustpilot/page2.html")
        site.page(TP3, "trustpilot/page3.html")
        crawl("trustpilot", site, TP, pg_db, tmp_path)
    state = stored(pg_db)
    run = state.runs[0]
    assert (run["items"], run["rejected"], run["status"]) == (7, 1, "degraded")
    assert "published_at: 9999-02-28" in " ".join(run["error_log"])
    assert len(state.reviews) == 6  # every item after the bad one was stored too
    assert any(r["text"].startswith("Ordered on Monday, arrived") for r in state.reviews.values())


def test_a_dropped_database_connection_loses_nothing(pg_db: str, tmp_path: Path) -> None:
    with SiteServer() as site:
        site.page(TP1, "trustpilot/page1.html")
        site.route(TP2, Reply(file="trustpilot/page2.html", delay=3.0))
        site.page(TP3, "trustpilot/page3.html")
        child = start_crawl("trustpilot", site.url(TP), pg_db, tmp_path)
        wait_for(lambda: len(stored(pg_db).reviews) == 3, child)  # page 1 committed already
        terminate_connections(pg_db)  # the database drops the crawler's connections
        assert child.wait(60) == 0
    state = stored(pg_db)
    assert len(state.reviews) == 7
    [run] = state.runs
    assert run["status"] == "degraded" and run["finished_at"] is not None  # page 2's broken blob
    assert run["complete"] is True and run["outcomes"] == {"ok": 3}


def test_a_killed_crawl_is_interrupted_and_the_next_run_fetches_what_it_missed(
    db: str, tmp_path: Path
) -> None:
    with SiteServer() as site:
        site.page(TP1, "trustpilot/page1.html")
        site.route(
            TP2,
            Reply(file="trustpilot/page2.html", delay=30.0),
            Reply(file="trustpilot/page2.html"),
        )
        site.page(TP3, "trustpilot/page3.html")
        child = start_crawl("trustpilot", site.url(TP), db, tmp_path)
        wait_for(lambda: len(stored(db).reviews) == 3, child)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert stored(db).runs[0]["status"] == "running"  # nobody could close it
        crawl("trustpilot", site, TP, db, tmp_path)  # page 1 is stored, unchanged
        assert site.count(TP3) == 1  # yet the run paged on: the last one never got there
    first, second = stored(db).runs
    assert first["status"] == "interrupted" and first["complete"] is False
    assert "stopped answering" in first["error_log"][-1]
    assert (second["full"], second["complete"], second["status"]) == (True, True, "degraded")
    assert len(stored(db).reviews) == 7


def test_a_run_whose_heartbeat_went_stale_elsewhere_is_marked_interrupted(
    db: str,
) -> None:
    engine = make_engine(db)
    from pipeline.db import migrate

    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        old = utcnow() - timedelta(minutes=10)
        session.add_all([
            CrawlRun(source="twogis", platform="twogis", owner="other-host:1", started_at=old,
                     heartbeat_at=old),
            CrawlRun(source="twogis", platform="twogis", owner="other-host:2",
                     heartbeat_at=utcnow()),
        ])  # fmt: skip
    with sessions.begin() as session:
        dead = mark_interrupted(session, stale_after=timedelta(minutes=3))
        assert [run.owner for run in dead] == ["other-host:1"]
    with sessions() as session:
        statuses = [run.status for run in session.query(CrawlRun).order_by(CrawlRun.id)]
    assert statuses == ["interrupted", "running"]
    engine.dispose()


# -- helpers ------------------------------------------------------------------------------------


def start_crawl(spider: str, url: str, db: str, tmp_path: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"url={url}",
               "-O", str(tmp_path / "killed.jsonl")]  # fmt: skip
    for name, value in FAST.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "REVMON_DATABASE_URL": db}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip


def wait_for(condition, child: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the schema may not exist yet
            pass
        assert child.poll() is None, "the crawl ended before the condition held"
        time.sleep(0.1)
    raise AssertionError("timed out")


def terminate_connections(url: str) -> None:
    engine = create_engine(url.replace("+psycopg", "+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        killed = connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    engine.dispose()
    assert killed >= 1
