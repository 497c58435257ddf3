"""ORM models. The schema itself is created only by the Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from prequel.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so BIGINT becomes INTEGER there.
SequenceInt = BigInteger().with_variant(Integer(), "sqlite")


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Report settings; None means the defaults (prequel.grading.settings).
    scorecard_criteria: Mapped[list[Any] | None] = mapped_column(JSON)
    score_weights: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Stored lower-cased so uniqueness is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(lazy="selectin")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Only a SHA-256 of the token is kept; the token itself is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Challenge(Base):
    """One immutable version of a challenge; re-importing changed content adds a row."""

    __tablename__ = "challenges"
    __table_args__ = (UniqueConstraint("org_id", "slug", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    difficulty: Mapped[str] = mapped_column(String(20))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(40))
    environment: Mapped[str] = mapped_column(String(80))
    time_estimate_minutes: Mapped[int] = mapped_column(Integer)
    test_command: Mapped[str] = mapped_column(Text)
    test_format: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(Text)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bundle_key: Mapped[str] = mapped_column(String(500))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    bundle_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Interview(Base):
    """Live interviews and take-home tests in one table (DESIGN.md, "Domain")."""

    __tablename__ = "interviews"
    __table_args__ = (
        Index("ix_interviews_org_status_created", "org_id", "status", "created_at"),
        Index("ix_interviews_kind_status", "kind", "status"),
        # The staff list: newest first within an organization, cut by (created_at, id).
        Index("ix_interviews_org_created_id", "org_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    candidate_name: Mapped[str] = mapped_column(String(200), index=True)
    candidate_email: Mapped[str | None] = mapped_column(String(320))
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id", ondelete="RESTRICT"))
    challenge_slug: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # Take-home only.
    passcode: Mapped[str | None] = mapped_column(String(16), unique=True)
    valid_until: Mapped[datetime | None] = mapped_column(index=True)
    custom_instructions: Mapped[str | None] = mapped_column(Text)
    activated_at: Mapped[datetime | None] = mapped_column()
    # Both kinds.
    duration_minutes: Mapped[int] = mapped_column(Integer)
    scheduled_at: Mapped[datetime | None] = mapped_column()
    auto_destroy_at: Mapped[datetime | None] = mapped_column(index=True)
    # When provisioning is due: scheduled_at minus the lead for scheduled live interviews.
    provision_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    access_url: Mapped[str | None] = mapped_column(String(500))
    # Live interviews: the workspace password, hashed for checking and encrypted (with a key
    # derived from the secret key) so the interviewer can read it again.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    candidate_display_name: Mapped[str | None] = mapped_column(String(200))
    # The smallest "minutes left" warning already sent (10, then 5), so none is sent twice.
    warned_minutes: Mapped[int | None] = mapped_column(Integer)
    ended_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    save_files: Mapped[bool] = mapped_column(Boolean, default=True)
    history_key: Mapped[str | None] = mapped_column(String(500))
    history_size: Mapped[int | None] = mapped_column(BigInteger)
    # The interviewers' private notes, copied from the workspace before it is destroyed.
    private_notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    destroyed_at: Mapped[datetime | None] = mapped_column()
    # The seed's DynamoDB "ttl": when the finished record may be purged.
    purge_at: Mapped[datetime | None] = mapped_column()


class Operation(Base):
    """A create or destroy job, claimed by one worker at a time."""

    __tablename__ = "operations"
    __table_args__ = (Index("ix_operations_status_scheduled", "status", "scheduled_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(20))
    interview_id: Mapped[str | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    scheduled_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    logs: Mapped[list[Any]] = mapped_column(default=list)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()


class WorkspaceHandle(Base):
    """Where an interview's workspace lives, written before the backend creates anything so a
    crash mid-create leaves a record to adopt or clean up."""

    __tablename__ = "workspace_handles"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    backend: Mapped[str] = mapped_column(String(20))
    # Deterministic from the interview id; also the label the backend lists workspaces by.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The unprivileged uid the workspace runs as (local backend); unique while the row lives.
    uid: Mapped[int | None] = mapped_column(Integer, unique=True)
    endpoint: Mapped[str | None] = mapped_column(String(500))
    pid: Mapped[int | None] = mapped_column(Integer)
    # The process start time (clock ticks since boot) so a reused pid is never mistaken.
    pid_started: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """The sequenced event log behind SSE replay (Last-Event-ID) and recordings."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_interview_seq", "interview_id", "seq"),
        Index("ix_events_org_seq", "org_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(SequenceInt, primary_key=True, autoincrement=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    interview_id: Mapped[str | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    # Who may receive it: "staff" (the organization's stream), "candidate" (that interview's
    # candidate stream) or "all".
    audience: Mapped[str] = mapped_column(String(16), default="staff")
    author: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradingRun(Base):
    """One suite's run (visible or hidden) against the final files when an interview ended.
    Written once per interview and suite, with its per-test results in the same commit."""

    __tablename__ = "grading_runs"
    __table_args__ = (UniqueConstraint("interview_id", "suite"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(16))  # visible | hidden
    status: Mapped[str] = mapped_column(String(16))  # passed | failed | error
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TestResult(Base):
    """One test's outcome in a grading run. Hidden test names are for staff only."""

    __tablename__ = "test_results"
    __table_args__ = (Index("ix_test_results_interview_suite", "interview_id", "suite"),)
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(SequenceInt, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # passed | failed | error | skipped
    message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingEvent(Base):
    """One event of a workspace's recording, as numbered by its agent (docs/recording-format.md).

    Keyed by (interview, seq) so collecting the same batch twice (a retried poll, two workers,
    a portal restarted before it acknowledged) stores it once."""

    __tablename__ = "recording_events"
    __table_args__ = (
        Index("ix_recording_events_interview_type_seq", "interview_id", "type", "seq"),
        # Seeking by time.
        Index("ix_recording_events_interview_ts", "interview_id", "ts"),
    )

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The agent's clock, seconds since the epoch.
    ts: Mapped[float] = mapped_column(Float)
    type: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RecordingSnapshot(Base):
    """The replay state after one event: every file and the terminal screen, so seeking
    starts from the nearest snapshot instead of from the first event."""

    __tablename__ = "recording_snapshots"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Float)
    # The shared document as one Yjs update (pycrdt's get_update()).
    document: Mapped[bytes] = mapped_column(LargeBinary)
    # The terminal screen and the last change: {"terminal": {...}, "last_change": {...}}.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AnalysisReport(Base):
    """Static analysis of the final files (ruff for Python), one row per interview."""

    __tablename__ = "analysis_reports"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    tool: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))  # ok | skipped | error
    files_checked: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scorecard(Base):
    """One interviewer's ratings, notes and recommendation for one interview."""

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("interview_id", "author_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    # {criterion key: 1..4}
    ratings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    recommendation: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
