"""the presenters assigned to a session (who may broadcast it besides its conference's organisers)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_presenters",
        sa.Column("session_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"],
                                name=op.f("fk_session_presenters_session_id_sessions")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_session_presenters_user_id_users")),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_session_presenters")),
    )


def downgrade() -> None:
    op.drop_table("session_presenters")
