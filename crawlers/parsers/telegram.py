"""A public Telegram channel's web preview ``https://t.me/s/{channel}``: posts as mentions.

About 20 posts a page, oldest first; the "load more" link (``?before={id}``) leads to older ones.
A post's id is its ``data-post`` (``channel/123``); an edited post says "edited" in its meta and
keeps its id, so the store records a revision. What a reader of the page sees, post by post:

- a reply quotes its parent inside ``a.tgme_widget_message_reply``, with the same
  ``tgme_widget_message_text`` class (plus ``js-message_reply_text``): the post's own text is
  the one outside the quote; the parent's id and text go to ``raw["reply_to"]``.
- a poll has no message text: its question and options are the text (RSS-Bridge's Telegram
  bridge reads the same ``tgme_widget_message_poll_*`` blocks).
- a forwarded post names its source in ``.tgme_widget_message_forwarded_from``: that source
  is the author (the channel that forwarded it stays in ``raw["channel"]``).
- service messages ("Channel created", "pinned ...", photo changed: ``.service_message``) are
  not posts and are skipped, but their ids still count for paging.

Paging back in time: the "more" link with ``data-before``/``?before=``; a page without one whose
lowest post id is above 1 still has older posts (``?before=`` that id). A "more" link with
``data-after``/``?after=`` leads to *newer* posts and is never followed.
"""

from __future__ import annotations

import re
from typing import Any

from parsel import Selector
from scrapy.http import TextResponse
from w3lib.url import add_or_replace_parameter, url_query_cleaner, url_query_parameter

from crawlers.items import ReviewItem
from crawlers.parsers.common import Page, PageError, from_html, iso_datetime, plain, to_number

PLATFORM = "telegram"
_MULTIPLIERS = {"K": 1_000, "M": 1_000_000}
_POST_NUMBER = re.compile(r"/(\d+)$")
_CLASS = "contains(concat(' ', normalize-space(@class), ' '), ' {} ')"
_OWN_TEXT = (
    f".//*[{_CLASS.format('tgme_widget_message_text')}]"
    f"[not({_CLASS.format('js-message_reply_text')})]"
    f"[not(ancestor::*[{_CLASS.format('tgme_widget_message_reply')}])]"
)


def parse(response: TextResponse) -> Page:
    """The page's posts (newest last, as Telegram shows them) and the link to older posts."""
    messages = response.css("div.tgme_widget_message[data-post]")
    if not messages and not response.css("section.tgme_channel_history, div.tgme_channel_info"):
        raise PageError(f"{response.url}: not a Telegram channel preview page")
    channel = plain(response.css(".tgme_channel_info_header_title ::text").get())
    page = Page()
    for message in messages:
        if "service_message" in (message.attrib.get("class") or "").split():
            continue
        try:
            page.items.append(_post(response, message, channel))
        except PageError as exc:
            page.errors.append(f"{response.url}: post {message.attrib.get('data-post')!r}: {exc}")
    page.next_url = older_page(response, messages)
    return page


def older_page(response: TextResponse, messages: list[Selector]) -> str | None:
    """The page of older posts: the "before" link, else ``?before=`` the lowest id seen."""
    more = response.css(
        "a.tme_messages_more[data-before]::attr(href),"
        " a.tme_messages_more[href*='before=']::attr(href)"
    ).get()
    if more and messages:
        return response.urljoin(more)
    numbers = [_number(message.attrib["data-post"]) for message in messages]
    lowest = min((n for n in numbers if n is not None), default=None)
    if lowest is None or lowest <= 1:
        return None  # no posts, or the channel's first post: nothing older
    before = _to_int(url_query_parameter(response.url, "before"))
    if before is not None and lowest >= before:
        return None  # Telegram answered with no older post: paging again would loop
    url = url_query_cleaner(response.url, ["after"], remove=True)
    return add_or_replace_parameter(url, "before", str(lowest))


