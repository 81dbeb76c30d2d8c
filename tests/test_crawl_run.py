"""`revmon crawl`: every configured source in one Scrapy process, stored in PostgreSQL.

One child process runs three locations' spiders (trustpilot, a 2GIS branch whose API answers
with a malformed JSON blob, a schema.org page); the runs are recorded one by one with the status
a person can act on, the configured user agent is sent, and the other sources still land.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.config import Settings, load_settings
from revmon.cli import app
from revmon.crawl import SpiderJob, jobs_for, run_spiders, scrapy_settings
from tests.sitesupport import JSON, REPO, Reply, SiteServer, fresh_database, stored

UA = "revmon-test/1.0 (+https://northwind.example/bot)"
TWOGIS_BAD = "/2.0/branches/70000001099999999/reviews?limit=50"
# what the twogis spider requests for it: the fields it needs added (hiding_reason above all)
TWOGIS_BAD_FETCHED = TWOGIS_BAD + (
    "&fields=meta.branch_rating%2Cmeta.branch_reviews_count%2Cmeta.total_count"
    "%2Creviews.hiding_reason"
)


@pytest.fixture
def crawl_db(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def config(base: str) -> str:
    return f"""
user_agent = "{UA}"
log_level = "INFO"

[[locations]]
key = "northwind-web"
name = "Northwind online"
  [[locations.sources]]
  platform = "trustpilot"
  url = "{base}/review/example.com"
  [[locations.sources]]
  platform = "google_business"
  target = "accounts/1/locations/2"

[[locations]]
key = "northwind-nsk"
name = "Northwind Новосибирск"
timezone = "Asia/Novosibirsk"
  [[locations.sources]]
  platform = "twogis"
  url = "{base}{TWOGIS_BAD}"

[[locations]]
key = "shop"
name = "Northwind shop"
  [[locations.sources]]
  platform = "schema_org"
  url = "{base}/produkt/kawa-3000"
  [[locations.sources]]
  platform = "yelp"
  url = "https://www.yelp.com/biz/northwind"

[[locations]]
key = "rival"
name = "Rival Roasters"
is_competitor = true
  [[locations.sources]]
  platform = "telegram"
  url = "{base}/s/rival_news"
"""


def test_jobs_for_filters_and_skips_sources_without_spider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "revmon.toml"
    path.write_text(config("http://127.0.0.1:9"), encoding="utf-8")
    monkeypatch.setenv("REVMON_CONFIG", str(path))
    settings = load_settings()
    jobs = jobs_for(settings)
    assert jobs == [
        SpiderJob("trustpilot", "http://127.0.0.1:9/review/example.com", "northwind-web"),
        SpiderJob("twogis", f"http://127.0.0.1:9{TWOGIS_BAD}", "northwind-nsk"),
        SpiderJob("schema_org", "http://127.0.0.1:9/produkt/kawa-3000", "shop"),
        SpiderJob("telegram", "http://127.0.0.1:9/s/rival_news", "rival"),
    ]  # the API-only google_business target and the spider-less yelp URL are not jobs
    assert [j.spider for j in jobs_for(settings, ["twogis", "shop"])] == ["twogis", "schema_org"]
    assert jobs_for(settings, ["nothing"]) == []


def test_scrapy_settings_follow_revmon_settings() -> None:
    settings = Settings(database_url="sqlite:///x.db", user_agent=UA, obey_robots=False)
    result = scrapy_settings(settings)
    assert result["REVMON_DATABASE_URL"] == "sqlite:///x.db"
    assert result["USER_AGENT"] == UA and result.getbool("ROBOTSTXT_OBEY") is False
    assert result.getbool("AUTOTHROTTLE_ENABLED") is True
    assert "scrapy_redis" not in str(result.get("SCHEDULER"))
    assert result.get("REVMON_REDIS_URL") is None
    shared = scrapy_settings(Settings(redis_url="redis://127.0.0.1:6379/3"))
    assert shared["REVMON_REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert shared.getdict("ADDONS") == {"crawlers.distributed.DistributedAddon": 0}


def test_revmon_crawl_runs_every_source_in_one_process(tmp_path: Path, crawl_db: str) -> None:
    with SiteServer() as site:
        site.page("/review/example.com?languages=all", "trustpilot/page3.html")
        site.page(TWOGIS_BAD_FETCHED, "twogis/malformed.json", content_type=JSON)
        site.page("/produkt/kawa-3000", "schema_org/product_ru_page2.html")
        site.route("/s/rival_news", Reply(status=429, headers={"Retry-After": "3600"}))
        (tmp_path / "revmon.toml").write_text(config(site.base), encoding="utf-8")
        env = {
            **os.environ,
            "REVMON_CONFIG": str(tmp_path / "revmon.toml"),
            "REVMON_DATABASE_URL": crawl_db,
            "REVMON_DATA_DIR": str(tmp_path),
        }
        result = subprocess.run(
            [sys.executable, "-m", "revmon.cli", "crawl"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # exit 1: a source failed; the others' reviews are stored all the same
        assert result.returncode == 1, result.stdout + result.stderr[-3000:]
        assert {hit.user_agent for hit in site.hits} == {UA}
        assert site.count("/robots.txt") == 4  # each spider reads robots.txt itself
        assert site.count("/s/rival_news") == 1  # not retried: the wait is beyond the limit

    state = stored(crawl_db)
    runs = {run["source"]: run for run in state.runs}
    assert set(runs) == {"trustpilot", "twogis", "schema_org", "telegram"}
    assert (runs["trustpilot"]["items"], runs["trustpilot"]["status"]) == (2, "ok")
    assert runs["trustpilot"]["location_key"] == "northwind-web"
    bad = runs["twogis"]
    assert (bad["items"], bad["errors"], bad["status"]) == (0, 1, "failed")
    assert "2GIS reviews response: malformed JSON" in bad["error_log"][0]
    # the malformed page of one source does not stop the others
    assert (runs["schema_org"]["items"], runs["schema_org"]["status"]) == (2, "degraded")
    assert {r["location_key"] for r in state.reviews.values()} == {"northwind-web", "shop"}
    assert state.reviews["65a0b1c2d3e4f5a6b7c8d9e0"]["text"] == "Never again."
    assert "twogis [northwind-nsk] failed: 0 items, 0 new, 0 updated, 1 errors" in result.stdout
    assert "trustpilot [northwind-web] ok: 2 items, 2 new" in result.stdout
    limited = runs["telegram"]
    assert (limited["items"], limited["errors"], limited["status"]) == (0, 1, "failed")
    assert limited["error_log"] == [
        f"gave up on {site.base}/s/rival_news: the site asks to wait 3600s (Retry-After), "
        "more than REVMON_RETRY_AFTER_MAX=600s"
    ]


def test_run_spiders_refuses_a_second_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    reactor = types.SimpleNamespace(_startedBefore=True)
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", reactor)
    with pytest.raises(RuntimeError, match=r"run `revmon crawl` in a child process"):
        run_spiders(Settings(), [SpiderJob("trustpilot", "https://x.example/review/a")])


def test_revmon_crawl_with_no_matching_source_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "revmon.toml").write_text(config("http://127.0.0.1:9"), encoding="utf-8")
    monkeypatch.setenv("REVMON_CONFIG", str(tmp_path / "revmon.toml"))
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(app, ["crawl", "tripadvisor"])
    assert result.exit_code == 2
    assert "no configured source with a url matching tripadvisor" in result.output
