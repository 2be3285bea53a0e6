"""watch time of participants, shared by every hub

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_time",
        sa.Column("session_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("writer", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "person_id", name=op.f("pk_watch_time")),
    )


def downgrade() -> None:
    op.drop_table("watch_time")
