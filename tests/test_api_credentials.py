"""API credentials go to the configured host only, for every client, through real httpx.

A local "platform" server redirects every request to a second server on another port (another
origin); the second server records what it receives. No configured secret may arrive there, in a
header or in the URL. And a next-page URL on another host (Mastodon's ``Link`` header) is refused
and counted, never fetched, while the pages before it are kept.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crawlers.api.errors import ApiError
from crawlers.api.mastodon import MastodonClient
from crawlers.sources import source_kinds
from tests.fixtures.api import RecordingSleep, load, make_settings, run_harvest

SECRETS = {
    "google_access_token": "secret-google-token",
    "google_client_id": "client-id-1",
    "google_client_secret": "secret-client-secret",
    "google_refresh_token": "secret-refresh-token",
    "google_places_api_key": "secret-places-key",
    "yelp_api_key": "secret-yelp-key",
    "tripadvisor_api_key": "secret-tripadvisor-key",
    "vk_access_token": "secret-vk-token",
    "mastodon_access_token": "secret-mastodon-token",
}
CLIENTS = sorted(kind.name for kind in source_kinds().values() if kind.collector == "api")


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """Another origin: what it receives is what left the configured host."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request(re.compile(".*")).respond_with_json({"error": "nothing here"}, 404)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize("name", CLIENTS)
def test_no_credential_follows_a_redirect_to_another_host(
    name: str, httpserver: HTTPServer, elsewhere: HTTPServer
) -> None:
    def redirect(request: Request) -> Response:
        return Response(status=307, headers={"Location": elsewhere.url_for(request.path)})

    httpserver.expect_request(re.compile(".*")).respond_with_handler(redirect)
    cls = source_kinds()[name].factory
    settings = make_settings(**SECRETS)

    async def go() -> None:
        async with cls(
            settings, base_url=httpserver.url_for("/"), sleep=RecordingSleep()
        ) as client:
            async for _page in client.pages(client.target_example):
                pass

    with pytest.raises(ApiError):  # the other host answers 404
        asyncio.run(go())
    assert httpserver.log, "the client never called its own host"
    assert elsewhere.log, "the redirect was not followed"
    for request, _ in elsewhere.log:
        sent = " ".join([request.url, *(f"{k}: {v}" for k, v in request.headers.items())])
        assert not [s for s in SECRETS.values() if s in sent], (name, sent)
    # the configured host did get the credentials the client needs
    own = " ".join(
        f"{request.url} {' '.join(request.headers.values())}" for request, _ in httpserver.log
    )
    needed = [SECRETS[field] for field in cls.credentials if field in SECRETS]
    if name != "google_business":  # it sends a token, the others are for refreshing it
        assert all(secret in own for secret in needed), name


def test_a_next_page_on_another_host_is_refused_and_counted(
    session, httpserver: HTTPServer, elsewhere: HTTPServer
) -> None:
    page = load("mastodon_tag_page1.json")
    httpserver.expect_request("/api/v1/timelines/tag/acmecoffee").respond_with_json(
        page, headers={"Link": f'<{elsewhere.url_for("/api/v1/timelines/tag/x")}>; rel="next"'}
    )
    settings = make_settings(mastodon_access_token=SECRETS["mastodon_access_token"])
    harvest = run_harvest(session, MastodonClient, settings, httpserver, "acmecoffee")
    assert elsewhere.log == []  # never fetched: neither the page nor the token went there
    result = harvest.result
    assert (result.status, result.items) == ("degraded", len(page))
    assert "refused" in result.error_messages[0] and "not on" in result.error_messages[0]
