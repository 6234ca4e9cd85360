"""Submissions: a team's entry, edited by any member until the deadline, every save a new version.

The deadline is the server's clock: a save is decided inside its transaction, against tx.now and the
submission row locked for it, so a save racing the deadline (or the freeze at the deadline) is
decided once. A draft is the team's work in progress; a submitted entry has every required field and
goes to the jury. A save names the version its form showed, and one based on an older version than
the stored one is refused, so two members editing at once never silently overwrite each other. At
the deadline (plus the grace, or the team's extension) the latest version of each submitted entry
is frozen as final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hackserver.foundation import db
from hackserver.foundation.errors import Conflict, DomainError, NotFound, TooLate
from hackserver.foundation.event_forms import FormField, SubmissionForm
from hackserver.foundation.i18n import Moment
from hackserver.foundation.models import AuditEntry, Participant, Submission, SubmissionVersion, Team
from hackserver.foundation.plain_text import free_text
from hackserver.teams import teams

if TYPE_CHECKING:
    from hackserver.foundation.event import Event
    from hackserver.foundation.transaction import Transaction

DRAFT, SUBMITTED, FINAL = "draft", "submitted", "final"
IN_FLIGHT = timedelta(minutes=2)  # no client still waits for a request older than this
CREDITS = "_credits"  # where a version keeps the members credited, beside the form's fields


@dataclass(frozen=True)
class Problem:
    key: str
    params: dict[str, object] = field(default_factory=dict)


class InvalidSubmission(DomainError):
    """The form has problems, each tied to its field; nothing was saved."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__("submission.invalid")
        self.problems = problems


class Stale(Conflict):
    """Another member saved since this member's form was loaded; nothing was saved, so that a later
    save never silently replaces one the saver has not seen."""

    def __init__(self, version: int, person: str | None, at: Moment | None) -> None:
        if at is None:  # the form named a version this submission never had
            super().__init__("submission.stale_unknown", version=version)
        else:
            super().__init__("submission.stale", version=version, person=person or "?", at=at)
        self.version = version


class NotMember(Conflict):
    """The member a submission link belongs to has left the team: the link saves nothing for it."""

    def __init__(self, team: str) -> None:
        super().__init__("submission.left_team", team=team)


@dataclass(frozen=True)
class Entry:
    """What a member sends from the form."""

    values: dict[str, str]
    credits: list[int]  # participant ids of the members credited
    saved_by: int  # the member whose link saves it
    submit: bool  # submit (every required field) rather than save a draft
    based_on: int  # the version the member's form showed (0: nothing was saved yet)


@dataclass(frozen=True)
class Saved:
    status: str
    version: int
    deadline: datetime


def url_ok(text: str) -> bool:
    if any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and ("." in (host or "") or host == "localhost")


def validate(
    form: SubmissionForm, raw: dict[str, str], *, submit: bool, language: str = "en"
) -> tuple[dict[str, str], dict[str, Problem]]:
    """The cleaned values and the problems by field id; pure."""
    values, problems = {}, {}
    for item in form.fields:
        value = free_text(raw.get(item.id, ""))
        values[item.id] = value
        label = item.label(language)
        if len(value) > item.max_length:
            problems[item.id] = Problem(
                "submission.field_too_long", {"field": label, "length": len(value), "max": item.max_length}
            )
        elif value and item.kind == "url" and not url_ok(value):
            problems[item.id] = Problem("submission.field_url", {"field": label})
        elif not value and item.required and submit:
            problems[item.id] = Problem("submission.field_required", {"field": label})
    if not any(values.values()) and not problems:
        problems[form.fields[0].id] = Problem("submission.empty_draft")
    return values, problems


def regular_deadline(event: Event, phases: dict[str, datetime]) -> datetime:
    return phases["submission_deadline"] + event.submission.grace


def deadline_of(event: Event, phases: dict[str, datetime], submission: Submission | None) -> datetime:
    """The instant from which this team's saves are refused: an extension ends when judging begins,
    at the latest, wherever a shift has moved judging since it was granted."""
    regular = regular_deadline(event, phases)
    extended = submission.extended_until if submission is not None else None
    return min(max(regular, extended), phases["judging"]) if extended is not None else regular


def local(event: Event, instant: datetime) -> Moment:
    return Moment(instant, event.timezone, seconds=True)


