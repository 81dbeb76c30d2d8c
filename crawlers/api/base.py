"""What every API client shares: one long-lived ``httpx.AsyncClient`` and one retry policy.

Retries are a small loop of our own rather than tenacity: the wait depends on the response
(``Retry-After`` in seconds or as an HTTP date, ``x-ratelimit-*`` headers, VK's HTTP-200 errors),
and a loop that reads the response says that more plainly than a tenacity strategy would.

- 5xx and network errors: exponential backoff with jitter, ``api.max_attempts`` tries in all.
- 429: wait what ``Retry-After`` says (backoff when it says nothing); a wait longer than
  ``api.max_wait_s`` is not slept through but reported as :class:`RateLimited`.
- ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset``: the next request waits for the reset.
- 401/403: :class:`AuthError` naming the fix (after one credential refresh where a client can).
- other 4xx: :class:`ConfigError` (a wrong TARGET or base URL), never retried.
- secrets: every error is scrubbed of the configured ``SecretStr`` values (servers echo request
  URLs in error pages); logs are kept clean by :mod:`pipeline.logs` (httpx's request lines off).
- hosts: credentials go only to the configured base URL's host. A next-page URL that names
  another host (a ``Link`` header, a cursor) is refused as a :class:`RefusedUrl` page error, and
  a redirect to another host is followed without the credential headers.

A subclass names itself, parses its TARGET, and turns pages of the platform's JSON into
:class:`Page` objects of ReviewItems; it knows nothing of the database (``collect.py`` does).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import SecretStr

from crawlers.api.errors import (
    ApiError,
    AuthError,
    BadResponse,
    ConfigError,
    NetworkError,
    RateLimited,
    RefusedUrl,
    ServerError,
)
from crawlers.backoff import backoff_delay, seconds_until
from crawlers.items import ReviewItem
from pipeline import logs
from pipeline.config import ApiConfig, Settings

log = logging.getLogger(__name__)


logs.install()  # httpx logs each request's URL at INFO; VK and TripAdvisor keys ride there

Sleep = Callable[[float], Awaitable[Any]]
T = TypeVar("T")
RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a client is; built from ``Settings.api`` so users can tune it."""

    max_attempts: int = 4
    backoff_s: float = 0.5
    backoff_cap_s: float = 30.0
    max_wait_s: float = 120.0

    @classmethod
    def from_config(cls, config: ApiConfig) -> RetryPolicy:
        return cls(max_attempts=config.max_attempts, max_wait_s=config.max_wait_s)

    def backoff(self, attempt: int) -> float:
        """Exponential with jitter, so many clients do not come back at the same instant."""
        return backoff_delay(attempt - 1, self.backoff_s, self.backoff_cap_s, jitter=True)


@dataclass
class Page:
    """One response's worth of items, the per-record errors, and the totals the platform claims."""

    items: list[ReviewItem]
    errors: list[str] = field(default_factory=list)
    total: int | None = None
    rating: float | None = None


@dataclass(frozen=True)
class PostedReply:
    """What the platform stored as the business's reply."""

    text: str
    at: str | None = None


