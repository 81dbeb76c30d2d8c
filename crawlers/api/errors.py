"""What can go wrong talking to a platform's API, as revmon's own exceptions.

Every client translates ``httpx`` errors and odd payloads at the boundary (``raise ... from None``),
so a caller sees one of these, with a message that names the platform and, where a person can fix
it, says how. The CLI prints that message as one line; nobody sees a traceback.

    ApiError                      any API failure; ``.platform`` names the client
    ├── FatalError                the call cannot work: abort it, store nothing of it
    │   ├── ConfigError           missing token, bad TARGET, unknown platform (fix the config)
    │   └── AuthError             token rejected: expired, revoked, wrong scope (HTTP 401/403)
    ├── PageError                 this page is lost, earlier pages are kept, the run is degraded
    │   ├── BadResponse           not JSON, or JSON of an unexpected shape
    │   ├── RefusedUrl            a next-page URL on another host: never fetched
    │   └── RequestFailed         still failing after the retries
    │       ├── RateLimited       429 beyond the retries, or a Retry-After longer than we wait
    │       ├── ServerError       5xx beyond the retries
    │       └── NetworkError      timeouts, refused or reset connections beyond the retries
    └── ReplyError                a reply could not be posted
        ├── ReplyNotSupported     the platform has no reply API: answer at the review's URL
        ├── ReplyTooLong          over the platform's limit (Google: 4096 bytes)
        └── ReplyRejected         the platform said no (4xx other than auth)
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class: ``str(exc)`` is ``"PLATFORM: what happened. Fix: what to do"``."""

    def __init__(self, platform: str, message: str, fix: str | None = None) -> None:
        self.platform = platform
        self.message = message
        self.fix = fix
        text = f"{platform}: {message}"
        super().__init__(f"{text}. Fix: {fix}" if fix else text)


class FatalError(ApiError):
    """The whole call is void: its transaction is rolled back and the error is raised."""


class ConfigError(FatalError):
    """Something in the configuration or the command line must change before a retry helps."""


class AuthError(FatalError):
    """The platform refused the credentials (HTTP 401/403, or VK's error 5)."""


class PageError(ApiError):
    """One page could not be read; what came before it is kept and the run is marked degraded."""


class BadResponse(PageError):
    """The platform answered, but not with the JSON its documentation describes."""


class RefusedUrl(PageError):
    """A page named a URL on another host; it was not fetched (credentials stay home)."""


class RequestFailed(PageError):
    """The request kept failing after every retry the policy allows."""


class RateLimited(RequestFailed):
    """HTTP 429 (or the platform's own equivalent) beyond the retries or the longest wait."""


class ServerError(RequestFailed):
    """HTTP 5xx beyond the retries."""


class NetworkError(RequestFailed):
    """No HTTP answer at all (timeout, refused, reset) beyond the retries."""


class ReplyError(ApiError):
    """A reply could not be posted; nothing is marked as responded."""


class ReplyNotSupported(ReplyError):
    """The platform offers no reply API; a person answers at the review's own page."""


class ReplyTooLong(ReplyError):
    """The reply exceeds the platform's size limit; it was not sent."""


class ReplyRejected(ReplyError):
    """The platform refused the reply for a reason other than credentials."""
