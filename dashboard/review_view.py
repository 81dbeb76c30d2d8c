"""One review on screen: a compact card for the list and the full panel with every action."""

from __future__ import annotations

import streamlit as st

from dashboard import data, incident_view
from dashboard.components import LABELS, due_text, md_escape, safe_url, stars, when
from dashboard.login import CurrentUser
from dashboard.templates import LANGUAGES, draft_reply, template_language
from pipeline.models import TRIAGE_STATUSES
from pipeline.queries import InboxItem

SELECTED = "inbox_selected"
FLASH = "inbox_flash"
PREVIEW = 400


def headline(item: InboxItem) -> str:
    """Stars, platform, place, sentiment and deadline, Markdown-escaped."""
    parts = [
        stars(item.rating),
        item.platform,
        item.location_name or item.location_key or "no location",
        f"{item.label or 'unscored'} (urgency {item.urgency if item.urgency is not None else '—'})",
        due_text(item.due_at, item.overdue),
    ]
    badge = ":red-badge[OVERDUE] " if item.overdue else ""
    badge += ":orange-badge[CHECK] " if item.needs_check else ""
    return badge + incident_view.badge(item) + " · ".join(md_escape(part) for part in parts)


def card(item: InboxItem) -> None:
    """One line of the inbox list, with the button that opens the full panel."""
    with st.container(border=True):
        st.markdown(headline(item))
        if item.title:
            st.text(item.title)
        text = item.text if len(item.text) <= PREVIEW else item.text[:PREVIEW] + "…"
        st.text(text)
        aspects = ", ".join(item.aspects) or "no aspects"
        who = item.assignee or "unassigned"
        st.caption(md_escape(f"{aspects} · {item.status} · {who} · {when(item.published_at)}"))
        open_col, link_col, _ = st.columns([1, 2, 4])
        if open_col.button("Open", key=f"open-{item.review_id}"):
            st.session_state[SELECTED] = item.review_id
        url = safe_url(item.url)
        if url:
            link_col.link_button(f"Source: {item.platform}", url)


def detail(item: InboxItem, user: CurrentUser) -> None:
    """Everything about one review, and the actions the user's role allows."""
    st.subheader(f"Review #{item.review_id}")
    st.markdown(headline(item))
    st.text(f"by {item.author or 'anonymous'} · {when(item.published_at)}")  # never Markdown
    if item.title:
        st.text(item.title)
    st.text(item.text)
    url = safe_url(item.url)
    if url:
        st.link_button(f"Open on {item.platform}", url)
    _facts(item)
    incident_view.panel(item)
    if not user.may("responder"):
        st.info("Your role is viewer: you can read but not act.")
        return
    _show_flash()
    _triage_actions(item, user)
    _label_action(item, user)
    _reply_action(item, user)


def _facts(item: InboxItem) -> None:
    model = item.model_label or "unscored"
    corrected = f", corrected to {item.corrected_label}" if item.corrected_label else ""
    score = f"{item.score:+.2f}" if item.score is not None else "—"
    st.markdown(md_escape(f"Sentiment: {model}{corrected} (score {score})"))
    st.markdown(md_escape(f"Aspects: {', '.join(item.aspects) or 'none'}"))
    if item.signals:
        st.markdown(md_escape(f"Risk signals: {', '.join(item.signals)}"))
    st.markdown(
        md_escape(
            f"Status: {item.status} · assignee: {item.assignee or 'nobody'} · "
            f"due: {when(item.due_at)} · responded: {when(item.responded_at)}"
        )
    )
    if item.reply_text:
        st.caption("Public reply on the platform:")
        st.text(item.reply_text)
    if item.response_text and item.response_text != item.reply_text:
        st.caption("Our reply, as posted or pasted:")
        st.text(item.response_text)
    if item.notes:
        st.caption("Notes:")
        st.text(item.notes)


def _flash(outcome: data.Outcome, review_id: int) -> None:
    """Keep the outcome across the rerun that shows the refreshed data. After an accepted
    action every widget of the review forgets what was typed or picked, so that each shows
    the stored state (the status a reply just set, an empty note box) and pressing a button
    again cannot re-apply a stale value."""
    st.session_state[FLASH] = outcome
    if outcome.ok:
        for key in list(st.session_state):
            if key in _widget_keys(review_id) or str(key).startswith(f"reply-{review_id}-"):
                del st.session_state[key]
    st.rerun()


def _widget_keys(review_id: int) -> set[str]:
    return {f"{name}-{review_id}" for name in ("status", "assignee", "note", "label")}


def _show_flash() -> None:
    outcome = st.session_state.pop(FLASH, None)
    if outcome is None:
        return
    if not outcome.ok:
        st.error(outcome.message)
    else:
        (st.success if outcome.changed else st.info)(outcome.message)


def _triage_actions(item: InboxItem, user: CurrentUser) -> None:
    rid = item.review_id
    left, right = st.columns(2)
    status = left.selectbox(
        "Status", TRIAGE_STATUSES, index=TRIAGE_STATUSES.index(item.status), key=f"status-{rid}"
    )
    if left.button("Set status", key=f"set-status-{rid}"):
        _flash(data.set_status(rid, status, user.username), rid)
    assignee = right.text_input("Assignee", value=item.assignee or "", key=f"assignee-{rid}")
    if right.button("Assign", key=f"assign-{rid}"):
        _flash(data.assign(rid, assignee, user.username), rid)
    note = st.text_area("Internal note", key=f"note-{rid}", height=80)
    if st.button("Add note", key=f"add-note-{rid}"):
        _flash(data.add_note(rid, note, user.username), rid)


def _label_action(item: InboxItem, user: CurrentUser) -> None:
    rid = item.review_id
    current = item.label if item.label in LABELS else "neutral"
    left, right = st.columns([2, 1])
    label = left.selectbox(
        "Correct sentiment (feeds retraining)",
        LABELS,
        index=LABELS.index(current),
        key=f"label-{rid}",
    )
    right.write("")
    if right.button("Save label", key=f"save-label-{rid}"):
        _flash(data.correct_label(rid, label, user.username), rid)


def _reply_action(item: InboxItem, user: CurrentUser) -> None:
    rid = item.review_id
    st.markdown("**Reply**")
    left, right = st.columns(2)
    lang = left.selectbox(
        "Template language",
        LANGUAGES,
        index=LANGUAGES.index(template_language(item.language)),
        key=f"reply-lang-{rid}",
    )
    aspects = right.multiselect(
        "Mention aspects", list(item.aspects), default=list(item.aspects), key=f"reply-asp-{rid}"
    )
    negative = item.label != "positive"
    draft = incident_view.draft(item) or draft_reply(
        lang, aspects, negative=negative, author=item.author, place=item.location_name
    )
    text = st.text_area(
        "Reply (edit the draft, or paste what you posted)",
        value=draft,
        height=150,
        key=f"reply-{rid}-{lang}-{'-'.join(aspects)}",
    )
    incident_view.offer(item, text, user.username)
    if data.supports_reply(item.platform):
        if st.button(f"Post reply on {item.platform}", key=f"post-{rid}", type="primary"):
            _flash(data.post_reply(rid, text, user.username), rid)
        return
    st.caption(
        md_escape(f"{item.platform} has no reply API: copy the draft, reply on the site, then "
                  "mark the review responded.")
    )  # fmt: skip
    st.code(text, language=None, wrap_lines=True)
    url = safe_url(item.url)
    if url:
        st.link_button("Open the review to reply", url)
    if st.button("Mark responded", key=f"responded-{rid}", help="keeps the reply above"):
        _flash(data.mark_responded(rid, user.username, text), rid)
