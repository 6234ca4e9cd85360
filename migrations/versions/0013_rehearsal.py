"""events: a rehearsal's clock (its real start, where kickoff lies, its speed), which every process of a
scaled-out deployment follows

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch_alter_table: on SQLite it would copy `events` and drop the old one, and dropping it
    # deletes every row that refers to it (ON DELETE CASCADE). SQLite adds and drops columns itself.
    op.add_column("events", sa.Column("rehearsal_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("rehearsal_kickoff_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("rehearsal_speed", sa.Double(), nullable=True))


def downgrade() -> None:
    for name in ("rehearsal_speed", "rehearsal_kickoff_at", "rehearsal_started_at"):
        op.drop_column("events", name)
