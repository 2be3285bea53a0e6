"""face calibrations: 1:N face check-in is refused until one is recorded (issue 16)

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-04 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.Column("genuine_count", sa.Integer(), nullable=False),
        sa.Column("genuine_min", sa.Float(), nullable=True),
        sa.Column("genuine_median", sa.Float(), nullable=True),
        sa.Column("genuine_max", sa.Float(), nullable=True),
        sa.Column("impostor_count", sa.Integer(), nullable=False),
        sa.Column("impostor_min", sa.Float(), nullable=True),
        sa.Column("impostor_median", sa.Float(), nullable=True),
        sa.Column("impostor_max", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("ceiling", sa.Float(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("stranger_risk", sa.Float(), nullable=False),
        sa.Column("identification_safe", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_calibrations")),
    )


def downgrade() -> None:
    op.drop_table("face_calibrations")
