"""alerts outbox: spike/digest alerts without a review, stored payload, sending lease

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", pipeline.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE alerts SET key = 'review:' || CAST(review_id AS VARCHAR), payload = '{}'")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=160), nullable=False)
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("review_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint("uq_alerts_rule_channel_key", ["rule", "channel", "key"])


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE review_id IS NULL")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_alerts_rule_channel_key", type_="unique")
        batch_op.alter_column("review_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("lease_until")
        batch_op.drop_column("payload")
        batch_op.drop_column("key")
