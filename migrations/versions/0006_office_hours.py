"""office hours: what a slot is about and how many of an expert's slots a day may be booked

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("daily_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.drop_column("daily_limit")
        batch_op.drop_column("topic")
