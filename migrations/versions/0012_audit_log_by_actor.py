"""audit_log: found by actor and action, as a session's sign-outs are on every request of the
built-in channels and the dashboard

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_actor_action", "audit_log", ["actor", "action"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_action", table_name="audit_log")
