"""bookings: the first booking of its reschedules, so that a moved booking keeps one calendar entry

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: batch mode would copy the table on SQLite.
    op.add_column("bookings", sa.Column("series_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("bookings", "series_id")
