"""links: a team's submission link belongs to one member, who is named as the saver of what they save

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_links_member_id_participants"), "participants", ["member_id"], ["id"], ondelete="CASCADE"
        )
    # A team's link of before names no member: its holders ask the bot again for their own.
    links = sa.table("links", sa.column("scope"), sa.column("revoked_at", sa.DateTime(timezone=True)))
    op.execute(
        links.update()
        .where(links.c.scope == "submit", links.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def downgrade() -> None:
    with op.batch_alter_table("links") as batch_op:
        batch_op.drop_constraint(op.f("fk_links_member_id_participants"), type_="foreignkey")
        batch_op.drop_column("member_id")
