"""The SQL schema: every table hackserver keeps. Alembic migrations in migrations/ build it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def _event_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)


class EventRow(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A rehearsal (`hackserver rehearse`): from its real start the event's clock runs at its speed,
    # with kickoff moved to kickoff_at; every process reads it when it starts. None: the real plan.
    rehearsal_started_at: Mapped[datetime | None]
    rehearsal_kickoff_at: Mapped[datetime | None]
    rehearsal_speed: Mapped[float | None]


class Phase(Base):
    """When a phase begins: as planned in the event file, plus the shift organisers applied."""

    __tablename__ = "phases"
    __table_args__ = (UniqueConstraint("event_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    name: Mapped[str] = mapped_column(String(40))
    planned_at: Mapped[datetime]
    shift_seconds: Mapped[int] = mapped_column(default=0)


class Participant(Base):
    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    display_name: Mapped[str] = mapped_column(String(120))
    language: Mapped[str | None] = mapped_column(String(8))  # of the bot's replies
    languages: Mapped[list[str]] = mapped_column(default=list)  # spoken, for team matching
    timezone: Mapped[str | None] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(default=list)
    interests: Mapped[list[str]] = mapped_column(default=list)  # what they want to work on, ranked
    in_match_pool: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatformIdentity(Base):
    """One chat account of a participant; a person may link several."""

    __tablename__ = "platform_identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(120))


class Challenge(Base):
    __tablename__ = "challenges"
    __table_args__ = (UniqueConstraint("event_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    external_id: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(80))
    tags: Mapped[list[str]] = mapped_column(default=list)
    owner_organisation: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(default=list)
    max_teams: Mapped[int | None]
    contact: Mapped[str | None] = mapped_column(String(200))


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("event_id", "name"), UniqueConstraint("event_id", "name_key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    name: Mapped[str] = mapped_column(String(60))
    name_key: Mapped[str] = mapped_column(String(60))  # the name case-folded: "Luftretter" = "luftretter"
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    challenge_id: Mapped[int | None] = mapped_column(ForeignKey("challenges.id", ondelete="SET NULL"))
    challenge_rank: Mapped[int | None]  # which of the team's choices it got: 0 is the first; None, none
    challenge_how: Mapped[str | None] = mapped_column(
        String(16)
    )  # choice | no_choices | choices_full | override
    member_count: Mapped[int] = mapped_column(default=0)  # kept with memberships; guards the size limit
    matched_by: Mapped[int | None] = mapped_column(ForeignKey("match_runs.id", ondelete="SET NULL"))
    explanation: Mapped[dict[str, Any] | None]  # why matching put these people together
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchRun(Base):
    """One run of the team matching: who ran it, with which seed, and who could not be placed, why."""

    __tablename__ = "match_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    actor: Mapped[str] = mapped_column(String(120))  # clock, or the organiser
    seed: Mapped[int]
    pool: Mapped[int]  # people in the pool when it ran
    teams_formed: Mapped[int]
    placed_in_open_teams: Mapped[int]
    alone: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True
    )
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChallengePreference(Base):
    """A team's ranked choice, or a solo participant's interest (then team_id is empty)."""

    __tablename__ = "challenge_preferences"
    __table_args__ = (UniqueConstraint("team_id", "participant_id", "rank"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    rank: Mapped[int]


class Expert(Base):
    __tablename__ = "experts"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    name: Mapped[str] = mapped_column(String(120))
    topics: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(String(200))
    join_url: Mapped[str | None] = mapped_column(String(500))


class Slot(Base):
    __tablename__ = "slots"
    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    topic: Mapped[str | None] = mapped_column(String(80))  # one of the expert's topics; None: any
    daily_limit: Mapped[int | None]  # bookings of the expert a day (their time zone) this slot counts to


class Booking(Base):
    __tablename__ = "bookings"
    # A slot has at most one live booking; cancelled ones stay for the record.
    __table_args__ = (
        Index(
            "uq_bookings_live_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("cancelled_at IS NULL"),
            postgresql_where=text("cancelled_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    no_show: Mapped[bool] = mapped_column(default=False)
    # The first booking of its reschedules (None: itself): one entry in a calendar, which a move
    # updates rather than adding another.
    series_id: Mapped[int | None]


class HelpTicket(Base):
    """An ask-now question of a team: open until an expert claims it or the team cancels it."""

    __tablename__ = "help_tickets"
    # A team has one unclaimed ticket at a time; claimed and cancelled ones stay for the record.
    __table_args__ = (
        Index(
            "uq_help_tickets_open_team",
            "team_id",
            unique=True,
            sqlite_where=text("claimed_at IS NULL AND cancelled_at IS NULL"),
            postgresql_where=text("claimed_at IS NULL AND cancelled_at IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sent to every expert when asked: no expert's topics matched it.
    to_everyone: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[datetime | None]  # posted again to every expert after the wait
    claimed_at: Mapped[datetime | None]
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("experts.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | submitted | final
    version: Mapped[int] = mapped_column(default=0)
    extended_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]  # when it was first marked submitted
    frozen_at: Mapped[datetime | None]  # when its latest version became final
    selection: Mapped[str | None] = mapped_column(String(16))  # selected | not_selected, by organisers


class SubmissionVersion(Base):
    __tablename__ = "submission_versions"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    number: Mapped[int]
    fields: Mapped[dict[str, Any]]
    saved_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)


class Juror(Base):
    __tablename__ = "jurors"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str | None] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(default=list)
    conflicts: Mapped[list[str]] = mapped_column(default=list)  # teams declared, by name, case-folded


class JuryAssignment(Base):
    __tablename__ = "jury_assignments"
    __table_args__ = (UniqueConstraint("juror_id", "submission_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    juror_id: Mapped[int] = mapped_column(ForeignKey("jurors.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    flagged: Mapped[str | None] = mapped_column(String(300))  # unreachable / empty: re-assign, never score 0
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scored_at: Mapped[datetime | None]


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("assignment_id", "criterion"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("jury_assignments.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(60))
    value: Mapped[float]
    comment: Mapped[str | None] = mapped_column(Text)


class Link(Base):
    """A private link's grant: signed tokens name it, so revoking the row kills the link. It expires
    at the event's end, read when it is opened: the end can move after the grant."""

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    scope: Mapped[str] = mapped_column(String(16))  # expert | book | submit | jury
    subject_id: Mapped[int]
    # The member a team's submission link belongs to: their saves are theirs.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    revoked_at: Mapped[datetime | None]


