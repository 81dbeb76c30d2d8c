"""The inbox's own actions, driven through AppTest on a seeded SQLite file: after every action
the widgets show what is stored, an action that changes nothing says so and writes no event,
"Mark responded" keeps the reply, the note box empties; and review-supplied text (author names
included) never reaches a widget that renders Markdown or HTML."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from pipeline.alerts import deliver_pending, review_payload
from pipeline.config import Settings
from pipeline.db import session_factory
from pipeline.models import Alert, Review, Triage, TriageEvent
from tests import test_dashboard as dashboard
from tests import test_dashboard_auth as auth
from tests.test_dashboard import click, run, triage_row
from tests.test_dashboard_auth import sign_in

template_db, db = dashboard.template_db, dashboard.db  # the seeded-database fixtures
users_config = auth.users_config


def events(engine, review_id: int) -> list[tuple[str, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(TriageEvent.field, TriageEvent.old_value, TriageEvent.new_value)
            .where(TriageEvent.review_id == review_id)
            .order_by(TriageEvent.id)
        )
        return [tuple(row) for row in rows]


def test_after_mark_responded_the_status_box_shows_it_and_set_status_changes_nothing(db):
    engine, ids = db
    rid = ids["t1"]  # Trustpilot: no reply API, answered on the site
    at = run()
    click(at, f"open-{rid}")
    assert at.selectbox(key=f"status-{rid}").value == "new"
    click(at, f"responded-{rid}")
    assert at.success[0].value == "Saved."
    assert at.selectbox(key=f"status-{rid}").value == "responded"  # the stored state
    before = events(engine, rid)
    click(at, f"set-status-{rid}")  # pressed without touching the box
    assert at.info[0].value == "Nothing changed: the status is already responded."
    row = triage_row(engine, rid)
    assert row.status == "responded" and row.responded_at is not None
    assert events(engine, rid) == before  # no event for nothing


def test_mark_responded_keeps_the_reply_that_was_pasted(db):
    engine, ids = db
    rid = ids["t1"]
    at = run()
    click(at, f"open-{rid}")
    pasted = "Vielen Dank, wir freuen uns auf Ihren nächsten Besuch! <3"
    box = next(a for a in at.text_area if a.key and a.key.startswith(f"reply-{rid}-"))
    box.input(pasted)
    click(at, f"responded-{rid}")
    assert triage_row(engine, rid).response_text == pasted
    assert ("response_text", None, pasted) in events(engine, rid)
    assert pasted in [t.value for t in at.text]  # shown as plain text in the panel
    click(at, f"responded-{rid}")  # again, with the (reset) draft: a different text
    assert triage_row(engine, rid).status == "responded"


def test_the_note_box_is_empty_after_add_note(db):
    engine, ids = db
    rid = ids["g1"]
    at = run()
    at.text_area(key=f"note-{rid}").input("Called the guest back.")
    click(at, f"add-note-{rid}")
    assert at.success[0].value == "Saved."
    assert at.text_area(key=f"note-{rid}").value == ""
    click(at, f"add-note-{rid}")  # a second press cannot add the same note twice
    assert at.error[0].value == "a note cannot be empty"
    assert triage_row(engine, rid).notes.count("Called the guest back.") == 1


def test_assigning_the_same_person_again_changes_nothing(db):
    engine, ids = db
    rid = ids["g2"]  # assigned to anna
    at = run()
    click(at, f"open-{rid}")
    before = events(engine, rid)
    click(at, f"assign-{rid}")
    assert at.info[0].value == "Nothing changed: already assigned to anna."
    assert events(engine, rid) == before
    at.text_input(key=f"assignee-{rid}").input("boris")
    click(at, f"assign-{rid}")
    assert at.success[0].value == "Saved."
    assert at.text_input(key=f"assignee-{rid}").value == "boris"
    assert events(engine, rid)[-1] == ("assignee", "anna", "boris")


def test_the_same_label_correction_twice_changes_nothing(db):
    engine, ids = db
    rid = ids["g1"]
    at = run()
    at.selectbox(key=f"label-{rid}").set_value("neutral")
    click(at, f"save-label-{rid}")
    assert at.success[0].value == "Saved."
    assert at.selectbox(key=f"label-{rid}").value == "neutral"
    click(at, f"save-label-{rid}")
    assert at.info[0].value == "Nothing changed: the label is already corrected to neutral."


# --- review-supplied text never becomes a link, Markdown or HTML --------------------------------

HOSTILE = {
    "author": "http://evil.example/steal **bold** <b>b</b> [click](http://evil.example/x)",
    "title": "# Heading **evil** <i>i</i> www.evil.example",
    "text": "Review with [a link](http://evil.example/t) and **evil** <script>x</script>",
    "reply_text": "Reply _evil_ http://evil.example/r :red[evil]",
    "language": "<b>",
}


def markdown_rendered(at) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer: text elements that
    render Markdown, and the labels and options of widgets (labels render Markdown too)."""
    kinds = ("markdown", "caption", "title", "header", "subheader", "info", "success", "warning")
    found = [e.value for kind in (*kinds, "error") for e in at.get(kind)]
    widgets = [*at.button, *at.selectbox, *at.multiselect, *at.text_area, *at.text_input]
    found += [w.label for w in widgets]
    found += [str(option) for w in at.selectbox for option in w.options]
    found += [e.label for e in at.expander] + [b.proto.label for b in at.get("link_button")]
    found += [m.label for m in at.metric]
    return found


