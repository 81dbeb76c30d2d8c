"""Google Business Profile API v4: the owner's reviews of one location, and replies to them.

TARGET is the location's resource name, ``accounts/{a}/locations/{l}``. Reviews come newest
first (``orderBy=updateTime desc``, 50 a page, ``nextPageToken`` until absent). The OAuth token is
``REVMON_GOOGLE_ACCESS_TOKEN``; with ``REVMON_GOOGLE_CLIENT_ID``, ``..._CLIENT_SECRET`` and
``..._REFRESH_TOKEN`` revmon fetches one itself and fetches a fresh one when Google says 401.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from crawlers.api.base import ApiClient, Page, PostedReply, error_detail
from crawlers.api.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ReplyNotSupported,
    ReplyRejected,
    ReplyTooLong,
)
from crawlers.items import ReviewItem
from pipeline.text import plain_text

STARS = {"ONE": 1.0, "TWO": 2.0, "THREE": 3.0, "FOUR": 4.0, "FIVE": 5.0}
TARGET = re.compile(r"^accounts/[^/\s]+/locations/[^/\s]+$")
REVIEW_NAME = re.compile(r"^accounts/[^/\s]+/locations/[^/\s]+/reviews/[^/\s]+$")
REPLY_LIMIT_BYTES = 4096
PAGE_SIZE = 50
# The API gives no per-review link; this is where the owner reads and answers them.
REVIEWS_URL = "https://business.google.com/reviews"
OAUTH_BASE_URL = "https://oauth2.googleapis.com"


class GoogleBusinessClient(ApiClient):
    """Reviews of a location its owner manages, plus ``post_reply`` via ``updateReply``."""

    name = "google_business"
    platform = "google"
    credentials = (
        "google_access_token",
        "google_client_id",
        "google_client_secret",
        "google_refresh_token",
    )
    default_base_url = "https://mybusiness.googleapis.com"
    target_example = "accounts/123/locations/456"
    auth_fix = (
        "set REVMON_GOOGLE_ACCESS_TOKEN to a fresh OAuth token with scope business.manage, or "
        "set REVMON_GOOGLE_CLIENT_ID, REVMON_GOOGLE_CLIENT_SECRET and REVMON_GOOGLE_REFRESH_TOKEN "
        "so that revmon refreshes it"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        static = self.settings.google_access_token
        self._token: str | None = static.get_secret_value() if static else None

    async def pages(self, target: str) -> AsyncIterator[Page]:
        if not TARGET.match(target):
            raise self.bad_target(target, "accounts/ACCOUNT_ID/locations/LOCATION_ID")
        params: dict[str, Any] = {"pageSize": PAGE_SIZE, "orderBy": "updateTime desc"}
        for _ in range(self.max_pages):
            payload = self.expect(
                await self.get_json(f"/v4/{target}/reviews", params=params), dict, "reviews page"
            )
            reviews = self.expect(payload.get("reviews", []), list, "reviews")
            items, errors = self.map_records(reviews, self.to_item)
            yield Page(
                items,
                errors,
                total=payload.get("totalReviewCount"),
                rating=payload.get("averageRating"),
            )
            token = payload.get("nextPageToken")
            if not token or token == params.get("pageToken"):
                return
            params["pageToken"] = token

    def to_item(self, review: dict[str, Any]) -> ReviewItem:
        reviewer = review.get("reviewer") or {}
        reply = review.get("reviewReply") or {}
        return ReviewItem(
            platform=self.platform,
            external_id=review["reviewId"],
            url=REVIEWS_URL,
            text=plain_text(original_comment(review.get("comment") or "")),
            published_at=review["createTime"],
            author=None if reviewer.get("isAnonymous") else reviewer.get("displayName"),
            rating=STARS.get(review.get("starRating", "")),
            reply_text=plain_text(reply.get("comment")) or None,
            reply_at=reply.get("updateTime"),
            raw=review,
        )

    async def post_reply(self, raw: dict[str, Any], text: str) -> PostedReply:
        """Create or replace the owner's reply (``PUT .../reviews/{id}/reply``)."""
        name = str(raw.get("name") or "")
        if not REVIEW_NAME.match(name):
            raise ReplyNotSupported(
                self.name,
                "this Google review did not come from the Business Profile API (no review name)",
                "answer it at the review's URL",
            )
        size = len(text.encode("utf-8"))
        if size > REPLY_LIMIT_BYTES:
            raise ReplyTooLong(
                self.name,
                f"the reply is {size} bytes; Google accepts at most {REPLY_LIMIT_BYTES}",
                "shorten it",
            )
        if not text.strip():
            raise ReplyRejected(self.name, "the reply is empty", "write a reply")
        response = await self.send("PUT", f"/v4/{name}/reply", json={"comment": text})
        stored = self.expect(self.decode(response), dict, "reply")
        return PostedReply(text=stored.get("comment") or text, at=stored.get("updateTime"))

    def client_error(self, response: httpx.Response) -> ApiError:
        if response.request.method == "PUT":
            detail = error_detail(response)
            return ReplyRejected(
                self.name, f"Google refused the reply (HTTP {response.status_code}{detail})"
            )
        return super().client_error(response)

    # -- OAuth ----------------------------------------------------------------------------------

    async def auth_headers(self) -> dict[str, str]:
        if self._token is None:
            if not self._can_refresh():
                raise ConfigError(self.name, "no Google OAuth token configured", self.auth_fix)
            self._token = await self._refreshed_token()
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh_credentials(self) -> bool:
        if not self._can_refresh():
            return False
        self._token = await self._refreshed_token()
        return True

    def _can_refresh(self) -> bool:
        s = self.settings
        return bool(s.google_client_id and s.google_client_secret and s.google_refresh_token)

    async def _refreshed_token(self) -> str:
        """Trade the refresh token for an access token (OAuth 2.0 ``refresh_token`` grant)."""
        s = self.settings
        assert s.google_client_secret and s.google_refresh_token  # checked by _can_refresh
        base = s.api.base_urls.get("google_oauth", OAUTH_BASE_URL).rstrip("/")
        form = {
            "grant_type": "refresh_token",
            "client_id": s.google_client_id or "",
            "client_secret": s.google_client_secret.get_secret_value(),
            "refresh_token": s.google_refresh_token.get_secret_value(),
        }
        try:
            response = await self.http.post(f"{base}/token", data=form)
        except httpx.TransportError as exc:
            raise AuthError(
                self.name, f"cannot reach {base} to refresh the token: {exc}", self.auth_fix
            ) from None
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        token = body.get("access_token") if response.status_code == 200 else None
        if not token:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise AuthError(self.name, f"the token refresh was refused ({reason})", self.auth_fix)
        return str(token)


def original_comment(comment: str) -> str:
    """Google prepends its translation; keep the reviewer's own words (after ``(Original)``)."""
    marker = "(Original)"
    if comment.startswith("(Translated by Google)") and marker in comment:
        return comment.split(marker, 1)[1].strip()
    return comment
