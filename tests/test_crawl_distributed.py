"""Distributed mode against the real Redis: two crawler processes share one queue and dupefilter.

An Otzovik-like list page links to slow review pages. Two `scrapy crawl otzovik` processes
with REVMON_REDIS_URL start together on the same job: both fetch review pages, no page is fetched
twice, and every review is stored once. When one of them is killed with SIGKILL while it holds
pages, the survivor takes those pages over; and the next run of the job, well inside the
dupefilter's window, fetches every page again, because the killed run left the job incomplete.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.sitesupport import FAST, FIXTURES, REPO, Reply, SiteServer, fresh_database, stored

REDIS_URL = os.environ.get("REVMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIST = "/reviews/northwind_coffee/"
REVIEWS = 24


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    for key in client.scan_iter("revmon:otzovik:*"):
        client.delete(key)
    client.close()


def list_page() -> str:
    links = "".join(
        f'<div class="item"><a class="review-title" href="/review_{9000 + n}.html">R{n}</a></div>'
        for n in range(REVIEWS)
    )
    return f'<html lang="ru"><body><div class="review-list-chunk">{links}</div></body></html>'


def review_page(number: int) -> bytes:
    template = (FIXTURES / "otzovik" / "review_15234567.html").read_text(encoding="utf-8")
    return template.replace("kofeman77", f"user{number}").encode("utf-8")


def start_crawler(site: SiteServer, db: str, out: Path, **settings: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "otzovik", "-a", f"url={site.url(LIST)}",
               "-O", str(out)]  # fmt: skip
    for name, value in {**FAST, "REVMON_REDIS_START_GRACE": "2", **settings}.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "REVMON_DATABASE_URL": db, "REVMON_REDIS_URL": REDIS_URL}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def crawl_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:  # machines share PostgreSQL, not a SQLite file
        yield url


def test_two_processes_share_one_queue(
    tmp_path: Path, redis_client: redis.Redis, crawl_db: str
) -> None:
    db = crawl_db
    with SiteServer() as site:
        site.route(LIST, Reply(body=list_page(), delay=0.3))
        for n in range(REVIEWS):
            site.route(f"/review_{9000 + n}.html", Reply(body=review_page(n), delay=0.4))
        crawlers = [start_crawler(site, db, tmp_path / f"out{i}.jsonl") for i in range(2)]
        logs = [proc.communicate(timeout=120)[0] for proc in crawlers]
        assert [proc.returncode for proc in crawlers] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
        pages = [path for path in site.fetched() if path != "/robots.txt"]

    assert sorted(pages) == sorted([LIST] + [f"/review_{9000 + n}.html" for n in range(REVIEWS)])
    assert all("distributed crawl: sharing revmon:otzovik:-:" in log for log in logs)
    runs = stored(db).runs
    assert len(runs) == 2 and all(run["items"] > 0 for run in runs)  # both took pages
    assert sum(run["items"] for run in runs) == REVIEWS
    assert len(stored(db).reviews) == REVIEWS
    assert redis_client.zcard(next(iter(redis_client.scan_iter("revmon:otzovik:*:seen")))) == (
        REVIEWS + 1
    )


KILLED_REVIEWS = 8


def test_a_killed_worker_loses_nothing(
    tmp_path: Path, redis_client: redis.Redis, crawl_db: str
) -> None:
    db = crawl_db
    fast_death = {"REVMON_REDIS_ALIVE_SECONDS": "2", "REVMON_REDIS_BUSY_SECONDS": "4"}
    reviews = [f"/review_{9000 + n}.html" for n in range(KILLED_REVIEWS)]
    with SiteServer() as site:
        links = "".join(
            f'<div class="item"><a class="review-title" href="{path}">R</a></div>'
            for path in reviews
        )
        site.route(LIST, Reply(body=f'<html lang="ru"><body>{links}</body></html>'))
        for n, path in enumerate(reviews):
            site.route(path, Reply(body=review_page(n), delay=2.0))
        crawlers = [
            start_crawler(site, db, tmp_path / f"out{i}.jsonl", **fast_death) for i in range(2)
        ]
        victim = holder_of_pages(redis_client, crawlers, reviews, site)
        survivor = next(proc for proc in crawlers if proc is not victim)
        victim.send_signal(signal.SIGKILL)
        survivor_log = survivor.communicate(timeout=120)[0]
        victim.wait(10)
        assert survivor.returncode == 0, survivor_log[-3000:]
        assert "recovered" in survivor_log  # it took over the dead worker's pages
        assert len(stored(db).reviews) == KILLED_REVIEWS

        # the next run, well inside the dedup window: the killed run left the job incomplete,
        # so it fetches the pages again instead of finding them all "seen"
        before = len(site.hits)
        again = start_crawler(site, db, tmp_path / "again.jsonl", **fast_death)
        log = again.communicate(timeout=120)[0]
        assert again.returncode == 0, log[-3000:]
        fetched = [hit.path for hit in site.hits[before:] if hit.path != "/robots.txt"]
    assert sorted(fetched) == sorted([LIST, *reviews])
    runs = stored(db).runs
    assert [run["status"] for run in runs].count("interrupted") == 1
    assert runs[-1]["full"] is True and runs[-1]["status"] == "ok"
    assert len(stored(db).reviews) == KILLED_REVIEWS  # fetched again, stored once


def holder_of_pages(
    client: redis.Redis, crawlers: list[subprocess.Popen[str]], reviews: list[str], site: SiteServer
) -> subprocess.Popen[str]:
    """The crawler that holds review pages it has not finished (its in-flight record in Redis)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(hit.path in reviews for hit in site.hits):
            for key in client.scan_iter("revmon:otzovik:*:inflight:*"):
                if client.hlen(key):
                    pid = int(key.decode().rsplit(":", 1)[1].split("-")[-2])
                    for proc in crawlers:
                        if proc.pid == pid:
                            return proc
        time.sleep(0.05)
    raise AssertionError("no crawler took a review page")
