"""teams by hand and by matching: case-free unique names, match runs, ranked interests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("pool", sa.Integer(), nullable=False),
        sa.Column("teams_formed", sa.Integer(), nullable=False),
        sa.Column("placed_in_open_teams", sa.Integer(), nullable=False),
        sa.Column("alone", sa.JSON(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_match_runs_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_runs")),
    )
    op.create_index(op.f("ix_match_runs_event_id"), "match_runs", ["event_id"], unique=False)
    with op.batch_alter_table("teams") as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=60), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("matched_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("explanation", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_teams_matched_by_match_runs"), "match_runs", ["matched_by"], ["id"], ondelete="SET NULL"
        )
    op.execute("UPDATE teams SET name_key = lower(name)")
    with op.batch_alter_table("teams") as batch_op:
        batch_op.alter_column("name_key", server_default=None)
        batch_op.create_unique_constraint(op.f("uq_teams_event_id_name_key"), ["event_id", "name_key"])
    # What someone wants to work on becomes a ranked list (challenge ids or topics), not free text.
    with op.batch_alter_table("participants") as batch_op:
        batch_op.drop_column("interests")
    with op.batch_alter_table("participants") as batch_op:
        batch_op.add_column(sa.Column("interests", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch_op:
        batch_op.drop_column("interests")
    with op.batch_alter_table("participants") as batch_op:
        batch_op.add_column(sa.Column("interests", sa.Text(), nullable=True))
    with op.batch_alter_table("teams") as batch_op:
        batch_op.drop_constraint(op.f("uq_teams_event_id_name_key"), type_="unique")
        batch_op.drop_constraint(op.f("fk_teams_matched_by_match_runs"), type_="foreignkey")
        batch_op.drop_column("explanation")
        batch_op.drop_column("matched_by")
        batch_op.drop_column("name_key")
    op.drop_index(op.f("ix_match_runs_event_id"), table_name="match_runs")
    op.drop_table("match_runs")
