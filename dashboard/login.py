"""Who is using the dashboard: a login form when users are configured, open access otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from pipeline.auth import OPEN_ACTOR, LoginThrottle, allows, authenticate
from pipeline.config import UserConfig

USER_KEY = "revmon_user"


@dataclass(frozen=True)
class CurrentUser:
    username: str
    role: str
    name: str | None = None

    def may(self, needed: str) -> bool:
        return allows(self.role, needed)


def gate(users: Sequence[UserConfig]) -> CurrentUser | None:
    """The signed-in user; with no users configured everyone is an admin (the demo). Shows the
    login form and returns None while nobody has signed in."""
    if not users:
        return CurrentUser(OPEN_ACTOR, "admin")
    user = st.session_state.get(USER_KEY)
    if user is not None:
        return user
    _login_form(users)
    return None


def _login_form(users: Sequence[UserConfig]) -> None:
    st.title("revmon")
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    throttle = login_throttle()
    wait = throttle.locked_for(username)
    if wait:
        st.error(f"Too many failed sign-ins for this user; try again in {int(wait // 60) + 1} min.")
        return
    found = authenticate(users, username, password)
    if found is None:
        throttle.failed(username)
        st.error("Unknown user or wrong password.")
        return
    throttle.succeeded(username)
    st.session_state[USER_KEY] = CurrentUser(found.username, found.role, found.name)
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
