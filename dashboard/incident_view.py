"""An incident on screen: the badge on each member's card, the panel listing its siblings, the
answer drafted from the one given to a sibling, and the button that offers an answer to all.

Kept apart from ``review_view`` so the inbox's actions and this display change independently.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.components import md_escape, when
from pipeline.queries import InboxItem

PREVIEW = 160


def badge(item: InboxItem) -> str:
    """Markdown prefix for the card's headline ('' when the review is in no incident)."""
    return f":violet-badge[INCIDENT #{item.incident_id}] " if item.incident_id else ""


def panel(item: InboxItem) -> None:
    """What the incident is and who else wrote about it, each sibling's text as plain text."""
    if not item.incident_id:
        return
    incident = data.incident_of(item.review_id)
    if incident is None:
        return
    places = ", ".join(incident.locations) or "no location"
    st.warning(
        md_escape(
            f"Incident #{incident.id}: {incident.size} reviews about the same thing"
            f"{' (' + ', '.join(incident.aspects) + ')' if incident.aspects else ''} on "
            f"{', '.join(incident.platforms)} at {places}, {when(incident.first_seen)} to "
            f"{when(incident.last_seen)}"
        ),
        icon=":material/hub:",
    )
    siblings = [m for m in incident.members if m.review_id != item.review_id]
    with st.expander(f"The {len(siblings)} other reviews of this incident"):
        for sibling in siblings:
            st.caption(md_escape(f"#{sibling.review_id} · {sibling.platform} · "
                                 f"{sibling.location_key or 'no location'} · "
                                 f"{sibling.status or 'not queued'}"))  # fmt: skip
            text = sibling.text
            st.text(text if len(text) <= PREVIEW else text[:PREVIEW] + "…")


def draft(item: InboxItem) -> str | None:
    """The answer given to a sibling, when one was offered: this review's draft starts from it."""
    if not item.incident_id:
        return None
    incident = data.incident_of(item.review_id)
    return incident.answer_text if incident is not None else None


def offer(item: InboxItem, text: str, actor: str) -> None:
    """A button that offers the current reply text as the draft for every sibling."""
    if not item.incident_id:
        return
    incident = data.incident_of(item.review_id)
    others = (incident.size - 1) if incident is not None else 0
    if others and st.button(f"Offer this answer for the {others} other reviews of the incident",
                            key=f"offer-{item.review_id}"):  # fmt: skip
        st.session_state["inbox_flash"] = data.offer_to_siblings(item.review_id, text, actor)
        st.rerun()