async def _team_and_row(tx: Transaction, team_id: int) -> tuple[Team, Submission]:
    """The team and its submission row, made if missing, locked until the transaction ends: two first
    saves at once make one row, and a save and the freeze are decided one after the other."""
    locked = (
        select(Team, Submission)
        .join(Submission, Submission.team_id == Team.id)
        .where(Team.id == team_id, Team.event_id == tx.event_id)
        .with_for_update(of=Submission)
        .execution_options(populate_existing=True)
    )
    row = (await tx.session.execute(locked)).first()  # one query for the usual case: the row is there
    if row is None:
        team = await tx.session.get(Team, team_id)
        if team is None or team.event_id != tx.event_id:
            raise NotFound("team.no_such_team", id=team_id)
        values = {"team_id": team_id, "status": DRAFT, "version": 0, "updated_at": tx.now}
        await tx.session.execute(db.insert_unless_there(tx.session, Submission).values(values))
        row = (await tx.session.execute(locked)).first()
    assert row is not None
    return row[0], row[1]


async def save(
    tx: Transaction,
    team_id: int,
    entry: Entry,
    language: str = "en",
    *,
    received_at: datetime | None = None,
) -> Saved:
    """Stores a new version, or refuses (NotMember, TooLate, Stale, InvalidSubmission) and changes
    nothing.

    received_at is when the request reached the server (by its clock; now if not given): a save that
    arrived before the deadline but queued for the database in the last-minute rush is on time, one
    that arrived at or after it is not. The decision is made here, with the row locked."""
    team, submission = await _team_and_row(tx, team_id)
    members = {m.participant_id: m.name for m in await teams.members(tx.session, team_id)}
    if entry.saved_by not in members:
        raise NotMember(team.name)
    phases = await tx.phases()
    deadline = deadline_of(tx.event, phases, submission)
    arrived = tx.now if received_at is None or tx.now - received_at > IN_FLIGHT else min(received_at, tx.now)
    if arrived >= deadline:
        if submission.status == FINAL:
            raise TooLate("submission.final_already", version=submission.version)
        raise TooLate("submission.closed", deadline=local(tx.event, deadline))
    if submission.status == FINAL and (submission.frozen_at is None or arrived >= submission.frozen_at):
        raise TooLate("submission.final_already", version=submission.version)
    # Still FINAL here only for a save that arrived before the freeze: its version becomes the final one.
    submit = entry.submit or submission.status != DRAFT  # once submitted, it stays submitted
    if entry.based_on != submission.version:  # also one above: a form never shows a version not saved
        raise await _stale(tx, submission, entry.based_on)
    values, problems = validate(tx.event.submission, entry.values, submit=submit, language=language)
    if not entry.credits:
        problems["credits"] = Problem("submission.no_credits")
    elif any(person not in members for person in entry.credits):
        problems["credits"] = Problem("submission.not_member")
    if problems:
        raise InvalidSubmission(problems)
    credited = [{"id": p, "name": members[p]} for p in members if p in entry.credits]
    submission.version += 1
    tx.session.add(
        SubmissionVersion(
            submission_id=submission.id,
            number=submission.version,
            fields={**values, CREDITS: credited},
            saved_by=entry.saved_by,
            saved_at=arrived,
        )
    )
    was = submission.status
    submission.updated_at = tx.now
    if submit and was == DRAFT:
        submission.status, submission.submitted_at = SUBMITTED, tx.now
    tx.record(
        "submission.saved", team=team_id, name=team.name, version=submission.version, status=submission.status
    )
    if submission.status != DRAFT:
        person = members[entry.saved_by]
        await teams.post(tx, team, teams.message_key(team, f"submission:v{submission.version}"),
            "submission.confirmed" if was == DRAFT else "submission.updated",
            title=values[tx.event.submission.fields[0].id], version=submission.version,
            person=person, deadline=local(tx.event, deadline),
        )  # fmt: skip
    return Saved(submission.status, submission.version, deadline)


async def _stale(tx: Transaction, submission: Submission, based_on: int) -> Stale:
    if based_on > submission.version:  # no one saved it: nobody to name
        return Stale(submission.version, None, None)
    person, saved_at = (
        await tx.session.execute(
            select(Participant.display_name, SubmissionVersion.saved_at)
            .outerjoin(Participant, Participant.id == SubmissionVersion.saved_by)
            .where(
                SubmissionVersion.submission_id == submission.id,
                SubmissionVersion.number == submission.version,
            )
        )
    ).one()
    return Stale(submission.version, person, local(tx.event, saved_at))


@dataclass(frozen=True)
class Saving:
    """One version in the history: its number, when, and by whom (not its content)."""

    number: int
    saved_at: datetime
    saved_by: int | None


@dataclass
class View:
    team: Team
    members: list[teams.Member]
    submission: Submission | None
    latest: SubmissionVersion | None
    versions: list[Saving]  # newest first
    deadline: datetime
    now: datetime

    @property
    def status(self) -> str:
        return self.submission.status if self.submission else DRAFT

    @property
    def open(self) -> bool:
        return self.status != FINAL and self.now < self.deadline

    @property
    def left(self) -> timedelta:
        return max(timedelta(0), self.deadline - self.now)

    def value(self, item: FormField) -> str:
        return str(self.latest.fields.get(item.id, "")) if self.latest else ""

    def credited(self) -> set[int]:
        if self.latest is None:
            return {m.participant_id for m in self.members}
        return {c["id"] for c in self.latest.fields.get(CREDITS, [])}


