"""The shared client policy through httpx's mock transport: network retries, waits, decoding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from crawlers.api.base import ApiClient, Page, RetryPolicy
from crawlers.api.errors import BadResponse, ConfigError, NetworkError, ServerError
from crawlers.backoff import seconds_until
from tests.fixtures.api import RecordingSleep, make_settings


class EchoClient(ApiClient):
    name = "echo"
    platform = "reddit"
    default_base_url = "https://echo.invalid"
    target_example = "anything"

    async def pages(self, target: str) -> AsyncIterator[Page]:  # pragma: no cover - unused
        yield Page([])


def call(handler, sleep=None, **settings):
    """GET /x through a mock transport answering with ``handler``."""

    async def go():
        client = EchoClient(
            make_settings(**settings),
            transport=httpx.MockTransport(handler),
            sleep=sleep or RecordingSleep(),
        )
        async with client:
            return await client.get_json("/x")

    return asyncio.run(go())


def test_network_errors_are_retried_then_succeed():
    answers = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), {"ok": True}])

    def handler(request):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(200, json=answer)

    sleep = RecordingSleep()
    assert call(handler, sleep) == {"ok": True}
    assert len(sleep.waits) == 2
    assert 0.25 <= sleep.waits[0] <= 0.5 and 0.5 <= sleep.waits[1] <= 1.0  # doubling, jittered


def test_network_errors_beyond_the_retries_name_the_platform():
    def handler(request):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(NetworkError) as error:
        call(handler)
    assert str(error.value) == (
        "echo: GET /x: ConnectError: connection refused (gave up after 3 tries)"
    )


def test_a_503_is_retried_with_backoff():
    answers = iter([503, 200])

    def handler(request):
        status = next(answers)
        return httpx.Response(status, json={"n": status})

    assert call(handler) == {"n": 200}


def test_retry_after_as_an_http_date():
    later = datetime.now(UTC) + timedelta(seconds=20)
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": format_datetime(later, usegmt=True)})]
    )

    def handler(request):
        return next(answers, httpx.Response(200, json=[]))

    sleep = RecordingSleep()
    assert call(handler, sleep) == []
    assert len(sleep.waits) == 1 and 17 <= sleep.waits[0] <= 20


def test_other_4xx_are_config_errors_and_not_retried():
    hits = []

    def handler(request):
        hits.append(request)
        return httpx.Response(404, json={"message": "Not Found"})

    with pytest.raises(ConfigError, match=r"HTTP 404 for GET https://echo.invalid/x: Not Found"):
        call(handler)
    assert len(hits) == 1


def test_5xx_failure_keeps_the_platforms_reason():
    def handler(request):
        return httpx.Response(500, json={"error": {"message": "Backend Error"}})

    with pytest.raises(ServerError, match="HTTP 500 for GET https://echo.invalid/x: Backend Error"):
        call(handler)


def test_a_body_that_is_not_json_is_a_bad_response():
    def handler(request):
        return httpx.Response(200, text="<!doctype html><title>Just a moment...</title>")

    with pytest.raises(BadResponse, match="is not JSON \\(starts '<!doctype html>"):
        call(handler)


def test_requests_carry_the_user_agent():
    seen = []

    def handler(request):
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json={})

    call(handler, user_agent="revmon-test/1.0 (+ops@example.com)")
    assert seen == ["revmon-test/1.0 (+ops@example.com)"]


def in_30s() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("make_value", "low", "high"),
    [
        (lambda: "12", 12, 12),
        (lambda: "0.5", 0.5, 0.5),
        (lambda: str(int(in_30s().timestamp())), 28, 30),  # Unix time (GitHub style)
        (lambda: in_30s().isoformat(), 28, 30),  # ISO 8601 (Mastodon)
        (lambda: "2001-01-01T00:00:00Z", 0, 0),  # in the past: no wait
    ],
    ids=["seconds", "fraction", "unix", "iso", "past"],
)
def test_seconds_until(make_value, low, high):
    assert low <= seconds_until(make_value()) <= high


def test_seconds_until_rejects_garbage():
    assert seconds_until("soon") is None


def test_backoff_is_capped():
    policy = RetryPolicy(backoff_s=1, backoff_cap_s=4)
    assert all(2 <= policy.backoff(n) <= 4 for n in range(3, 10))
