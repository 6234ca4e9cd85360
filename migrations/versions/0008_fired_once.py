"""fired items: once per event and key, whatever instant a restart or a shift moves the item to

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An item that fired again at a moved instant keeps its first marker only.
    fired = sa.table("fired_items", sa.column("id", sa.Integer), sa.column("event_id"), sa.column("key"))
    first = sa.select(sa.func.min(fired.c.id)).group_by(fired.c.event_id, fired.c.key).scalar_subquery()
    op.execute(fired.delete().where(fired.c.id.not_in(first)))
    with op.batch_alter_table("fired_items") as batch_op:
        batch_op.drop_constraint("uq_fired_items_event_id_key_instant", type_="unique")
        batch_op.create_unique_constraint(op.f("uq_fired_items_event_id_key"), ["event_id", "key"])


def downgrade() -> None:
    with op.batch_alter_table("fired_items") as batch_op:
        batch_op.drop_constraint("uq_fired_items_event_id_key", type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_fired_items_event_id_key_instant"), ["event_id", "key", "instant"]
        )
