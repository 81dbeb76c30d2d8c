"""Channels that carry an alert to a person: email (SMTP), Slack, Telegram, a signed webhook.

One class per channel, each with ``send(message)``; secrets come from the ``REVMON_*``
environment variables the config names, are held as ``SecretStr`` and never appear in an
error message or a log line (URLs holding tokens are redacted). Review text is untrusted: Slack
gets its control characters escaped, Telegram gets plain text (no parse mode) cut to its limit
at a safe place, email is text/plain, the webhook gets JSON.

A send either raises or counts as delivered: once a server has taken the message (SMTP after
DATA, HTTP 2xx), nothing that follows -- a QUIT answered oddly, a body that is not JSON -- makes
it a failure, because a failure is retried and the reader would get it twice. Email keeps an
outcome per recipient: ``Message.skip`` names those that already have it, and a partial refusal
raises ``DeliveryError`` with ``delivered`` naming those that now have it, so a retry reaches
only the others.

Exceptions::

    DeliveryError            a send failed; ``permanent`` says whether retrying can help,
                             ``delivered`` which recipients did receive it
    ChannelConfigError       (ValueError) a channel cannot be built: missing secret, bad URL

A webhook request carries ``X-Revmon-Timestamp``, ``X-Revmon-Delivery`` (the same for every
retry of one alert, so a receiver can drop duplicates) and ``X-Revmon-Signature:
sha256=HEX``, the HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` under the shared secret;
``verify_signature`` is the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from pipeline import logs
from pipeline.config import (
    DEFAULT_USER_AGENT,
    AlertsConfig,
    EmailChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
)

TELEGRAM_LIMIT = 4096  # UTF-16 code units, as Telegram counts them
SIGNATURE_TOLERANCE_S = 300
ELLIPSIS = "…"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """What an alert says, channel-neutral; ``key`` identifies the alert across retries."""

    key: str
    subject: str
    text: str
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()  # recipients that already received it


class DeliveryError(Exception):
    """A send failed. ``permanent``: the channel refused it (retrying the same will not help);
    ``delivered``: recipients that did receive it this time (a partial success)."""

    def __init__(
        self, message: str, *, permanent: bool = False, delivered: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.delivered = delivered


class ChannelConfigError(ValueError):
    """A configured channel cannot be built; the message names the config field."""


class Notifier(Protocol):
    name: str

    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class EmailNotifier:
    """Plain-text email over SMTP (optionally STARTTLS or SMTPS, optionally authenticated)."""

    def __init__(self, name: str, config: EmailChannel, password: SecretStr | None) -> None:
        self.name, self.config, self._password = name, config, password

    def send(self, message: Message) -> None:
        """Send to every recipient not in ``message.skip``; a partial refusal raises with the
        recipients that accepted it in ``delivered``."""
        recipients = [to for to in self.config.to if to not in message.skip]
        if not recipients:
            return
        mail = EmailMessage()
        mail["Subject"] = _one_line(message.subject)
        mail["From"] = self.config.from_addr
        mail["To"] = ", ".join(self.config.to)
        mail["Message-ID"] = f"<{message.key}@revmon>"  # the same on a retry: clients dedupe
        body = message.text + (f"\n\n{message.url}" if message.url else "")
        mail.set_content(body)
        try:
            smtp = self._connect()
            try:
                if self.config.username and self._password:
                    smtp.login(self.config.username, self._password.get_secret_value())
                refused = smtp.send_message(mail, to_addrs=recipients)
            finally:
                _quit(smtp)  # after DATA was accepted, how QUIT is answered changes nothing
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{self.name}: SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{self.name}: SMTP {type(exc).__name__}") from None
        if refused:
            codes = sorted({code for code, _ in refused.values()})
            raise DeliveryError(
                f"{self.name}: SMTP refused {len(refused)} of {len(recipients)} recipients {codes}",
                permanent=all(code >= 500 for code in codes),
                delivered=tuple(to for to in recipients if to not in refused),
            )

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        timeout = cfg.timeout_seconds
        if cfg.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=timeout, context=context)
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout)
        if cfg.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def close(self) -> None:
        """Each send opens its own SMTP connection; nothing to close."""


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye politely, but never let the goodbye decide the outcome."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class _HttpNotifier:
    """Shared by the HTTP channels: one client, error translation, secret redaction."""

    def __init__(self, name: str, timeout: float, secrets: tuple[str, ...] = ()) -> None:
        self.name = name
        parts = [urlsplit(s) for s in secrets if s.startswith(("http://", "https://"))]
        derived = [p.path for p in parts] + [p.query for p in parts]  # a server may echo these
        self._secrets = tuple(SecretStr(s) for s in (*secrets, *derived) if len(s) >= 8)
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": DEFAULT_USER_AGENT})

    def _post(self, url: str, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        try:
            response = self._client.post(url, content=content, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise DeliveryError(self._redact(f"{self.name}: {type(exc).__name__} {exc}")) from None
        if response.status_code >= 300:
            retryable = response.status_code in (408, 425, 429) or response.status_code >= 500
            detail = self._redact(response.text[:200])
            raise DeliveryError(
                f"{self.name}: HTTP {response.status_code} {detail}".strip(),
                permanent=not retryable,
            )
        return response

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret.get_secret_value(), "***")
        return text

    def close(self) -> None:
        self._client.close()


class SlackNotifier(_HttpNotifier):
    """A Slack incoming webhook; the webhook URL is the secret."""

    def __init__(self, name: str, config: SlackChannel, webhook_url: SecretStr) -> None:
        super().__init__(name, config.timeout_seconds, (webhook_url.get_secret_value(),))
        self._url = webhook_url

    def send(self, message: Message) -> None:
        text = f"*{slack_escape(message.subject)}*\n{slack_escape(message.text)}"
        if message.url:
            text += f"\n<{slack_escape(message.url)}|Open the review>"
        body = json.dumps({"text": text}).encode()
        self._post(self._url.get_secret_value(), body, {"Content-Type": "application/json"})


class TelegramNotifier(_HttpNotifier):
    """Telegram Bot API ``sendMessage``, plain text, to one chat."""

    def __init__(self, name: str, config: TelegramChannel, token: SecretStr) -> None:
        super().__init__(name, config.timeout_seconds, (token.get_secret_value(),))
        self.config, self._token = config, token

    def send(self, message: Message) -> None:
        payload = {
            "chat_id": self.config.chat_id,
            "text": telegram_text(message),
            "disable_web_page_preview": True,
        }
        base = self.config.base_url.rstrip("/")
        url = f"{base}/bot{self._token.get_secret_value()}/sendMessage"
        response = self._post(
            url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )
        try:
            answer = response.json()
        except ValueError:  # a 2xx is Telegram's "accepted"; a proxy may have mangled the body
            log.warning("%s: HTTP %s with a body that is not JSON; counted as delivered",
                        self.name, response.status_code)  # fmt: skip
            return
        if isinstance(answer, dict) and answer.get("ok") is False:
            raise DeliveryError(f"{self.name}: Telegram answered ok=false")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def telegram_text(message: Message) -> str:
    """Subject, text and link within Telegram's limit: when too long, the review text is cut at
    a space (never inside a surrogate pair, a word, or a link Telegram would make clickable)
    and the subject and the link are kept whole."""
    head = f"{message.subject}\n\n"
    tail = f"\n\n{message.url}" if message.url else ""
    whole = head + message.text + tail
    if utf16_len(whole) <= TELEGRAM_LIMIT:
        return whole
    room = TELEGRAM_LIMIT - utf16_len(head) - utf16_len(tail) - utf16_len(ELLIPSIS)
    return head + shorten(message.text, max(room, 0)) + ELLIPSIS + tail


def shorten(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 units that ends before a space
    (a single word longer than that is cut at a character boundary)."""
    cut, used = 0, 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            break
        cut = index + 1
    prefix = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        spaces = [m.start() for m in re.finditer(r"\s", prefix)]
        if spaces:
            prefix = prefix[: spaces[-1]]
    return prefix.rstrip()