def test_review_fields_never_reach_markdown(db):
    engine, ids = db
    rid = ids["g1"]  # the review the inbox opens first
    with Session(engine) as session:
        review = session.get(Review, rid)
        for field, value in HOSTILE.items():
            setattr(review, field, value)
        session.commit()
    at = run()
    assert at.subheader[0].value == f"Review #{rid}"
    shown = [t.value for t in at.text]
    assert any(HOSTILE["author"] in value for value in shown)  # shown, as literal text
    assert HOSTILE["text"] in shown and HOSTILE["reply_text"] in shown
    leaked = [s for s in markdown_rendered(at) if "evil" in s or "<b>" in s]
    assert leaked == []
    for page in ("trends", "sources"):
        assert not [s for s in markdown_rendered(run(page)) if "evil" in s]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Triage)) >= 5


# --- the Alerts page: an admin re-queues dead alerts -------------------------------------------


def test_an_admin_requeues_dead_alerts_and_each_is_delivered_once(db, httpserver, monkeypatch):
    engine, ids = db
    monkeypatch.setenv("REVMON_T_KEY", "hook-key")
    fixed, accepted = [], []

    def hook(request: Request) -> Response:
        if not fixed:
            return Response("gone", status=410)  # refused for good: dead at once
        accepted.append(request.headers["X-Revmon-Delivery"])
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(hook)
    settings = Settings(
        alerts={
            "channels": {"hook": {"type": "webhook", "url": httpserver.url_for("/hook"),
                                  "secret_env": "REVMON_T_KEY"}},
            "rules": [{"name": "neg", "channels": ["hook"], "negative": True}],
        }
    )  # fmt: skip
    with Session(engine) as session:
        for key in ("g1", "x1"):
            review = session.get(Review, ids[key])
            session.add(Alert(rule="neg", review_id=review.id, channel="hook",
                              key=f"review:{review.id}",
                              payload=review_payload(review, None, None, {})))  # fmt: skip
        session.commit()
    sessions = session_factory(engine)
    assert deliver_pending(sessions, settings).dead == 2

    at = run("alerts")
    assert at.title[0].value == "Alerts"
    assert list(at.dataframe[1].value["channel"]) == ["hook", "hook"]
    click(at, "requeue")
    assert at.success[0].value == "Re-queued 2 dead alerts; the next alerts pass delivers them."
    fixed.append(True)
    first, again = deliver_pending(sessions, settings), deliver_pending(sessions, settings)
    assert (first.sent, again.sent) == (2, 0)
    assert len(accepted) == len(set(accepted)) == 2
    at.run()
    assert "None: every alert was delivered" in [c.value for c in at.caption][0]


def test_only_an_admin_may_requeue(db, users_config):
    engine, ids = db
    with Session(engine) as session:
        session.add(Alert(rule="neg", review_id=ids["g1"], channel="hook", key="review:x",
                          state="dead", last_error="hook: HTTP 410 gone"))  # fmt: skip
        session.commit()
    at = sign_in(run(), "ana", "pw-ana")  # a responder
    at.switch_page("app_pages/alerts.py").run()
    assert at.info[0].value == "An admin can re-queue dead alerts once their channel is fixed."
    assert not any(b.key == "requeue" for b in at.button)
