"""`revmon crawl`: every configured source, spiders and API clients alike, stored in PostgreSQL.

One child process collects four locations' sources: a Trustpilot page, a Google Business
Profile location through its API (the local server plays Google), a 2GIS branch whose API
answers with a malformed JSON blob, a schema.org page and a Telegram channel that asks to wait an
hour. The runs are recorded one by one with the status a person can act on, the configured user
agent is sent, the other sources still land, and the exit code says a source needs a look. A bad
source in the configuration stops revmon at start with one line naming the field.
"""

from __future__ import annotations

import json
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
from revmon.collection import run_spiders, scrapy_settings
from revmon.sources import configured_sources, select
from tests.fixtures.api import load
from tests.sitesupport import JSON, REPO, Reply, SiteServer, fresh_database, stored

UA = "revmon-test/1.0 (+https://northwind.example/bot)"
TWOGIS_BAD = "/2.0/branches/70000001099999999/reviews?limit=50"
GBP_TARGET = "accounts/108459207326582963871/locations/4791204726108523011"
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
  target = "{GBP_TARGET}"

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
  interval = 15

[[locations]]
key = "rival"
name = "Rival Roasters"
is_competitor = true
  [[locations.sources]]
  platform = "telegram"
  url = "{base}/s/rival_news"
"""


def settings_from(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    path = tmp_path / "revmon.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("REVMON_CONFIG", str(path))
    return load_settings()


def test_every_configured_source_is_matched_to_its_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(tmp_path, config("http://127.0.0.1:9"), monkeypatch)
    sources = configured_sources(settings)
    assert [(s.kind.name, s.kind.collector, s.location_key) for s in sources] == [
        ("trustpilot", "spider", "northwind-web"),
        ("google_business", "api", "northwind-web"),  # an API source is collected too
        ("twogis", "spider", "northwind-nsk"),
        ("schema_org", "spider", "shop"),
        ("telegram", "spider", "rival"),
    ]
    assert sources[1].target == GBP_TARGET and sources[1].url is None
    assert [s.interval_minutes for s in sources] == [60, 60, 60, 15, 60]
    assert len({s.key for s in sources}) == 5
    assert [s.kind.name for s in select(sources, ["twogis", "shop"])] == ["twogis", "schema_org"]
    assert [s.kind.name for s in select(sources, ["google"])] == ["google_business"]
    assert select(sources, ["nothing"]) == []


BASE_LOCATION = '[[locations]]\nkey = "{key}"\nname = "X"\n  [[locations.sources]]\n'


@pytest.mark.parametrize(
    ("source", "key", "message"),
    [
        (
            'platform = "yelp"\n  url = "https://www.yelp.com/biz/x"',
            "x",
            "locations.0.sources.0.url: yelp is collected through its API; give `target`",
        ),
        ('platform = "trustpilot"\n  name = "trustpiolt"\n  url = "https://a.b/r"', "x",
         "locations.0.sources.0.name: no spider or API client 'trustpiolt'"),
        (
            'platform = "google"\n  target = "accounts/1/locations/2"',
            "x",
            "set `name` to one of google_business, google_places",
        ),
        ('platform = "trustpilot"\n  url = "file:///etc/passwd"', "x",
         "locations.0.sources.0.url: Value error, 'file:///etc/passwd' is not an http(s) URL"),
        ('platform = "myspace"\n  url = "https://a.b/r"', "x",
         "locations.0.sources.0.platform: Value error, unknown platform 'myspace'"),
        ('platform = "trustpilot"\n  url = "https://a.b/r"', "k" * 80,
         "locations.0.key: String should have at most 64 characters"),
        ('platform = "schema_org"\n  target = "x"', "x",
         "locations.0.sources.0.url: the schema_org spider needs a start URL"),
        ('platform = "trustpilot"\n  url = "https://a.b/r"\n  intervall = 5', "x",
         "locations.0.sources.0.intervall: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_source_stops_revmon_at_start_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, key: str, message: str
) -> None:
    (tmp_path / "revmon.toml").write_text(
        BASE_LOCATION.format(key=key) + "  " + source + "\n", encoding="utf-8"
    )
    monkeypatch.setenv("REVMON_CONFIG", str(tmp_path / "revmon.toml"))
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(app, ["crawl"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("revmon: bad configuration: ")
    assert message in lines[0]
    assert not (tmp_path / "r.db").exists()  # nothing ran


def test_scrapy_settings_follow_revmon_settings() -> None:
    settings = Settings(database_url="sqlite:///x.db", user_agent=UA, obey_robots=False)
    result = scrapy_settings(settings)
    assert result["REVMON_DATABASE_URL"] == "sqlite:///x.db"
    assert result["USER_AGENT"] == UA and result.getbool("ROBOTSTXT_OBEY") is False
    assert result.getbool("AUTOTHROTTLE_ENABLED") is True
    assert "scrapy_redis" not in str(result.get("SCHEDULER"))
    assert result.get("REVMON_REDIS_URL") is None
    assert result.getdict("DOWNLOAD_HANDLERS") == {
        "file": None, "data": None, "s3": None, "ftp": None
    }  # fmt: skip
    shared = scrapy_settings(Settings(redis_url="redis://127.0.0.1:6379/3"))
    assert shared["REVMON_REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert shared.getdict("ADDONS") == {"crawlers.distributed.DistributedAddon": 0}


def test_revmon_crawl_collects_spiders_and_api_sources_in_one_process(
    tmp_path: Path, crawl_db: str
) -> None:
    with SiteServer() as site:
        site.page("/review/example.com?languages=all", "trustpilot/page3.html")
        site.page(TWOGIS_BAD_FETCHED, "twogis/malformed.json", content_type=JSON)
        site.page("/produkt/kawa-3000", "schema_org/product_ru_page2.html")
        site.route("/s/rival_news", Reply(status=429, headers={"Retry-After": "3600"}))
        google = json.dumps(load("google_business_reviews_page2.json"))
        site.route(
            f"/v4/{GBP_TARGET}/reviews?pageSize=50&orderBy=updateTime+desc",
            Reply(body=google, content_type=JSON),
        )
        (tmp_path / "revmon.toml").write_text(config(site.base), encoding="utf-8")
        env = {
            **os.environ,
            "REVMON_CONFIG": str(tmp_path / "revmon.toml"),
            "REVMON_DATABASE_URL": crawl_db,
            "REVMON_DATA_DIR": str(tmp_path),
            "REVMON_GOOGLE_ACCESS_TOKEN": "token-for-the-local-google",
            "REVMON_API__BASE_URLS__GOOGLE_BUSINESS": site.base,
        }
        result = subprocess.run(
            [sys.executable, "-m", "revmon.cli", "crawl"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # exit 1: sources failed or degraded; the others' reviews are stored all the same
        assert result.returncode == 1, result.stdout + result.stderr[-3000:]
        assert {hit.user_agent for hit in site.hits} == {UA}
        assert site.count("/robots.txt") == 4  # each spider reads robots.txt itself
        assert site.count("/s/rival_news") == 1  # not retried: the wait is beyond the limit

    state = stored(crawl_db)
    runs = {run["source"]: run for run in state.runs}
    assert set(runs) == {"trustpilot", "google_business", "twogis", "schema_org", "telegram"}
    assert (runs["trustpilot"]["items"], runs["trustpilot"]["status"]) == (2, "ok")
    assert runs["trustpilot"]["location_key"] == "northwind-web"
    api = runs["google_business"]
    assert (api["status"], api["items"], api["location_key"]) == ("ok", 2, "northwind-web")
    assert api["target"] == GBP_TARGET and api["complete"] is True
    bad = runs["twogis"]
    assert (bad["items"], bad["errors"], bad["status"]) == (0, 1, "failed")
    assert bad["outcomes"] == {"parse_error": 1} and bad["complete"] is False
    assert "2GIS reviews response: malformed JSON" in bad["error_log"][0]
    # the malformed page of one source does not stop the others
    assert (runs["schema_org"]["items"], runs["schema_org"]["status"]) == (2, "degraded")
    assert {r["location_key"] for r in state.reviews.values()} == {"northwind-web", "shop"}
    assert state.reviews["65a0b1c2d3e4f5a6b7c8d9e0"]["text"] == "Never again."
    assert "twogis [northwind-nsk] failed: 0 items, 0 new, 0 updated, 1 errors" in result.stdout
    assert "trustpilot [northwind-web] ok: 2 items, 2 new" in result.stdout
    assert "google_business [northwind-web] ok: 2 items, 2 new" in result.stdout
    limited = runs["telegram"]
    assert (limited["items"], limited["errors"], limited["status"]) == (0, 1, "failed")
    assert limited["outcomes"] == {"http_429": 1}
    assert limited["error_log"] == [
        f"{site.base}/s/rival_news: gave up on {site.base}/s/rival_news: the site asks to wait "
        "3600s (Retry-After), more than REVMON_RETRY_AFTER_MAX=600s"
    ]
    assert all(run["owner"] and run["finished_at"] for run in state.runs)


def test_run_spiders_refuses_a_second_reactor(monkeypatch: pytest.MonkeyPatch) -> None:
    reactor = types.SimpleNamespace(_startedBefore=True)
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", reactor)
    with pytest.raises(RuntimeError, match=r"run `revmon crawl` in a child process"):
        run_spiders(Settings(), [])


def test_revmon_crawl_with_no_matching_source_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "revmon.toml").write_text(config("http://127.0.0.1:9"), encoding="utf-8")
    monkeypatch.setenv("REVMON_CONFIG", str(tmp_path / "revmon.toml"))
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(app, ["crawl", "tripadvisor"])
    assert result.exit_code == 2
    assert "no configured source matching tripadvisor" in result.output
