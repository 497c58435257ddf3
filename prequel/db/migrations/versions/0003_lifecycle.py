"""workspace handles, passwords, event audiences

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_handles",
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("backend", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=True),
        sa.Column("endpoint", sa.String(length=500), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_started", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_workspace_handles_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("interview_id", name=op.f("pk_workspace_handles")),
        sa.UniqueConstraint("name", name=op.f("uq_workspace_handles_name")),
        sa.UniqueConstraint("uid", name=op.f("uq_workspace_handles_uid")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audience", sa.String(length=16), nullable=False, server_default="staff")
        )

    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provision_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("password_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("candidate_display_name", sa.String(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("warned_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ended_by_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_interviews_provision_at"), ["provision_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interviews_valid_until"), ["valid_until"], unique=False
        )
        batch_op.create_index(
            "ix_interviews_org_created_id", ["org_id", "created_at", "id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_interviews_ended_by_id_users"),
            "users",
            ["ended_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_column("workspace")
        batch_op.drop_column("password")


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password", sa.VARCHAR(length=200), nullable=True))
        batch_op.add_column(sa.Column("workspace", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.drop_constraint(batch_op.f("fk_interviews_ended_by_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_interviews_provision_at"))
        batch_op.drop_index(batch_op.f("ix_interviews_valid_until"))
        batch_op.drop_index("ix_interviews_org_created_id")
        batch_op.drop_column("ended_by_id")
        batch_op.drop_column("warned_minutes")
        batch_op.drop_column("candidate_display_name")
        batch_op.drop_column("password_encrypted")
        batch_op.drop_column("password_hash")
        batch_op.drop_column("started_at")
        batch_op.drop_column("provision_at")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("audience")

    op.drop_table("workspace_handles")
