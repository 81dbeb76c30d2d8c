"""How long to wait before asking a site or an API again: the one place revmon reads
``Retry-After`` and rate-limit reset headers, and computes retry backoff.

Spiders (``crawlers.middlewares``) and API clients (``crawlers.api.base``) both use these, so a
429 is honoured the same way whichever route a source takes.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

EPOCH_THRESHOLD = 1_000_000_000  # a reset above this is a Unix time, below it a number of seconds


def seconds_until(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds from ``now`` until a moment given as seconds, a Unix time, an HTTP or ISO date.

    ``Retry-After: 120``, ``Retry-After: Wed, 21 Oct 2015 07:28:00 GMT``,
    ``x-ratelimit-reset: 1700000000`` and ``x-ratelimit-reset: 2026-12-02T10:00:00Z`` all work;
    None when the value is missing or unreadable. A moment in the past is 0.
    """
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    current = time.time() if now is None else now
    try:
        number = float(text)
    except ValueError:
        return _until_date(text, current)
    if number != number or number < 0:  # NaN or negative
        return None
    return max(0.0, number - current) if number > EPOCH_THRESHOLD else number


def _until_date(text: str, now: float) -> float | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def backoff_delay(retries: int, base: float, cap: float, *, jitter: bool = False) -> float:
    """``base * 2**retries`` capped at ``cap``; with ``jitter`` a random 50-100% of it, so that
    many clients failing together do not come back at the same instant."""
    delay = min(cap, base * 2**retries)
    return delay * (0.5 + random.random() / 2) if jitter else delay
