"""VK mentions: ``wall.search`` on one community's or person's wall.

TARGET is ``DOMAIN:QUERY`` (``coffeeshop:латте``), or ``DOMAIN`` alone for the whole wall.
The token is ``REVMON_VK_ACCESS_TOKEN`` (a service token is enough for public walls). VK reports
errors as HTTP 200 with an ``error`` object: 6/9/29 (too many requests) are retried like a 429,
5 (authorization failed) is an :class:`AuthError`, 10 (internal error) like a 5xx, and the rest
(a private wall, an unknown domain, a bad parameter) are configuration errors.

A repost (``copy_history``) has little or no text of its own: its text is the reposter's words
followed by the reposted post's, and ``raw["repost_of"]`` names the original(s). Mentions written
as ``[id2|Мария]`` or ``[club1|Acme]`` read as the name shown. Texts are plain: ``<`` stays.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx

from crawlers.api.base import ApiClient, Page, unix_to_iso
from crawlers.api.errors import ApiError, AuthError, ConfigError, RateLimited, ServerError
from crawlers.items import ReviewItem
from pipeline.text import plain_text

API_VERSION = "5.199"
PAGE_SIZE = 100
DOMAIN = re.compile(r"^[A-Za-z0-9_.]+$")
TOO_MANY = {6, 9, 29}
AUTH = {5, 27, 28}
MENTION = re.compile(r"\[(?:id|club|public|event)\d+\|([^\[\]|]*)\]")


class VkClient(ApiClient):
    """Posts on a VK wall matching a query, newest first, 100 a page by ``offset``."""

    name = "vk"
    platform = "vk"
    credentials = ("vk_access_token",)
    default_base_url = "https://api.vk.com"
    target_example = "coffeeshop:латте"
    auth_fix = "set REVMON_VK_ACCESS_TOKEN to a valid service or user access token"

    async def pages(self, target: str) -> AsyncIterator[Page]:
        domain, _, query = target.partition(":")
        if not DOMAIN.match(domain) or query.startswith("//"):
            raise self.bad_target(target, "DOMAIN:QUERY (the wall's short name, then the words)")
        token = self.secret("vk_access_token", "VK access token")
        params: dict[str, Any] = {
            "domain": domain, "query": query.strip(), "count": PAGE_SIZE, "extended": 1,
            "access_token": token, "v": API_VERSION, "offset": 0,
        }  # fmt: skip
        for _ in range(self.max_pages):
            payload = self.expect(
                await self.get_json("/method/wall.search", params=params), dict, "answer"
            )
            found = self.expect(payload.get("response"), dict, "response")
            posts = self.expect(found.get("items", []), list, "response.items")
            names = author_names(found)
            items, errors = self.map_records(posts, partial(self.to_item, names=names))
            total = found.get("count")
            yield Page(items, errors, total=total)
            params["offset"] += len(posts)
            if not posts or not isinstance(total, int) or params["offset"] >= total:
                return

    def to_item(self, post: dict[str, Any], names: dict[int, str]) -> ReviewItem:
        owner, number = int(post["owner_id"]), int(post["id"])
        reposted = [p for p in post.get("copy_history") or [] if isinstance(p, dict)]
        texts = [display_text(post.get("text")), *(display_text(p.get("text")) for p in reposted)]
        raw = dict(post)
        if reposted:
            raw["repost_of"] = [f"{int(p['owner_id'])}_{int(p['id'])}" for p in reposted]
        return ReviewItem(
            platform=self.platform,
            external_id=f"{owner}_{number}",
            kind="mention",
            url=f"https://vk.com/wall{owner}_{number}",
            text=plain_text("\n".join(text for text in texts if text)),
            published_at=unix_to_iso(post["date"]),
            author=names.get(int(post.get("from_id", owner))),
            raw=raw,
        )

    def verdict(self, response: httpx.Response) -> tuple[ApiError, float] | None:
        outcome = super().verdict(response)
        if outcome is not None:
            return outcome
        try:
            body = response.json()
        except ValueError:
            return None  # get_json reports it as a bad page
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return None
        code, message = error.get("error_code"), error.get("error_msg", "")
        text = f"VK error {code}: {message}"
        if code in TOO_MANY:
            return RateLimited(self.name, text), -1.0
        if code == 10:
            return ServerError(self.name, text), -1.0
        if code in AUTH:
            raise AuthError(self.name, text, self.auth_fix)
        raise ConfigError(self.name, text, f"check the TARGET (e.g. {self.target_example!r})")


def display_text(text: Any) -> str:
    """A post's text as VK shows it: ``[id2|Мария]`` / ``[club1|Acme]`` mentions (VK API docs:
    "[id|name]" markup) read as the name they display."""
    return MENTION.sub(lambda match: match.group(1), str(text or ""))


def author_names(found: dict[str, Any]) -> dict[int, str]:
    """``extended=1`` lists the people (positive ids) and communities (negative ids) involved."""
    names = {
        int(p["id"]): f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()
        for p in found.get("profiles") or []
    }
    names.update({-int(g["id"]): g.get("name", "") for g in found.get("groups") or []})
    return {key: value for key, value in names.items() if value}
