"""Dashboard users: scrypt password hashes and three roles.

``revmon.toml`` lists users under ``[[users]]`` with a ``password_hash`` made by
``revmon user hash-password``; no plaintext password is ever read, stored or logged. With no users
configured the dashboard is open (the demo), and everyone acts as an admin named ``dashboard``.

Roles, each including the one before: ``viewer`` reads, ``responder`` also triages, corrects labels
and replies, ``admin`` also sees the configuration-level pages.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from pipeline.config import ROLES, UserConfig

SCHEME = "scrypt"
# OWASP's scrypt minimum: N=2^17, r=8, p=1 (128 MiB); 2^14 keeps a login under ~50 ms on 2 cores
# while still costing an attacker 16 MiB per guess.
N, R, P = 2**14, 8, 1
OPEN_ACTOR = "dashboard"


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), safe to put in ``revmon.toml``."""
    if not password:
        raise ValueError("a password cannot be empty")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return "$".join((SCHEME, str(n), str(r), str(p), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def authenticate(users: Iterable[UserConfig], username: str, password: str) -> UserConfig | None:
    """The user whose name and password match, else None (same work for unknown names)."""
    found = next((u for u in users if u.username == username.strip()), None)
    encoded = found.password_hash if found else _dummy_hash()
    ok = verify_password(password, encoded)
    return found if ok and found else None


class LoginThrottle:
    """Slows down password guessing: after ``limit`` failures for a username within ``window``
    seconds, that username is locked for ``window`` seconds. Kept in the dashboard process, so it
    holds across browser sessions (a new tab does not reset it)."""

    def __init__(
        self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def locked_for(self, username: str) -> float:
        """Seconds until ``username`` may try again (0 when it may now)."""
        with self._lock:
            failures = self._recent(username)
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[-1] + self.window - self.clock())

    def failed(self, username: str) -> None:
        with self._lock:
            self._recent(username).append(self.clock())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._key(username), None)

    def _recent(self, username: str) -> deque[float]:
        failures = self._failures[self._key(username)]
        while failures and failures[0] < self.clock() - self.window:
            failures.popleft()
        return failures

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (roles are ordered)."""
    if role not in ROLES or needed not in ROLES:
        raise ValueError(f"roles are {', '.join(ROLES)}; got {role!r} / {needed!r}")
    return ROLES.index(role) >= ROLES.index(needed)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def _dummy_hash() -> str:
    """Checked against for unknown names, so a login's timing does not tell who exists."""
    return hash_password(secrets.token_hex(8))
