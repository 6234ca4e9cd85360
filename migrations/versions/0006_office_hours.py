"""office hours: what a slot is about, how many of an expert's slots a day may be booked, and the
ask-now help tickets

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
    op.create_table(
        "help_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expert_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_help_tickets_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_help_tickets_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_help_tickets_expert_id_experts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_tickets")),
    )
    op.create_index(op.f("ix_help_tickets_event_id"), "help_tickets", ["event_id"], unique=False)
    op.create_index(
        "uq_help_tickets_open_team",
        "help_tickets",
        ["team_id"],
        unique=True,
        sqlite_where=sa.text("claimed_at IS NULL AND cancelled_at IS NULL"),
        postgresql_where=sa.text("claimed_at IS NULL AND cancelled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_help_tickets_open_team", table_name="help_tickets")
    op.drop_index(op.f("ix_help_tickets_event_id"), table_name="help_tickets")
    op.drop_table("help_tickets")
    with op.batch_alter_table("slots") as batch_op:
        batch_op.drop_column("daily_limit")
        batch_op.drop_column("topic")
