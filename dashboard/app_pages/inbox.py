"""Inbox: the reviews awaiting a response, overdue first, then by urgency."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.components import inbox_filters
from dashboard.login import current_user
from dashboard.review_view import SELECTED, card, detail

PAGE_SIZE = 25

st.title("Inbox")
filters = inbox_filters()
first = inbox_page = data.inbox(filters, PAGE_SIZE, 0)  # the count and the first page
pages = max(1, -(-first.total // PAGE_SIZE))
awaiting, overdue, page_col = st.columns(3)
awaiting.metric("Matching", first.total)
overdue.metric("Overdue", first.overdue)
if st.session_state.get("inbox_page", 1) > pages:  # the filters shrank the list
    st.session_state["inbox_page"] = 1
page = page_col.number_input("Page", min_value=1, max_value=pages, value=1, key="inbox_page")
if page > 1:
    inbox_page = data.inbox(filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)

if not inbox_page.items:
    st.info("Nothing awaits a response with these filters.")
    st.stop()

listing, panel = st.columns([3, 2], gap="large")
with listing:
    for item in inbox_page.items:
        card(item)
selected = inbox_page.items[0]
selected_id = st.session_state.get(SELECTED)
if selected_id is not None:
    # the open review may have left this page's filters after an action: still show it
    selected = data.inbox_item(selected_id) or selected
with panel:
    detail(selected, current_user())
