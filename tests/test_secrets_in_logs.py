"""No secret reaches a log, at any level: every alert channel and an API client run through the
real command line against local servers (aiosmtpd, pytest-httpserver) with logging at DEBUG, and
every captured record is searched for every configured secret (and its URL-encoded form)."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from pipeline import logs
from pipeline.db import make_engine, session_factory
from revmon.cli import app
from tests.fixtures.api import load
from tests.local_smtp import smtp_server
from tests.seeding import review

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

TG_TOKEN = "7012345678:AAH-tg-bot-secret"
SLACK_PATH = "/services/T0SECRET/B0SECRET/slack-hook-secret"
HOOK_PATH = "/hooks/env-url-secret-path"
SMTP_PASSWORD = "mail-secret-pass"
HOOK_KEY = "whsec-hmac-secret"
VK_TOKEN = "vk1.a:vk-secret/token+42"


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text or quote(s, safe="") in text]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it: message, traceback and stack."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def theirs(record: logging.LogRecord) -> bool:
    """The local SMTP server's own protocol trace (aiosmtpd), not revmon's."""
    return record.name.startswith("mail.log")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVMON_DATABASE_URL", f"sqlite:///{tmp_path / 'revmon.db'}")
    monkeypatch.setenv("REVMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REVMON_LOG_LEVEL", "DEBUG")
    return tmp_path


def test_every_channel_runs_without_a_secret_in_any_log(
    cli_env: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = Counter[str]()

    def echo_then_ok(request: Request) -> Response:
        """The first call to each channel fails echoing the URL, as error pages do."""
        calls[request.path] += 1
        if calls[request.path] == 1:
            return Response(f"upstream error for {request.url}", status=502)
        if "/sendMessage" in request.path:
            return Response('{"ok": true}', content_type="application/json")
        return Response("ok")

    for path in (SLACK_PATH, f"/tg/bot{TG_TOKEN}/sendMessage", HOOK_PATH):
        httpserver.expect_request(path, method="POST").respond_with_handler(echo_then_ok)
    with smtp_server(user="revmon", password=SMTP_PASSWORD) as (inbox, port):
        config = cli_env / "revmon.toml"
        config.write_text(
            f"""
[[locations]]
key = "main"
name = "Main Street"

[alerts.channels.mail]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
username = "revmon"
password_env = "REVMON_T_SMTP_PASSWORD"
from_addr = "revmon@example.test"
to = ["manager@example.test"]

[alerts.channels.slack]
type = "slack"
webhook_url_env = "REVMON_T_SLACK_URL"

[alerts.channels.tg]
type = "telegram"
base_url = "{httpserver.url_for("/tg")}"
bot_token_env = "REVMON_T_TG_TOKEN"
chat_id = "42"

[alerts.channels.hook]
type = "webhook"
url_env = "REVMON_T_HOOK_URL"
secret_env = "REVMON_T_HOOK_KEY"

[[alerts.rules]]
name = "neg"
channels = ["mail", "slack", "tg", "hook"]
negative = true

[alerts.retry]
base_seconds = 0.01
""",
            encoding="utf-8",
        )
        env = {
            "REVMON_CONFIG": str(config),
            "REVMON_T_SMTP_PASSWORD": SMTP_PASSWORD,
            "REVMON_T_SLACK_URL": httpserver.url_for(SLACK_PATH),
            "REVMON_T_TG_TOKEN": TG_TOKEN,
            "REVMON_T_HOOK_URL": httpserver.url_for(HOOK_PATH),
            "REVMON_T_HOOK_KEY": HOOK_KEY,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        runner = CliRunner()
        assert runner.invoke(app, ["init"]).exit_code == 0
        engine = make_engine(f"sqlite:///{cli_env / 'revmon.db'}")
        with session_factory(engine).begin() as session:
            review(session, seen=datetime.now(UTC), text="Cold coffee and a rude welcome")
        engine.dispose()

        caplog.set_level(logging.DEBUG)
        first = runner.invoke(app, ["alerts"])
        time.sleep(0.1)  # past the backoff
        second = runner.invoke(app, ["alerts"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "sent 1, failed 3" in first.stdout and "sent 3, failed 0" in second.stdout
    assert len(inbox.messages) == 1
    assert sum(calls.values()) == 6  # each HTTP channel failed once, then delivered

    secrets = [SMTP_PASSWORD, HOOK_KEY, TG_TOKEN, env["REVMON_T_SLACK_URL"], SLACK_PATH]
    secrets += [env["REVMON_T_HOOK_URL"], HOOK_PATH]
    ours = [r for r in caplog.records if not theirs(r)]
    assert any(r.name == "pipeline.outbox" for r in ours)  # the failures were logged ...
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # ... and DEBUG was on
    assert secrets_in("\n".join(r.getMessage() for r in ours), secrets) == []
    assert secrets_in(everything_logged(caplog), secrets[1:]) == []
    assert secrets_in(first.output + second.output, secrets) == []


def test_an_api_client_leaves_no_key_in_any_log(
    cli_env: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """VK carries its token in the query; the server's error page echoes it percent-encoded."""
    monkeypatch.setenv("REVMON_VK_ACCESS_TOKEN", VK_TOKEN)
    monkeypatch.setenv("REVMON_API__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("REVMON_API__MAX_WAIT_S", "1")
    calls = Counter[str]()

    def flaky(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response(f"overloaded: {request.query_string.decode()}", status=503)
        return Response(
            json.dumps(load("vk_wall_search_page2.json")),
            content_type="application/json",
        )

    httpserver.expect_request("/method/wall.search").respond_with_handler(flaky)
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(
        app, ["collect", "vk", "acmecoffee:latte", "--base-url", httpserver.url_for("/")]
    )
    assert result.exit_code == 0, result.output
    assert calls["n"] >= 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("retrying" in w for w in warnings)  # the echo was logged, masked
    assert secrets_in(everything_logged(caplog), [VK_TOKEN]) == []
    assert secrets_in(result.output, [VK_TOKEN]) == []


def test_redaction_masks_the_forms_a_secret_takes() -> None:
    logs.protect("https://hooks.example.test/services/T9/B9/abcdef", "tok:en/with+chars")
    text = (
        "POST https://hooks.example.test/services/T9/B9/abcdef /services/T9/B9/abcdef "
        "tok%3Aen%2Fwith%2Bchars"
    )
    assert logs.redact(text) == f"POST {logs.MASK} {logs.MASK} {logs.MASK}"
    logs.protect("abc", None, "")  # too short to mask safely, or nothing: ignored
    assert logs.redact("abc") == "abc"
