"""Alerts: the outbox per channel and state, and the dead alerts an admin can send again."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.components import when
from dashboard.login import current_user
from dashboard.review_view import FLASH

st.title("Alerts")
flash = st.session_state.pop(FLASH, None)
if flash is not None:
    (st.error if not flash.ok else st.success if flash.changed else st.info)(flash.message)
status = data.outbox_status()
if not status.counts:
    st.info("No alert has been queued yet: `revmon alerts` queues and delivers them.")
    st.stop()

channels = sorted({channel for channel, _ in status.counts})
states = ("pending", "sending", "failed", "sent", "dead")
table = pd.DataFrame(
    {"channel": channels}
    | {state: [status.counts.get((c, state), 0) for c in channels] for state in states}
)
st.dataframe(table, hide_index=True)

st.subheader("Dead alerts")
if not status.dead:
    st.caption("None: every alert was delivered or is still being retried.")
    st.stop()
dead = pd.DataFrame(
    {
        "id": [a.id for a in status.dead],
        "rule": [a.rule for a in status.dead],
        "channel": [a.channel for a in status.dead],
        "attempts": [a.attempts for a in status.dead],
        "last error": [a.last_error or "" for a in status.dead],
        "queued": [when(a.created_at) for a in status.dead],
    }
)
st.dataframe(dead, hide_index=True)
if not current_user().may("admin"):
    st.info("An admin can re-queue dead alerts once their channel is fixed.")
    st.stop()
dead_channels = sorted({a.channel for a in status.dead})
choice = st.selectbox("Channel", ["all channels", *dead_channels], key="requeue_channel")
if st.button(f"Re-queue dead alerts ({status.dead_total})", key="requeue", type="primary"):
    st.session_state[FLASH] = data.requeue_dead(None if choice == "all channels" else choice)
    st.rerun()
