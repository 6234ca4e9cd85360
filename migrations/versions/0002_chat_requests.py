"""participants' spoken languages; platform requests already handled

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch_op:
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "handled_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handled_requests")),
        sa.UniqueConstraint("platform", "key", name=op.f("uq_handled_requests_platform_key")),
    )
    op.create_index(op.f("ix_handled_requests_at"), "handled_requests", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("handled_requests")
    with op.batch_alter_table("participants") as batch_op:
        batch_op.drop_column("languages")
