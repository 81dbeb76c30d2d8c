"""collection: run bookkeeping (outcomes, completeness, heartbeat), schedules, review aliases

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(
            sa.Column(
                "published_estimated", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(
            sa.Column("removed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("identity_key", sa.String(length=64), nullable=True))
        batch.create_index("ix_reviews_platform_identity", ["platform", "identity_key"])
    with op.batch_alter_table("reviews") as batch:
        batch.alter_column("published_estimated", server_default=None)
        batch.alter_column("removed", server_default=None)
    op.create_table(
        "review_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("created_at", pipeline.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "platform", "external_id", name="uq_review_aliases_platform_external_id"
        ),
    )
    op.create_index("ix_review_aliases_review_id", "review_aliases", ["review_id"])
    with op.batch_alter_table("crawl_runs") as batch:
        for name in ("rejected", "pages_failed"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("outcomes", sa.JSON(), nullable=False, server_default="{}"))
        for name in ("full", "complete"):
            batch.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        batch.add_column(sa.Column("owner", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("heartbeat_at", pipeline.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_crawl_runs_status", ["status"])
    # Runs from before this release finished `ok` only when nothing failed: count them complete,
    # so that the first incremental crawl after the upgrade is not a full one everywhere.
    op.execute("UPDATE crawl_runs SET complete = (status = 'ok')")
    with op.batch_alter_table("crawl_runs") as batch:
        for name in ("rejected", "pages_failed", "outcomes", "full", "complete"):
            batch.alter_column(name, server_default=None)
    op.create_table(
        "source_schedule",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("next_due_at", pipeline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", pipeline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", pipeline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("source_schedule")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_index("ix_crawl_runs_status")
        for name in ("heartbeat_at", "owner", "complete", "full", "outcomes", "pages_failed",
                     "rejected"):  # fmt: skip
            batch.drop_column(name)
    op.drop_index("ix_review_aliases_review_id", table_name="review_aliases")
    op.drop_table("review_aliases")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_platform_identity")
        batch.drop_column("identity_key")
        batch.drop_column("removed")
        batch.drop_column("published_estimated")
