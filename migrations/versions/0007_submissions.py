"""submissions: when submitted and frozen, organisers' selection; jurors' conflicts; scoring times

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.add_column(sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("selection", sa.String(length=16), nullable=True))
    with op.batch_alter_table("jurors") as batch_op:
        batch_op.add_column(sa.Column("conflicts", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("jury_assignments") as batch_op:
        batch_op.add_column(
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )
        batch_op.add_column(sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("jurors") as batch_op:
        batch_op.alter_column("conflicts", server_default=None)
    with op.batch_alter_table("jury_assignments") as batch_op:
        batch_op.alter_column("created_at", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("jury_assignments") as batch_op:
        batch_op.drop_column("scored_at")
        batch_op.drop_column("created_at")
    with op.batch_alter_table("jurors") as batch_op:
        batch_op.drop_column("conflicts")
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_column("selection")
        batch_op.drop_column("frozen_at")
        batch_op.drop_column("submitted_at")
