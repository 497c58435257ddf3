"""recording: events and replay snapshots, static analysis, scorecards and report settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _interview_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["interview_id"],
        ["interviews.id"],
        name=op.f(f"fk_{table}_interview_id_interviews"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "recording_events",
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _interview_fk("recording_events"),
        sa.PrimaryKeyConstraint("interview_id", "seq", name=op.f("pk_recording_events")),
    )
    with op.batch_alter_table("recording_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_events_interview_type_seq", ["interview_id", "type", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_recording_events_interview_ts", ["interview_id", "ts"], unique=False
        )
    op.create_table(
        "recording_snapshots",
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        _interview_fk("recording_snapshots"),
        sa.PrimaryKeyConstraint("interview_id", "seq", name=op.f("pk_recording_snapshots")),
    )
    op.create_table(
        "analysis_reports",
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("tool", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files_checked", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _interview_fk("analysis_reports"),
        sa.PrimaryKeyConstraint("interview_id", name=op.f("pk_analysis_reports")),
    )
    op.create_table(
        "scorecards",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recommendation", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_scorecards_author_id_users"),
            ondelete="SET NULL",
        ),
        _interview_fk("scorecards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecards")),
        sa.UniqueConstraint("interview_id", "author_id", name=op.f("uq_scorecards_interview_id")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scorecard_criteria", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("score_weights", sa.JSON(), nullable=True))
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_notes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_column("private_notes")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("score_weights")
        batch_op.drop_column("scorecard_criteria")
    op.drop_table("scorecards")
    op.drop_table("analysis_reports")
    op.drop_table("recording_snapshots")
    with op.batch_alter_table("recording_events", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_events_interview_ts")
        batch_op.drop_index("ix_recording_events_interview_type_seq")
    op.drop_table("recording_events")
