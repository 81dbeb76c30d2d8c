"""hardening: per-recipient alert outcomes, the reply kept on triage, upgraded password hashes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pipeline.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("delivered_to", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("delivered_to", server_default=None)
    with op.batch_alter_table("triage") as batch:
        batch.add_column(sa.Column("response_text", sa.Text(), nullable=True))
    op.create_table(
        "user_credentials",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("replaces", sa.String(length=64), nullable=False),
        sa.Column("updated_at", pipeline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("user_credentials")
    with op.batch_alter_table("triage") as batch:
        batch.drop_column("response_text")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("delivered_to")
