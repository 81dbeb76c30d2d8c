"""insights: issue 15, insights: embeddings, rollups, incidents

Stored embeddings, sentence-level aspect polarity, SCI signals and the ``check`` flag on
``sentiment``; the text label of replaced revisions; daily rollups and their watermark;
recoveries, incidents and emerging topics; indexes that let a rollup refresh find what changed.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.models

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = pipeline.models.UTCDateTime(timezone=True)
RESPONSE_COLUMNS = [f"resp_{i:02d}" for i in range(24)]
COUNTS = [
    "reviews", "rated", "stars_1", "stars_2", "stars_3", "stars_4", "stars_5", "scored",
    "negative", "neutral", "positive", "mixed", "checked", "promoters", "passives", "detractors",
    "sci_satisfied", "sci_return", "sci_recommend", "sci_secure", "responded", "response_n",
]  # fmt: skip


def _key_columns() -> list[sa.Column]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("location_key", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.create_index("ix_reviews_first_seen", ["first_seen"])
        batch.create_index("ix_reviews_changed_at", ["changed_at"])
    with op.batch_alter_table("review_revisions") as batch:
        batch.add_column(sa.Column("text_label", sa.String(length=16), nullable=True))
    with op.batch_alter_table("sentiment") as batch:
        batch.add_column(
            sa.Column("aspect_polarity", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(
            sa.Column("needs_check", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        for name in ("sci_satisfied", "sci_return", "sci_recommend"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_sentiment_scored_at", ["scored_at"])
        batch.create_index("ix_sentiment_corrected_at", ["corrected_at"])
    with op.batch_alter_table("sentiment") as batch:
        for name in ("aspect_polarity", "needs_check", "sci_satisfied", "sci_return",
                     "sci_recommend"):  # fmt: skip
            batch.alter_column(name, server_default=None)
    with op.batch_alter_table("triage") as batch:
        batch.create_index("ix_triage_updated_at", ["updated_at"])

    op.create_table(
        "review_embeddings",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("encoder", sa.String(length=255), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("sentences", sa.JSON(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "encoder"),
    )
    op.create_table(
        "rollup_daily",
        *_key_columns(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("rating_sum", sa.Float(), nullable=False),
        sa.Column("response_seconds", sa.Float(), nullable=False),
        sa.Column("replied_negative", sa.Integer(), nullable=False),
        sa.Column("recovered", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in RESPONSE_COLUMNS),
        sa.PrimaryKeyConstraint("day", "location_key", "platform"),
    )
    op.create_index("ix_rollup_daily_location_day", "rollup_daily", ["location_key", "day"])
    op.create_table(
        "rollup_aspects",
        *_key_columns(),
        sa.Column("aspect", sa.String(length=32), nullable=False),
        *(
            sa.Column(n, sa.Integer(), nullable=False)
            for n in ("mentions", "negative", "praised", "criticised")
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("day", "location_key", "platform", "aspect"),
    )
    op.create_index("ix_rollup_aspects_location_day", "rollup_aspects", ["location_key", "day"])
    op.create_table(
        "recoveries",
        sa.Column("review_id", sa.Integer(), nullable=False),
        *_key_columns(),
        sa.Column("answered_at", UTC, nullable=False),
        sa.Column("recovered_at", UTC, nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id"),
    )
    op.create_index("ix_recoveries_location_day", "recoveries", ["location_key", "day"])
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("refreshed_at", UTC, nullable=False),
        sa.Column("max_review_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("locations", sa.JSON(), nullable=False),
        sa.Column("aspects", sa.JSON(), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_last_seen", "incidents", ["last_seen"])
    op.create_table(
        "incident_members",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("added_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id"),
    )
    op.create_index("ix_incident_members_incident_id", "incident_members", ["incident_id"])
    op.create_table(
        "emerging_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_key", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("recent_reviews", sa.Integer(), nullable=False),
        sa.Column("recent_share", sa.Float(), nullable=False),
        sa.Column("baseline_share", sa.Float(), nullable=False),
        sa.Column("sample_review_ids", sa.JSON(), nullable=False),
        sa.Column("window_start", UTC, nullable=False),
        sa.Column("computed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emerging_topics_location", "emerging_topics", ["location_key"])


def downgrade() -> None:
    for table in ("emerging_topics", "incident_members", "incidents", "rollup_state",
                  "recoveries", "rollup_aspects", "rollup_daily", "review_embeddings"):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("triage") as batch:
        batch.drop_index("ix_triage_updated_at")
    with op.batch_alter_table("sentiment") as batch:
        batch.drop_index("ix_sentiment_corrected_at")
        batch.drop_index("ix_sentiment_scored_at")
        for name in ("sci_recommend", "sci_return", "sci_satisfied", "needs_check",
                     "aspect_polarity"):  # fmt: skip
            batch.drop_column(name)
    with op.batch_alter_table("review_revisions") as batch:
        batch.drop_column("text_label")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_changed_at")
        batch.drop_index("ix_reviews_first_seen")