def _post(response: TextResponse, post: Selector, channel: str | None) -> ReviewItem:
    post_id = post.attrib["data-post"]
    published = iso_datetime(post.css("a.tgme_widget_message_date time::attr(datetime)").get())
    if not published:
        raise PageError("no time[datetime]")
    text_html = post.xpath(_OWN_TEXT).get()
    poll = _poll(post)
    forwarded = _forwarded(post)
    meta = " ".join(post.css(".tgme_widget_message_meta ::text").getall())
    raw = {
        "data_post": post_id,
        "html": text_html,
        "views": views(post.css(".tgme_widget_message_views::text").get()),
        "edited": "edited" in meta,
        "channel": channel,
    }
    raw.update({key: value for key, value in _reply_to(response, post).items() if value})
    if poll:
        raw["poll"] = poll
    if forwarded:
        raw["forwarded_from"] = forwarded
    text_lines = [from_html(text_html), *poll_lines(poll)]
    return ReviewItem(
        platform=PLATFORM,
        external_id=post_id,
        kind="mention",
        url=response.urljoin(f"/{post_id}"),
        author=(forwarded or {}).get("name")
        or plain(post.css(".tgme_widget_message_from_author ::text").get())
        or plain(post.css(".tgme_widget_message_owner_name ::text").get())
        or channel,
        text="\n".join(line for line in text_lines if line),
        published_at=published,
        raw=raw,
    )


def _reply_to(response: TextResponse, post: Selector) -> dict[str, object]:
    """The quoted parent of a reply: its post id and text (not the reply's own text)."""
    quote = post.css("a.tgme_widget_message_reply")
    if not quote:
        return {}
    href = quote.attrib.get("href") or ""
    parent_text = quote.css(".js-message_reply_text, .tgme_widget_message_text").get()
    parent = re.search(r"([A-Za-z0-9_]+/\d+)/?$", href)
    return {
        "reply_to": {
            "data_post": parent.group(1) if parent else None,
            "url": response.urljoin(href) if href else None,
            "author": plain(quote.css(".tgme_widget_message_author_name ::text").get()),
            "text": from_html(parent_text),
        }
    }


def _poll(post: Selector) -> dict[str, Any] | None:
    block = post.css(".tgme_widget_message_poll")
    if not block:
        return None
    options = [
        {
            "text": plain(
                " ".join(option.css(".tgme_widget_message_poll_option_text ::text").getall())
            ),
            "percent": to_number(
                option.css(".tgme_widget_message_poll_option_percent::text").get()
            ),
        }
        for option in block.css(".tgme_widget_message_poll_option")
    ]
    return {
        "question": plain(
            " ".join(block.css(".tgme_widget_message_poll_question ::text").getall())
        ),
        "type": plain(block.css(".tgme_widget_message_poll_type ::text").get()),
        "options": options,
    }


def poll_lines(poll: dict[str, Any] | None) -> list[str]:
    """The question, then one line per option, as the poll reads on the page."""
    if not poll:
        return []
    options = [option["text"] for option in poll["options"] if option["text"]]
    return [poll["question"] or "", *options]


def _forwarded(post: Selector) -> dict[str, str | None] | None:
    block = post.css(".tgme_widget_message_forwarded_from")
    if not block:
        return None
    name_node = block.css(".tgme_widget_message_forwarded_from_name")
    name = plain(" ".join(name_node.css("::text").getall()))
    signed = plain(
        " ".join(block.css(".tgme_widget_message_forwarded_from_author ::text").getall())
    )
    if not name:  # a hidden sender is plain text after "Forwarded from"
        name = plain(" ".join(block.css("::text").getall()).replace("Forwarded from", "", 1))
    return {"name": signed or name, "channel": name, "url": name_node.attrib.get("href")}


def _number(data_post: str) -> int | None:
    match = _POST_NUMBER.search(data_post)
    return int(match.group(1)) if match else None


def _to_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def views(value: str | None) -> int | None:
    """Telegram's view counter: ``"1.2K"`` -> 1200, ``"987"`` -> 987."""
    if not value:
        return None
    text = value.strip().upper()
    number = to_number(text)
    if number is None:
        return None
    return int(number * _MULTIPLIERS.get(text[-1], 1))
