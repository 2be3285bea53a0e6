"""documents, feedback and reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 00:08:07.792409
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_openings",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_document_openings_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "unit_id", name=op.f("pk_document_openings")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_user_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handler_unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("receipt_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("answered_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feedback_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_handler_unit_id"), ["handler_unit_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_feedback_receipt_hash"), ["receipt_hash"])
        batch_op.create_foreign_key(
            batch_op.f("fk_feedback_handler_unit_id_units"), "units", ["handler_unit_id"], ["id"]
        )

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_invitations_unit_id_units"), "units", ["unit_id"], ["id"])

    # invitations made before this revision: the invitee's unit is the best record of where they stood
    op.execute(
        "UPDATE invitations SET unit_id = (SELECT persons.unit_id FROM persons "
        "WHERE persons.id = invitations.person_id) WHERE unit_id IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_invitations_unit_id_units"), type_="foreignkey")
        batch_op.drop_column("unit_id")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_feedback_handler_unit_id_units"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_feedback_receipt_hash"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_feedback_handler_unit_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_conference_id"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("answered_by_user_id")
        batch_op.drop_column("receipt_hash")
        batch_op.drop_column("handler_unit_id")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("created_by_user_id")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("document_openings")