class ApiClient(ABC):
    """Base of every platform client: use as ``async with Client(settings) as client:``."""

    name: ClassVar[str]  # the client's name in the registry and on the command line
    platform: ClassVar[str]  # ReviewItem.platform of what it yields
    default_base_url: ClassVar[str]
    target_example: ClassVar[str]
    auth_fix: ClassVar[str] = "check the API credentials in the REVMON_* environment"
    credentials: ClassVar[tuple[str, ...]] = ()  # the settings (REVMON_<FIELD>) it reads
    default_interval_minutes: ClassVar[float | None] = None  # None: the service's default

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.policy = RetryPolicy.from_config(settings.api)
        self.max_pages = settings.api.max_pages
        chosen = base_url or settings.api.base_urls.get(self.name) or self.default_base_url
        self.base_url = chosen.rstrip("/")
        self.origin = _origin(httpx.URL(self.base_url))
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=settings.api.timeout_s,
            headers={"User-Agent": settings.user_agent, "Accept": "application/json"},
            transport=transport,
            follow_redirects=True,
            event_hooks={"request": [self._keep_credentials_home]},
        )
        self._sleep = sleep
        self._pause_s = 0.0
        self._credential_headers: set[str] = set()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @abstractmethod
    def pages(self, target: str) -> AsyncIterator[Page]:
        """Yield the target's pages, newest first, until the platform has no more."""

    # -- hooks a platform overrides -------------------------------------------------------------

    async def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request; raise ConfigError when credentials are missing."""
        return {}

    async def refresh_credentials(self) -> bool:
        """Get fresh credentials after a 401; True when a retry may now succeed."""
        return False

    def verdict(self, response: httpx.Response) -> tuple[ApiError, float] | None:
        """None when ``response`` is usable; (error, delay) to retry; raises when hopeless."""
        status = response.status_code
        if status in (401, 403):
            raise self.auth_error(response)
        if status == 429:
            wait = retry_after(response)
            error = RateLimited(
                self.name, f"HTTP 429 for {_where(response)}{error_detail(response)}"
            )
            return error, -1.0 if wait is None else wait
        if status >= 500:
            error = ServerError(
                self.name, f"HTTP {status} for {_where(response)}{error_detail(response)}"
            )
            return error, -1.0
        if status >= 400:
            raise self.client_error(response)
        return None

    def auth_error(self, response: httpx.Response) -> AuthError:
        return AuthError(
            self.name,
            f"the credentials were refused (HTTP {response.status_code}{error_detail(response)})",
            self.auth_fix,
        )

    def client_error(self, response: httpx.Response) -> ApiError:
        return ConfigError(
            self.name,
            f"HTTP {response.status_code} for {_where(response)}{error_detail(response)}",
            f"check the TARGET (e.g. {self.target_example!r}) and the base URL {self.base_url}",
        )

    # -- requests -------------------------------------------------------------------------------

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with the shared retry, rate-limit and error policy (module docstring)."""
        try:
            return await self._send(method, url, **kwargs)
        except ApiError as exc:
            raise self.scrub(exc) from None

    def _check_host(self, url: str) -> None:
        """Refuse a URL on another host: a page must not steer the client, or its keys, away."""
        target = httpx.URL(url)
        if target.is_absolute_url and _origin(target) != self.origin:
            raise RefusedUrl(
                self.name,
                f"refused {target.copy_with(query=None)}: not on {self.base_url}",
                "set the client's base URL if the platform moved",
            )

    async def _keep_credentials_home(self, request: httpx.Request) -> None:
        """httpx hook, redirects included: no credential header leaves the configured host."""
        if _origin(request.url) != self.origin:
            for name in self._credential_headers:
                request.headers.pop(name, None)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._check_host(url)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            await self._wait_for_rate_limit()
            credentials = await self.auth_headers()
            self._credential_headers.update(credentials)
            headers = {**credentials, **kwargs.get("headers", {})}
            try:
                response = await self.http.request(method, url, **{**kwargs, "headers": headers})
            except httpx.TransportError as exc:
                outcome: tuple[ApiError, float] | None = (
                    NetworkError(self.name, f"{method} {url}: {type(exc).__name__}: {exc}"),
                    -1.0,
                )
            else:
                self._note_rate_limit(response)
                if response.status_code == 401 and not refreshed:
                    refreshed = True
                    if await self.refresh_credentials():
                        attempt -= 1
                        continue
                outcome = self.verdict(response)
                if outcome is None:
                    return response
            error, wait = outcome
            if wait > self.policy.max_wait_s:
                raise type(error)(self.name, f"{error.message}; asked to wait {wait:.0f} s")
            delay = self.policy.backoff(attempt) if wait < 0 else wait
            if attempt >= self.policy.max_attempts:
                raise type(error)(self.name, f"{error.message} (gave up after {attempt} tries)")
            log.warning("%s; retrying in %.1f s (try %d)", self.scrub(error), delay, attempt + 1)
            await self._sleep(delay)

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and decode; a body that is not JSON is a :class:`BadResponse` for this page."""
        response = await self.send("GET", url, **kwargs)
        return self.decode(response)

    def scrub(self, error: ApiError) -> ApiError:
        """``error`` with any configured secret blanked: servers echo requests in error pages."""
        message = error.message
        for secret in self._secrets():
            message = message.replace(secret, "[secret]")
        return (
            error if message == error.message else type(error)(error.platform, message, error.fix)
        )

    def _secrets(self) -> list[str]:
        values = (getattr(self.settings, name) for name in type(self.settings).model_fields)
        return [
            v.get_secret_value()
            for v in values
            if isinstance(v, SecretStr) and v.get_secret_value()
        ]

    def decode(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            start = response.text[:60]
            error = BadResponse(self.name, f"{_where(response)} is not JSON (starts {start!r})")
            raise self.scrub(error) from None

    def _note_rate_limit(self, response: httpx.Response) -> None:
        """Remember an exhausted quota (Reddit, Mastodon, GitHub style headers) for next time."""
        remaining = _number(response.headers.get("x-ratelimit-remaining"))
        reset = response.headers.get("x-ratelimit-reset")
        if remaining is not None and remaining < 1 and reset:
            self._pause_s = seconds_until(reset) or 0.0

    async def _wait_for_rate_limit(self) -> None:
        pause, self._pause_s = self._pause_s, 0.0
        if pause <= 0:
            return
        if pause > self.policy.max_wait_s:
            raise RateLimited(self.name, f"the quota is used up for the next {pause:.0f} s")
        log.info("%s: quota used up, waiting %.1f s for the reset", self.name, pause)
        await self._sleep(pause)

    # -- helpers for subclasses -----------------------------------------------------------------

    def map_records(
        self, records: Iterable[Any], to_item: Callable[[Any], ReviewItem | None]
    ) -> tuple[list[ReviewItem], list[str]]:
        """Map each record; one bad record is an error message, never a lost page."""
        items: list[ReviewItem] = []
        errors: list[str] = []
        for number, record in enumerate(records, 1):
            try:
                item = to_item(record)
            except RECORD_ERRORS as exc:
                errors.append(f"{self.name}: record {number}: {type(exc).__name__}: {exc}")
                continue
            if item is not None:
                items.append(item)
        return items, errors

    def expect(self, value: Any, kind: type, what: str) -> Any:
        """``value`` if it is a ``kind``, else BadResponse: the platform changed its format."""
        if not isinstance(value, kind):
            raise BadResponse(self.name, f"{what}: expected {kind.__name__}, got {_kind(value)}")
        return value

    def bad_target(self, target: str, shape: str) -> ConfigError:
        return ConfigError(
            self.name, f"bad TARGET {target!r}", f"give {shape}, e.g. {self.target_example!r}"
        )

    def secret(self, field: str, what: str) -> str:
        """Secret setting ``field`` (env ``REVMON_<FIELD>``); ConfigError naming it when unset."""
        value = getattr(self.settings, field)
        if value is None:
            raise ConfigError(self.name, f"no {what} configured", f"set REVMON_{field.upper()}")
        return str(value.get_secret_value())


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds; it is either a number of seconds or an HTTP date."""
    return seconds_until(response.headers.get("retry-after"))


def unix_to_iso(value: float | int | str) -> str:
    """A Unix timestamp as ISO 8601 UTC, the form ReviewItem carries."""
    return datetime.fromtimestamp(float(value), UTC).isoformat()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _where(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.copy_with(query=None)}"


def error_detail(response: httpx.Response) -> str:
    """The platform's own reason, short; the error shapes differ, so look in the usual places."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:120]
        return f": {text}" if text else ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f": {error.get('message') or error.get('description') or error.get('status')}"
        for key in ("error_description", "message", "Message", "error"):
            if isinstance(body.get(key), str):
                return f": {body[key]}"
    return ""


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
