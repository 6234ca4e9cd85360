"""how each team came by its challenge: which choice it got, or why another

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch_op:
        batch_op.add_column(sa.Column("challenge_rank", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("challenge_how", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch_op:
        batch_op.drop_column("challenge_how")
        batch_op.drop_column("challenge_rank")