class Channel(Base):
    """A built-in channel: #announcements, one per team, the bot."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("event_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # announcements | team | bot
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))


class ChannelMessage(Base):
    __tablename__ = "channel_messages"
    __table_args__ = (Index("ix_channel_messages_channel_id_id", "channel_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    outbox_key: Mapped[str | None] = mapped_column(String(200), unique=True)  # a redelivery is a no-op
    author: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply: Mapped[dict[str, Any] | None]  # the bot's answer: title, text, fields, links
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to deliver, written in the transaction that caused it (see hackserver.foundation.outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    # When a send to a platform began, kept until an attempt fails: a row claimed again with it set
    # lost an attempt with its process, and the platform may have that message already.
    attempted_at: Mapped[datetime | None]


class FiredItem(Base):
    """The clock's marker: an item fired (or was skipped) once per event, whatever instant a restart
    of the demo or a phase shift moves it to afterwards."""

    __tablename__ = "fired_items"
    __table_args__ = (UniqueConstraint("event_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    key: Mapped[str] = mapped_column(String(120))
    instant: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))  # fired | skipped
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    # A session cookie is checked against its account's sign-outs on every request.
    __table_args__ = (Index("ix_audit_log_actor_action", "actor", "action"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = _event_fk()
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class HandledRequest(Base):
    """A platform request (Slack trigger, Discord interaction) already run: sent again, it is not run again."""

    __tablename__ = "handled_requests"
    __table_args__ = (UniqueConstraint("platform", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CommandMinute(Base):
    """How many chat commands the web processes answered in one minute of the event's clock, each
    process adding its own count (see hackserver.dashboard.command_counts)."""

    __tablename__ = "command_counts"
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    commands: Mapped[int]


class ServerSecret(Base):
    """Secrets generated on first run (the link-signing key), shared by every web process."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