async def view(tx: Transaction, team_id: int, now: datetime) -> View:
    team = await tx.session.get(Team, team_id)
    if team is None or team.event_id != tx.event_id:
        raise NotFound("team.no_such_team", id=team_id)
    submission = await tx.session.scalar(select(Submission).where(Submission.team_id == team_id))
    versions: list[Saving] = []
    latest = None
    if submission is not None and submission.version:
        # The history without its content: a team that saved fifty times reads one version's fields.
        rows = await tx.session.execute(
            select(SubmissionVersion.number, SubmissionVersion.saved_at, SubmissionVersion.saved_by)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.number.desc())
        )
        versions = [Saving(*row) for row in rows]
        latest = await tx.session.scalar(
            select(SubmissionVersion).where(
                SubmissionVersion.submission_id == submission.id,
                SubmissionVersion.number == submission.version,
            )
        )
    phases = await tx.phases()
    return View(
        team,
        await teams.members(tx.session, team_id),
        submission,
        latest,
        versions,
        deadline_of(tx.event, phases, submission),
        now,
    )


async def freeze_due(tx: Transaction) -> int:
    """Makes final every submitted entry whose deadline (or extension) has passed; tells each team."""
    phases = await tx.phases()
    if tx.now < regular_deadline(tx.event, phases):
        return 0
    due = (
        select(Submission, Team)
        .join(Team, Team.id == Submission.team_id)
        .where(Team.event_id == tx.event_id, Submission.status == SUBMITTED)
    )
    if tx.now < phases["judging"]:  # as deadline_of decides: once judging begins, no extension holds
        due = due.where(or_(Submission.extended_until.is_(None), Submission.extended_until <= tx.now))
    frozen = 0
    title_field = tx.event.submission.fields[0].id
    for submission, team in (await tx.session.execute(due.with_for_update(of=Submission))).all():
        submission.status, submission.frozen_at = FINAL, tx.now
        latest = await tx.session.scalar(
            select(SubmissionVersion.fields).where(
                SubmissionVersion.submission_id == submission.id,
                SubmissionVersion.number == submission.version,
            )
        )
        await teams.post(tx, team, teams.message_key(team, f"submission:final:v{submission.version}"),
            "submission.frozen", title=(latest or {}).get(title_field, ""), version=submission.version,
        )  # fmt: skip
        frozen += 1
    if frozen:
        tx.record("submission.frozen", count=frozen)
    return frozen


async def extend(tx: Transaction, team_id: int, until: datetime, *, actor: str) -> Submission:
    """Gives one team until `until` (after the deadline, before judging) to save; audit-logged."""
    team = await tx.session.get(Team, team_id)
    if team is None or team.event_id != tx.event_id:
        raise NotFound("team.no_such_team", id=team_id)
    phases = await tx.phases()
    regular = regular_deadline(tx.event, phases)
    if tx.now >= phases["judging"]:
        raise TooLate("submission.judging_begun")
    if until <= regular:
        raise Conflict("submission.extension_too_early", deadline=local(tx.event, regular))
    if until > phases["judging"]:
        raise Conflict("submission.extension_too_late", judging=local(tx.event, phases["judging"]))
    _, submission = await _team_and_row(tx, team_id)
    before = submission.extended_until
    submission.extended_until = until
    if submission.status == FINAL and until > tx.now:  # frozen a moment ago: open again for them
        submission.status, submission.frozen_at = SUBMITTED, None
    tx.session.add(
        AuditEntry(
            event_id=tx.event_id, actor=actor, action="submission.extend", at=tx.now,
            details={"team": team_id, "until": until.isoformat(),
                     "before": before.isoformat() if before else None},
        )
    )  # fmt: skip
    tx.record("submission.extended", team=team_id, name=team.name, until=until.isoformat())
    await teams.post(tx, team, teams.message_key(team, f"submission:extended:{until.timestamp():.0f}"),
        "submission.extended_note", until=local(tx.event, until),
    )  # fmt: skip
    return submission


async def finals(session: AsyncSession, event_id: int) -> list[tuple[Submission, Team, dict[str, Any]]]:
    """Every final submission with its team and its final version's fields."""
    rows = await session.execute(
        select(Submission, Team, SubmissionVersion.fields)
        .join(Team, Team.id == Submission.team_id)
        .join(
            SubmissionVersion,
            and_(
                SubmissionVersion.submission_id == Submission.id,
                SubmissionVersion.number == Submission.version,
            ),
        )
        .where(Team.event_id == event_id, Submission.status == FINAL)
        .order_by(Submission.id)
    )
    return [(s, t, f) for s, t, f in rows.all()]
