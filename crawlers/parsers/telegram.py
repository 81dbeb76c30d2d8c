"""A public Telegram channel's web preview ``https://t.me/s/{channel}``: posts as mentions.

About 20 posts a page, oldest first; the "load more" link (``?before={id}``) leads to older ones.
A post's id is its ``data-post`` (``channel/123``); an edited post says "edited" in its meta and
keeps its id, so the store records a revision.
"""

from __future__ import annotations

from parsel import Selector
from scrapy.http import TextResponse

from crawlers.items import ReviewItem
from crawlers.parsers.common import Page, PageError, from_html, iso_datetime, plain, to_number

PLATFORM = "telegram"
_MULTIPLIERS = {"K": 1_000, "M": 1_000_000}


def parse(response: TextResponse) -> Page:
    """The page's posts (newest last, as Telegram shows them) and the link to older posts."""
    posts = response.css("div.tgme_widget_message[data-post]")
    if not posts and not response.css("section.tgme_channel_history, div.tgme_channel_info"):
        raise PageError(f"{response.url}: not a Telegram channel preview page")
    channel = plain(response.css(".tgme_channel_info_header_title ::text").get())
    page = Page()
    for post in posts:
        try:
            page.items.append(_post(response, post, channel))
        except PageError as exc:
            page.errors.append(f"{response.url}: post {post.attrib.get('data-post')!r}: {exc}")
    more = response.css("a.tme_messages_more::attr(href)").get()
    page.next_url = response.urljoin(more) if more and posts else None
    return page


def _post(response: TextResponse, post: Selector, channel: str | None) -> ReviewItem:
    post_id = post.attrib["data-post"]
    published = iso_datetime(post.css("a.tgme_widget_message_date time::attr(datetime)").get())
    if not published:
        raise PageError("no time[datetime]")
    text_html = post.css(".tgme_widget_message_text").get()
    meta = " ".join(post.css(".tgme_widget_message_meta ::text").getall())
    return ReviewItem(
        platform=PLATFORM,
        external_id=post_id,
        kind="mention",
        url=response.urljoin(f"/{post_id}"),
        author=plain(post.css(".tgme_widget_message_from_author ::text").get())
        or plain(post.css(".tgme_widget_message_owner_name ::text").get())
        or channel,
        text=from_html(text_html) or "",
        published_at=published,
        raw={
            "data_post": post_id,
            "html": text_html,
            "views": views(post.css(".tgme_widget_message_views::text").get()),
            "edited": "edited" in meta,
        },
    )


def views(value: str | None) -> int | None:
    """Telegram's view counter: ``"1.2K"`` -> 1200, ``"987"`` -> 987."""
    if not value:
        return None
    text = value.strip().upper()
    number = to_number(text)
    if number is None:
        return None
    return int(number * _MULTIPLIERS.get(text[-1], 1))
