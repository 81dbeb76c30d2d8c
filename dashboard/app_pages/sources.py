"""Sources: the last crawl of each source, its errors and blocks, and coverage of the platform."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.components import md_escape, when

st.title("Sources")
statuses = data.source_status()
if not statuses:
    st.info("No crawl has run yet: `revmon crawl` or `revmon demo` fills this page.")
    st.stop()

attention = [s for s in statuses if s.status in ("blocked", "failed", "degraded", "interrupted")]
cols = st.columns(3)
cols[0].metric("Sources", len(statuses))
cols[1].metric("Need attention", len(attention))
cols[2].metric("Blocked in the last 7 days", sum(s.blocked_recent for s in statuses))

table = pd.DataFrame(
    {
        "source": [s.source for s in statuses],
        "platform": [s.platform for s in statuses],
        "location": [s.location_key for s in statuses],
        "last run": [when(s.started_at) for s in statuses],
        "status": [s.status for s in statuses],
        "items": [s.items for s in statuses],
        "new": [s.new for s in statuses],
        "errors": [s.errors for s in statuses],
        "pages": [s.pages for s in statuses],
        "pages failed": [s.pages_failed for s in statuses],
        "all pages read": [s.complete for s in statuses],
        "runs (7 d)": [s.runs_recent for s in statuses],
        "blocked (7 d)": [s.blocked_recent for s in statuses],
        "stored": [s.stored for s in statuses],
        "platform total": [s.platform_total for s in statuses],
        "completeness": [s.completeness for s in statuses],
    }
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "completeness": st.column_config.ProgressColumn(
            "completeness", format="percent", min_value=0.0, max_value=1.0
        )
    },
)

for source in attention:
    title = f"{source.source} · {source.location_key or '—'}: {source.status}"
    with st.expander(md_escape(title), expanded=True):
        finished = when(source.finished_at)
        st.caption(md_escape(f"target: {source.target or '—'} · finished {finished}"))
        pages = ", ".join(
            f"{outcome} {count}" for outcome, count in sorted(source.outcomes.items())
        )
        st.caption(md_escape(f"pages: {pages or 'none recorded'}"))
        for message in source.error_log or ["no error message recorded"]:
            st.text(message)
