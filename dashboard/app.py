"""revmon dashboard: ``streamlit run dashboard/app.py`` (or ``revmon dashboard``).

The entry script signs the user in (when users are configured) and hands over to the pages in
``app_pages/``: Inbox, Trends, Sources, Alerts. Pages hold UI only; reads and actions live in
:mod:`dashboard.data` over :mod:`pipeline.queries`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from dashboard import data, login

PAGES = Path(__file__).with_name("app_pages")


def problem(exc: Exception) -> str:
    """One line naming the bad field; never the rejected value (it may be a pasted password)."""
    if isinstance(exc, ValidationError):
        return "bad configuration: " + "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
    return f"{type(exc).__name__}: {exc}"


st.set_page_config(page_title="revmon", page_icon="⭐", layout="wide")
try:
    data.runtime()
    users = login.configured_users()  # read now, not at start: changes apply without a restart
except (ValidationError, SQLAlchemyError, OSError, ValueError) as exc:
    st.error(f"revmon cannot start: {problem(exc)}")
    st.stop()

user = login.gate(users)
if user is None:
    st.stop()
login.sidebar_badge(user, bool(users))

navigation = st.navigation(
    [
        st.Page(PAGES / "inbox.py", title="Inbox", icon=":material/inbox:", default=True),
        st.Page(PAGES / "trends.py", title="Trends", icon=":material/trending_up:"),
        st.Page(PAGES / "sources.py", title="Sources", icon=":material/sync:"),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
    ]
)
navigation.run()
