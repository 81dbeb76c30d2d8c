"""Dashboard users: scrypt hashes, roles, the config check, and the login flow in the app."""

from __future__ import annotations

import os
import re
import tracemalloc

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pipeline.auth import (
    LoginThrottle,
    allows,
    authenticate,
    hash_password,
    needs_rehash,
    verify_password,
)
from pipeline.config import UserConfig
from pipeline.models import UserCredential
from revmon.cli import app
from tests import test_dashboard as dashboard
from tests.test_dashboard import card_texts, run

template_db, db = dashboard.template_db, dashboard.db  # the seeded-database fixtures

FAST = {"n": 2**10}  # unit tests need no real work factor


def test_hash_round_trip_and_salt():
    encoded = hash_password("correct horse", **FAST)
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horse!", encoded)
    assert hash_password("correct horse", **FAST) != encoded  # a fresh salt each time


@pytest.mark.parametrize(
    "encoded",
    ["", "plain", "scrypt$x$8$1$AAAA$AAAA", "pbkdf2$1$1$1$AAAA$AAAA", "scrypt$1024$8$1$!$!"],
)
def test_malformed_hash_never_matches(encoded):
    assert not verify_password("anything", encoded)


def test_empty_password_is_refused():
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_authenticate():
    users = [
        UserConfig(username="ana", password_hash=hash_password("pw-ana", **FAST), role="admin"),
        UserConfig(username="vik", password_hash=hash_password("pw-vik", **FAST)),
    ]
    assert authenticate(users, "ana", "pw-ana").role == "admin"
    assert authenticate(users, " vik ", "pw-vik").role == "viewer"
    assert authenticate(users, "ana", "pw-vik") is None
    assert authenticate(users, "nobody", "pw-ana") is None


def test_roles_are_ordered():
    assert allows("admin", "responder") and allows("responder", "responder")
    assert not allows("viewer", "responder") and not allows("responder", "admin")
    with pytest.raises(ValueError, match="roles"):
        allows("root", "viewer")


