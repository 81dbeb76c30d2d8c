"""``revmon collect`` end to end: a local server, a SQLite file, JSON lines out, exit codes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pipeline.db import make_engine
from pipeline.models import CrawlRun, Review
from revmon.cli import app
from tests.fixtures.api import load

GBP_TARGET = "accounts/108459207326582963871/locations/4791204726108523011"
GBP_PATH = f"/v4/{GBP_TARGET}/reviews"
APP_PATH = "/pl/rss/customerreviews/page={}/id=987654321/sortby=mostrecent/json"


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A fresh SQLite file and an environment of our own (no revmon.toml, no stray tokens)."""
    url = f"sqlite:///{tmp_path / 'revmon.db'}"
    monkeypatch.chdir(tmp_path)
    for name in ("REVMON_CONFIG", "REVMON_GOOGLE_ACCESS_TOKEN", "REVMON_GOOGLE_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVMON_DATABASE_URL", url)
    monkeypatch.setenv("REVMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REVMON_API__MAX_ATTEMPTS", "1")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def counts(engine) -> tuple[int, list[str]]:
    with engine.connect() as conn:
        reviews = conn.scalar(select(func.count()).select_from(Review))
        statuses = list(conn.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))
    return reviews, statuses


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_collect_google_business_stores_and_writes_jsonl(
    database, httpserver, tmp_path, monkeypatch
):
    monkeypatch.setenv("REVMON_GOOGLE_ACCESS_TOKEN", "cli-token")
    auth = {"Authorization": "Bearer cli-token"}
    httpserver.expect_request(
        GBP_PATH, headers=auth, query_string={"pageSize": "50", "orderBy": "updateTime desc"}
    ).respond_with_json(load("google_business_reviews_page1.json"))
    httpserver.expect_request(GBP_PATH, headers=auth).respond_with_json(
        load("google_business_reviews_page2.json")
    )
    out = tmp_path / "out.jsonl"

    result = invoke(
        "collect",
        "google_business",
        GBP_TARGET,
        "--base-url",
        httpserver.url_for("/"),
        "-O",
        str(out),
        "--location",
        "cafe",
    )

    assert result.exit_code == 0, result.output
    assert (
        "google_business " + GBP_TARGET + ": 5 items (5 new, 0 updated) from 2 pages"
        in result.stdout
    )
    assert "status ok" in result.stdout
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 5
    assert lines[0] == {
        "platform": "google",
        "external_id": "AbFvOqm01xQ7kZlQeV2wYbTnR4sHcJ9pLd",
        "url": "https://business.google.com/reviews",
        "text": "Waited 40 minutes for a cold pizza. The waiter was rude when we asked.",
        "published_at": "2024-03-04T19:02:11.318Z",
        "kind": "review",
        "location_key": "cafe",
        "author": "Anna Kowalska",
        "rating": 1.0,
        "title": None,
        "language": None,
        "reply_text": None,
        "reply_at": None,
        "raw": load("google_business_reviews_page1.json")["reviews"][0],
        "published_estimated": False,
        "removed": False,
    }
    assert counts(database) == (5, ["ok"])


def test_collect_app_store_writes_jsonl(database, httpserver, tmp_path):
    httpserver.expect_request(APP_PATH.format(1)).respond_with_json(load("app_store_page1.json"))
    httpserver.expect_request(APP_PATH.format(2)).respond_with_json(load("app_store_page2.json"))
    out = tmp_path / "app.jsonl"

    result = invoke(
        "collect",
        "app_store",
        "pl/987654321",
        "--base-url",
        httpserver.url_for("/"),
        "-O",
        str(out),
    )

    assert result.exit_code == 0, result.output
    assert "51 items (51 new, 0 updated) from 2 pages, 0 errors, status ok" in result.stdout
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 51
    assert json.loads(lines[0])["rating"] == 2.0
    assert counts(database) == (51, ["ok"])


def test_an_expired_token_exits_2_with_one_line_and_stores_nothing(
    database, httpserver, tmp_path, monkeypatch
):
    monkeypatch.setenv("REVMON_GOOGLE_ACCESS_TOKEN", "expired")
    httpserver.expect_request(GBP_PATH).respond_with_json(
        {
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED",
            }
        },
        status=401,
    )
    out = tmp_path / "out.jsonl"

    result = invoke(
        "collect",
        "google_business",
        GBP_TARGET,
        "--base-url",
        httpserver.url_for("/"),
        "-O",
        str(out),
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("revmon: google_business: the credentials were refused (HTTP 401")
    assert "Fix: set REVMON_GOOGLE_ACCESS_TOKEN" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert counts(database) == (0, ["failed"])


def test_a_missing_token_exits_2_naming_the_variable(database, httpserver):
    result = invoke("collect", "google_business", GBP_TARGET, "--base-url", httpserver.url_for("/"))

    assert result.exit_code == 2
    assert "no Google OAuth token configured. Fix: set REVMON_GOOGLE_ACCESS_TOKEN" in result.stderr
    assert httpserver.log == []


def test_an_unknown_platform_exits_2_listing_the_known_ones(database):
    result = invoke("collect", "myspace", "x")

    assert result.exit_code == 2
    assert "myspace: no API client of that name. Fix: use one of" in result.stderr
    assert "app_store" in result.stderr and "google_business" in result.stderr


def test_a_malformed_page_exits_1_keeping_what_came_before(database, httpserver, monkeypatch):
    # the base URL from the environment, as a deployment would set it
    monkeypatch.setenv("REVMON_API__BASE_URLS__APP_STORE", httpserver.url_for("/"))
    httpserver.expect_request(APP_PATH.format(1)).respond_with_json(load("app_store_page1.json"))
    httpserver.expect_request(APP_PATH.format(2)).respond_with_data("<html>captcha</html>")

    result = invoke("collect", "app_store", "pl/987654321")

    assert result.exit_code == 1
    assert "50 items (50 new, 0 updated) from 2 pages, 1 errors, status degraded" in result.stdout
    assert "error: app_store: GET" in result.stderr and "is not JSON" in result.stderr
    assert counts(database) == (50, ["degraded"])


def test_collect_and_reply_have_help():
    for command in ("collect", "reply"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Usage" in result.output
