"""Who is using the dashboard: a sign-in form when users are configured, open access otherwise.

The users are read from the configuration on every page run (parsed again when the file
changes), and a signed-in session is checked against them each time, so nothing waits for a
restart: a user removed from ``revmon.toml`` is signed out, a changed role applies at once, and a
changed password ends the session (it remembers the fingerprint of the hash it signed in with).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from dashboard import data
from pipeline.auth import OPEN_ACTOR, LoginThrottle, allows, find_user, fingerprint
from pipeline.config import UserConfig, config_path, load_settings

USER_KEY = "revmon_user"
NOTICE_KEY = "revmon_login_notice"


@dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str
    name: str | None = None
    credential: str = ""  # fingerprint of the configured hash this session signed in with

    def may(self, needed: str) -> bool:
        return allows(self.role, needed)


def configured_users() -> list[UserConfig]:
    """The users the configuration lists now; the file is parsed again when it changes."""
    path = config_path()
    stamp = None
    if path is not None:
        stat = path.stat()
        stamp = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return list(_users(stamp))


@functools.lru_cache(maxsize=4)
def _users(stamp: tuple[str, int, int] | None) -> tuple[UserConfig, ...]:
    return tuple(load_settings().users)


def gate(users: Sequence[UserConfig]) -> CurrentUser | None:
    """The signed-in user; with no users configured everyone is an admin (the demo). Shows the
    sign-in form and returns None while nobody (or nobody still valid) has signed in."""
    if not users:
        return CurrentUser(OPEN_ACTOR, "admin")
    user = st.session_state.get(USER_KEY)
    if user is not None:
        current = still_valid(user, users)
        if current is not None:
            st.session_state[USER_KEY] = current
            return current
        del st.session_state[USER_KEY]
        st.session_state[NOTICE_KEY] = "Your account changed; please sign in again."
    _login_form(users)
    return None


def still_valid(user: CurrentUser, users: Sequence[UserConfig]) -> CurrentUser | None:
    """``user`` with the role and name the configuration gives now; None when the user was
    removed or the password changed since signing in."""
    found = find_user(users, user.username)
    if found is None or fingerprint(found.password_hash) != user.credential:
        return None
    return CurrentUser(found.username, found.role, found.name, user.credential)


def client_id() -> str:
    """Where a sign-in comes from: the address Streamlit sees (behind a reverse proxy, the
    proxy's; X-Forwarded-For is not trusted, anyone can send it)."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        address = None
    return address or "unknown"


def _login_form(users: Sequence[UserConfig]) -> None:
    st.title("revmon")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    throttle, client = login_throttle(), client_id()
    wait = throttle.wait(username, client)
    if wait:
        st.error(f"Too many failed sign-ins; try again in {math.ceil(wait)} s.")
        return
    found = data.sign_in(users, username, password)
    if found is None:
        throttle.failed(username, client)
        st.error("Unknown user or wrong password.")
        return
    throttle.succeeded(username, client)
    credential = fingerprint(found.password_hash)
    st.session_state[USER_KEY] = CurrentUser(found.username, found.role, found.name, credential)
    st.rerun()


@st.cache_resource
def login_throttle() -> LoginThrottle:
    """One throttle per dashboard process, shared by every browser session."""
    return LoginThrottle()


def sidebar_badge(user: CurrentUser, users_configured: bool) -> None:
    """Who is signed in, and a way out."""
    with st.sidebar:
        if not users_configured:
            st.caption("Open access: no users configured in revmon.toml.")
            return
        st.caption(f"Signed in as {user.name or user.username} ({user.role})")
        if st.button("Sign out", key="logout"):
            st.session_state.pop(USER_KEY, None)
            st.rerun()


def current_user() -> CurrentUser:
    """For pages: the user the entry script let through."""
    return st.session_state.get(USER_KEY) or CurrentUser(OPEN_ACTOR, "admin")