def test_config_refuses_a_plain_password_without_echoing_it():
    with pytest.raises(ValidationError) as info:
        UserConfig(username="ana", password_hash="hunter2")
    assert "revmon user hash-password" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_hash_password_command():
    result = CliRunner().invoke(app, ["user", "hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    encoded = result.output.strip().splitlines()[-1]
    assert verify_password("s3cret", encoded)


# --- the login flow --------------------------------------------------------------------------


@pytest.fixture
def users_config(request, tmp_path, monkeypatch):
    request.getfixturevalue("db")
    config = tmp_path / "revmon.toml"
    config.write_text(
        "[[users]]\n"
        f'username = "ana"\npassword_hash = "{hash_password("pw-ana", **FAST)}"\n'
        'role = "responder"\n'
        "[[users]]\n"
        f'username = "vik"\npassword_hash = "{hash_password("pw-vik", **FAST)}"\nrole = "viewer"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("REVMON_CONFIG", str(config))
    return config


def sign_in(at, username, password):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_login_required_when_users_are_configured(users_config):
    at = run()
    assert at.title[0].value == "revmon"
    assert not at.metric  # nothing of the data shows before signing in
    sign_in(at, "ana", "wrong")
    assert at.error[0].value == "Unknown user or wrong password."
    sign_in(at, "ana", "pw-ana")
    assert at.title[0].value == "Inbox" and len(card_texts(at)) == 5
    assert "Signed in as ana (responder)" in [c.value for c in at.sidebar.caption]
    assert any(b.key and b.key.startswith("set-status-") for b in at.button)
    at.button(key="logout").click().run()
    assert at.title[0].value == "revmon"


def test_viewer_reads_but_cannot_act(users_config):
    at = sign_in(run(), "vik", "pw-vik")
    assert len(card_texts(at)) == 5
    assert at.info[0].value == "Your role is viewer: you can read but not act."
    keys = [b.key or "" for b in at.button]
    assert not any(k.startswith(("set-status-", "assign-", "save-label-", "post-")) for k in keys)


def test_a_bad_users_config_is_one_message_without_the_password(db, tmp_path, monkeypatch):
    config = tmp_path / "bad.toml"
    config.write_text('[[users]]\nusername = "ana"\npassword_hash = "hunter2"\n', encoding="utf-8")
    monkeypatch.setenv("REVMON_CONFIG", str(config))
    at = run()
    message = at.error[0].value
    assert message.startswith("revmon cannot start: bad configuration: users.0.password_hash:")
    assert "revmon user hash-password" in message and "hunter2" not in message


def test_throttle_slows_guessing_but_never_locks_the_right_password_out():
    now = [1000.0]
    throttle = LoginThrottle(free=5, base=1, cap=60, clock=lambda: now[0])
    for _ in range(5):
        assert throttle.wait("Ana", "10.0.0.9") == 0
        throttle.failed("ana ", "10.0.0.9")  # names compared as typed loosely
    assert throttle.wait("ANA", "10.0.0.9") == 1  # then 1 s, 2 s, 4 s ...
    assert throttle.wait("ana", "192.0.2.7") == 0  # another client is not slowed at all
    assert throttle.wait("vik", "10.0.0.9") == 0  # nor another user
    for _ in range(20):
        throttle.failed("ana", "10.0.0.9")
    assert throttle.wait("ana", "10.0.0.9") == 60  # capped: never a lock-out
    now[0] += 60
    assert throttle.wait("ana", "10.0.0.9") == 0
    throttle.succeeded("ana", "10.0.0.9")
    throttle.failed("ana", "10.0.0.9")
    assert throttle.wait("ana", "10.0.0.9") == 0  # a success starts over


def test_throttle_memory_is_bounded_whatever_names_it_sees():
    now = [0.0]
    throttle = LoginThrottle(max_keys=10_000, forget=3600, clock=lambda: now[0])
    tracemalloc.start()
    for i in range(100_000):
        throttle.failed(f"made-up-{i}", "203.0.113.5")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(throttle) == 10_000  # the least recently failed were dropped
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"
    throttle.failed("someone", "203.0.113.5")
    now[0] += 3601
    throttle.failed("later", "203.0.113.5")
    assert len(throttle) == 1  # quiet entries expire


@pytest.fixture
def fresh_throttle():
    from dashboard.login import login_throttle

    login_throttle.clear()
    yield
    login_throttle.clear()


def test_wrong_passwords_slow_one_client_and_never_lock_the_user_out(
    users_config, fresh_throttle, monkeypatch
):
    from dashboard import login

    client = ["attacker"]
    monkeypatch.setattr(login, "client_id", lambda: client[0])
    at = run()
    for _ in range(6):
        sign_in(at, "vik", "guess")
    sign_in(at, "vik", "pw-vik")  # the right password, from the guessing client: wait a bit
    assert re.fullmatch(r"Too many failed sign-ins; try again in [12] s\.", at.error[0].value)
    assert at.title[0].value == "revmon"
    client[0] = "vik's laptop"  # the user, elsewhere, signs in at once
    sign_in(at, "vik", "pw-vik")
    assert at.title[0].value == "Inbox"

    at = run()
    client[0] = "attacker"
    clock = [0.0]
    login.login_throttle().clock = lambda: clock[0] + 10**9  # long after the last failure
    sign_in(at, "vik", "pw-vik")  # even the guessing client gets in once the delay passed
    assert at.title[0].value == "Inbox"


def rewrite_users(path, *users: tuple[str, str, str]) -> None:
    """Replace the configured users; the file's timestamp moves on, as an edit's does."""
    lines = [
        f'[[users]]\nusername = "{name}"\npassword_hash = "{hashed}"\nrole = "{role}"\n'
        for name, hashed, role in users
    ]
    before = path.stat().st_mtime_ns
    path.write_text("".join(lines), encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_removed_user_is_signed_out_without_a_restart(users_config):
    at = sign_in(run(), "ana", "pw-ana")
    assert at.title[0].value == "Inbox"
    rewrite_users(users_config, ("vik", hash_password("pw-vik", **FAST), "viewer"))
    at.run()
    assert at.title[0].value == "revmon"
    assert at.info[0].value == "Your account changed; please sign in again."
    sign_in(at, "ana", "pw-ana")
    assert at.error[0].value == "Unknown user or wrong password."


def test_a_changed_role_applies_without_a_restart(users_config):
    at = sign_in(run(), "ana", "pw-ana")
    assert any(b.key and b.key.startswith("set-status-") for b in at.button)
    text = users_config.read_text(encoding="utf-8").replace('"responder"', '"viewer"', 1)
    before = users_config.stat().st_mtime_ns
    users_config.write_text(text, encoding="utf-8")
    os.utime(users_config, ns=(before + 10**9, before + 10**9))
    at.run()
    assert at.title[0].value == "Inbox"
    assert at.info[0].value == "Your role is viewer: you can read but not act."
    assert not any(b.key and b.key.startswith("set-status-") for b in at.button)


def test_a_changed_password_ends_the_session_and_the_new_one_works(users_config):
    at = sign_in(run(), "ana", "pw-ana")
    rewrite_users(users_config, ("ana", hash_password("new-pw", **FAST), "responder"))
    at.run()
    assert at.title[0].value == "revmon"
    sign_in(at, "ana", "pw-ana")
    assert at.error[0].value == "Unknown user or wrong password."
    sign_in(at, "ana", "new-pw")
    assert at.title[0].value == "Inbox"


def stored_upgrade(engine, username):
    with Session(engine) as session:
        row = session.get(UserCredential, username)
        return None if row is None else (row.password_hash, row.replaces)


def test_a_weak_hash_is_upgraded_on_sign_in_and_the_file_still_wins(db, users_config):
    engine, _ids = db
    configured = users_config.read_text(encoding="utf-8")
    assert stored_upgrade(engine, "ana") is None
    at = sign_in(run(), "ana", "pw-ana")
    assert at.title[0].value == "Inbox"
    upgraded, replaces = stored_upgrade(engine, "ana")
    assert upgraded.startswith(f"scrypt${2**17}$8$1$") and verify_password("pw-ana", upgraded)
    assert not needs_rehash(upgraded)
    assert users_config.read_text(encoding="utf-8") == configured  # the admin's file untouched
    at.button(key="logout").click().run()
    sign_in(at, "ana", "pw-ana")  # now checked against the upgraded hash
    assert at.title[0].value == "Inbox"
    assert stored_upgrade(engine, "ana") == (upgraded, replaces)  # upgraded once

    rewrite_users(users_config, ("ana", hash_password("admin-reset", **FAST), "responder"))
    at = run()
    sign_in(at, "ana", "pw-ana")  # the old password's upgraded hash no longer counts
    assert at.error[0].value == "Unknown user or wrong password."
    sign_in(at, "ana", "admin-reset")
    assert at.title[0].value == "Inbox"


def test_new_hashes_use_owasp_scrypt_parameters():
    encoded = hash_password("correct horse")
    assert encoded.split("$")[:4] == ["scrypt", str(2**17), "8", "1"]
    assert verify_password("correct horse", encoded) and not needs_rehash(encoded)
    assert needs_rehash(hash_password("correct horse", **FAST))
