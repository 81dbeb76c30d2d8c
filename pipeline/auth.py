"""Dashboard users: scrypt password hashes, three roles, and a throttle on guessing.

``revmon.toml`` lists users under ``[[users]]`` with a ``password_hash`` made by
``revmon user hash-password``; no plaintext password is ever read, stored or logged. With no users
configured the dashboard is open (the demo), and everyone acts as an admin named ``dashboard``.

Roles, each including the one before: ``viewer`` reads, ``responder`` also triages, corrects labels
and replies, ``admin`` also sees the configuration-level pages.

Hashes use scrypt at OWASP's minimum, N=2^17, r=8, p=1 (128 MiB and a few hundred ms per
check). A hash made with weaker parameters still signs its user in, and is then replaced by a
strong one. The file is the admin's, so revmon does not rewrite it: the upgraded hash goes to the
``user_credentials`` table, tied to the configured hash it replaces. It is used only while the
file still holds that hash, so a password the admin changes in the file takes effect at once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pipeline.config import ROLES, UserConfig
from pipeline.models import UserCredential, utcnow

SCHEME = "scrypt"
N, R, P = 2**17, 8, 1  # OWASP Password Storage Cheat Sheet, scrypt minimum
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
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` was made with weaker parameters than today's."""
    try:
        scheme, n, r, p, _salt, _digest = encoded.split("$")
        return scheme != SCHEME or int(n) < N or int(r) < R or int(p) < P
    except ValueError:
        return True


def fingerprint(encoded: str) -> str:
    """What identifies a configured hash without repeating it (sessions and upgrades keep it)."""
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def find_user(users: Iterable[UserConfig], username: str) -> UserConfig | None:
    return next((u for u in users if u.username == username.strip()), None)


def authenticate(users: Iterable[UserConfig], username: str, password: str) -> UserConfig | None:
    """The user whose name and password match the configuration, else None (the same work for
    unknown names). :func:`sign_in` also honours and makes upgraded hashes."""
    found = find_user(users, username)
    encoded = found.password_hash if found else _dummy_hash()
    ok = verify_password(password, encoded)
    return found if ok and found else None


def sign_in(
    session: Session, users: Iterable[UserConfig], username: str, password: str
) -> UserConfig | None:
    """Check a sign-in against the current hash (the upgraded one when it still stands for the
    configured one) and upgrade a weak hash on success; the caller commits."""
    found = find_user(users, username)
    encoded = current_hash(session, found) if found else _dummy_hash()
    if not (verify_password(password, encoded) and found):
        return None
    if needs_rehash(encoded):
        upgrade(session, found, hash_password(password))
    return found


def current_hash(session: Session, user: UserConfig) -> str:
    """The hash that signs ``user`` in: revmon's upgrade of the configured one, or that one."""
    upgraded = session.get(UserCredential, user.username)
    if upgraded is not None and upgraded.replaces == fingerprint(user.password_hash):
        return upgraded.password_hash
    return user.password_hash


def upgrade(session: Session, user: UserConfig, encoded: str) -> None:
    row = session.get(UserCredential, user.username) or UserCredential(username=user.username)
    row.password_hash = encoded
    row.replaces = fingerprint(user.password_hash)
    row.updated_at = utcnow()
    session.add(row)


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Slows down password guessing per (username, client), never locking anyone out.

    The first ``free`` failures cost nothing; after that each try must wait ``base * 2**k``
    seconds after the last failure, capped at ``cap`` seconds: an attacker gets a handful of
    guesses an hour, while the right password still works after at most ``cap`` seconds, and
    another client (the real user's browser) is not slowed at all. The store is bounded: at
    most ``max_keys`` entries, least recently failed dropped first, and entries quiet for
    ``forget`` seconds expire. Kept in the dashboard process, shared by every browser session.
    """

    def __init__(
        self,
        free: int = 5,
        base: float = 1.0,
        cap: float = 60.0,
        max_keys: int = 10_000,
        forget: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.base, self.cap = free, base, cap
        self.max_keys, self.forget, self.clock = max_keys, forget, clock
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, username: str, client: str) -> float:
        """Seconds before this client may try this username again (0: now)."""
        with self._lock:
            entry = self._failures.get(self._key(username, client))
            if entry is None:
                return 0.0
            return max(0.0, entry.last + self.delay(entry.count) - self.clock())

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2 ** min(failures - self.free, 32))

    def failed(self, username: str, client: str) -> None:
        now = self.clock()
        key = self._key(username, client)
        with self._lock:
            entry = self._failures.pop(key, None) or _Failures(0, now)
            entry.count, entry.last = entry.count + 1, now
            self._failures[key] = entry  # most recent last
            self._trim(now)

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop(self._key(username, client), None)

    def __len__(self) -> int:
        return len(self._failures)

    def _trim(self, now: float) -> None:
        while self._failures:
            key, oldest = next(iter(self._failures.items()))
            if len(self._failures) <= self.max_keys and oldest.last > now - self.forget:
                return
            del self._failures[key]

    @staticmethod
    def _key(username: str, client: str) -> tuple[str, str]:
        return username.strip().lower()[:64], client[:64]


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (roles are ordered)."""
    if role not in ROLES or needed not in ROLES:
        raise ValueError(f"roles are {', '.join(ROLES)}; got {role!r} / {needed!r}")
    return ROLES.index(role) >= ROLES.index(needed)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    memory = 128 * r * (n + p + 2) + 1024 * 1024  # what scrypt needs, and some room
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=memory
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@functools.cache
def _dummy_hash() -> str:
    """Checked against for unknown names, so a login's timing does not tell who exists."""
    return hash_password(secrets.token_hex(8))
