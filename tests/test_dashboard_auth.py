"""Dashboard users: scrypt hashes, roles, the config check, and the login flow in the app."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from pipeline.auth import LoginThrottle, allows, authenticate, hash_password, verify_password
from pipeline.config import UserConfig
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


def test_throttle_locks_a_username_after_repeated_failures():
    now = [1000.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.locked_for("Ana") == 0
        throttle.failed("ana ")
    assert throttle.locked_for("ANA") == 60  # names compared as typed loosely
    assert throttle.locked_for("vik") == 0  # other users are not affected
    now[0] += 59
    assert throttle.locked_for("ana") == 1
    now[0] += 2
    assert throttle.locked_for("ana") == 0  # the window passed
    throttle.failed("ana")
    throttle.succeeded("ana")
    assert throttle.locked_for("ana") == 0


@pytest.fixture
def fresh_throttle():
    from dashboard.login import login_throttle

    login_throttle.clear()
    yield
    login_throttle.clear()


def test_repeated_wrong_passwords_lock_the_login(users_config, fresh_throttle):
    at = run()
    for _ in range(5):
        sign_in(at, "vik", "guess")
        assert at.error[0].value == "Unknown user or wrong password."
    sign_in(at, "vik", "pw-vik")  # the right password, but too late
    assert at.error[0].value.startswith("Too many failed sign-ins")
    assert at.title[0].value == "revmon"
    sign_in(at, "ana", "pw-ana")  # another user still signs in
    assert at.title[0].value == "Inbox"
