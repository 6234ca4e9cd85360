"""links: no expiry of their own; a link expires at the event's end as it stands when it is opened

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch_op:
        batch_op.drop_column("expires_at")


def downgrade() -> None:
    with op.batch_alter_table("links") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    phases = sa.table(
        "phases", sa.column("event_id"), sa.column("name"), sa.column("planned_at", sa.DateTime(timezone=True)),
        sa.column("shift_seconds"),
    )  # fmt: skip
    links = sa.table("links", sa.column("event_id"), sa.column("expires_at", sa.DateTime(timezone=True)))
    ends = op.get_bind().execute(
        sa.select(phases.c.event_id, phases.c.planned_at, phases.c.shift_seconds).where(
            phases.c.name == "end"
        )
    )
    for event_id, planned_at, shift_seconds in ends.all():  # each event's current end, as grants wrote it
        end = planned_at + timedelta(seconds=shift_seconds)
        op.execute(links.update().where(links.c.event_id == event_id).values(expires_at=end))
    with op.batch_alter_table("links") as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
