"""help tickets: whether a ticket went to every expert when asked, because no expert's topics matched

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_tickets") as batch_op:
        batch_op.add_column(sa.Column("to_everyone", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("help_tickets") as batch_op:
        batch_op.alter_column("to_everyone", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("help_tickets") as batch_op:
        batch_op.drop_column("to_everyone")
