"""command counts: how many chat commands the web processes answered in each minute of the event's
clock, for the dashboard's commands-per-minute chart; each process adds its count

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "command_counts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("commands", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_command_counts_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", "minute", name=op.f("pk_command_counts")),
    )


def downgrade() -> None:
    op.drop_table("command_counts")