class WebhookNotifier(_HttpNotifier):
    """A generic JSON webhook signed with HMAC-SHA256 (see the module docstring)."""

    def __init__(
        self, name: str, config: WebhookChannel, url: SecretStr, secret: SecretStr
    ) -> None:
        secrets = (url.get_secret_value(),) if config.url_env else ()
        super().__init__(name, config.timeout_seconds, secrets)
        self._url, self._secret = url, secret

    def send(self, message: Message) -> None:
        body = json.dumps(
            {
                "id": message.key,
                "subject": message.subject,
                "text": message.text,
                "url": message.url,
                "data": message.data,
            },
            sort_keys=True,
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Revmon-Delivery": message.key,
            "X-Revmon-Timestamp": timestamp,
            "X-Revmon-Signature": sign(self._secret.get_secret_value().encode(), timestamp, body),
        }
        self._post(self._url.get_secret_value(), body, headers)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=HEX`` of HMAC-SHA256 over ``timestamp.body``: the timestamp stops replays."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """The receiver's check: the signature matches and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def slack_escape(text: str) -> str:
    """Slack's three control characters, so review text cannot forge links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_notifiers(
    config: AlertsConfig, environ: Mapping[str, str] | None = None
) -> dict[str, Notifier]:
    """One notifier per configured channel; a missing secret fails here, naming the field."""
    env = os.environ if environ is None else environ
    built: dict[str, Notifier] = {}
    for name, channel in config.channels.items():
        where = f"alerts.channels.{name}"
        if isinstance(channel, EmailChannel):
            password = None
            if channel.username:
                password = _secret(env, channel.password_env, f"{where}.password_env")
            built[name] = EmailNotifier(name, channel, password)
        elif isinstance(channel, SlackChannel):
            url = _secret(env, channel.webhook_url_env, f"{where}.webhook_url_env")
            built[name] = SlackNotifier(name, channel, _http_url(url, where))
        elif isinstance(channel, TelegramChannel):
            token = _secret(env, channel.bot_token_env, f"{where}.bot_token_env")
            built[name] = TelegramNotifier(name, channel, token)
        else:
            url = (
                SecretStr(channel.url)
                if channel.url
                else _secret(env, channel.url_env, f"{where}.url_env")
            )
            secret = _secret(env, channel.secret_env, f"{where}.secret_env")
            built[name] = WebhookNotifier(name, channel, _http_url(url, where), secret)
    return built


def _secret(env: Mapping[str, str], var: str | None, field_name: str) -> SecretStr:
    value = env.get(var or "", "")
    if not value:
        raise ChannelConfigError(f"{field_name}: environment variable {var} is not set")
    logs.protect(value)  # from here on no log line can carry it
    return SecretStr(value)


def _http_url(url: SecretStr, where: str) -> SecretStr:
    if not url.get_secret_value().startswith(("http://", "https://")):
        raise ChannelConfigError(f"{where}: the URL must start with http:// or https://")
    return url


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
