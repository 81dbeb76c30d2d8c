"""Logging that never carries a secret, at any level, whoever logs.

Two mechanisms, installed once per process by whoever first handles a secret (the CLI entry
point, the runtime, the notifiers):

- httpx and httpcore are held at WARNING: httpx writes every request URL at INFO (a Telegram bot
  token sits in the path, a Slack webhook *is* its URL, VK and TripAdvisor keys ride in the query)
  and httpcore traces headers at DEBUG. Neither has anything else a revmon user needs.
- every log record, from any logger, is scrubbed when it is created (a log-record factory, so it
  holds for every handler, pytest's included): each registered secret, and the forms a server or
  a URL gives it back in (percent-encoded; a URL's path and query), becomes ``[secret]``.

Secrets are registered with :func:`protect`; :func:`protect_settings` registers every secret a
:class:`~pipeline.config.Settings` names, including the alert channels' ``*_env`` variables.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import SecretStr

from pipeline.config import Settings

MASK = "[secret]"
MIN_LENGTH = 6  # shorter values (a chat id, "true") would blank out ordinary words
QUIET = ("httpx", "httpcore", "hpack")
FORMAT = "%(levelname)s %(name)s: %(message)s"

_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()
_lock = threading.Lock()
_installed = False


def protect(*values: str | SecretStr | None) -> None:
    """Never let ``values`` (or their URL-encoded forms, or a URL's path and query) be logged."""
    forms: set[str] = set()
    for value in values:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw:
            forms.update(_forms(raw))
    forms = {form for form in forms if len(form) >= MIN_LENGTH}
    global _ordered
    with _lock:
        if forms - _secrets:
            _secrets.update(forms)
            _ordered = tuple(sorted(_secrets, key=len, reverse=True))  # longest first
    install()


def protect_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Register every ``SecretStr`` in ``settings`` and every channel secret it names."""
    env = os.environ if environ is None else environ
    values: list[str | SecretStr | None] = [
        getattr(settings, name) for name in type(settings).model_fields
    ]
    values = [v for v in values if isinstance(v, SecretStr)]
    for channel in settings.alerts.channels.values():
        for name, value in channel:
            if name.endswith("_env") and value:
                values.append(env.get(value))
    protect(*values)


def redact(text: str) -> str:
    """``text`` with every registered secret masked."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def install() -> None:
    """Quiet the HTTP libraries and scrub every record from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        for name in QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.setLogRecordFactory(_scrubbing(logging.getLogRecordFactory()))


def configure(settings: Settings) -> None:
    """The entry points' logging: level and format from the settings, secrets registered."""
    logging.basicConfig(level=settings.log_level, format=FORMAT)
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl" on every command
    protect_settings(settings)


def _forms(secret: str) -> Iterable[str]:
    """The secret as given, percent-encoded as a query or a path would carry it, and, for a URL,
    its path and query (a server may echo just those)."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    if secret.startswith(("http://", "https://")):
        parts = urlsplit(secret)
        yield parts.path
        yield parts.query


def _scrubbing(make_record):  # type: ignore[no-untyped-def]
    """Wrap the record factory: the message, its arguments and any traceback are scrubbed."""

    def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        record = make_record(*args, **kwargs)
        if not _ordered:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; logging reports it later, unscrubbed args dropped
            message, record.args = str(record.msg), ()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    return factory
