"""The `/hack` sub-commands: grammar → domain → reply. Adding one is a decorated function here."""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import Select, bindparam, func, select

from bots.core import COMMANDS, Bot, Context, Invocation, Reply, UsageError, command, countdown, local_time
from hackserver import outbox, participants
from hackserver.event import PHASES, parse_duration
from hackserver.models import (
    AuditEntry,
    Booking,
    Challenge,
    Membership,
    OutboxMessage,
    Participant,
    Slot,
    Submission,
    Team,
)
from hackserver.phases import current_phase, next_phase, shift_phase

__all__ = ["Bot", "Invocation", "Reply"]

# Sub-commands whose capability has not landed yet: they answer so, with their usage.
COMING = {
    "team create": "team create <name>",
    "team join": "team join <code>",
    "team leave": "team leave",
    "team info": "team info",
    "teams open": "teams open [skill]",
    "match me": "match me",
    "challenges": "challenges [search words]",
    "challenge pick": "challenge pick <id> [<id> <id>]",
    "experts": "experts [topic]",
    "help-request": "help-request <topic> <question>",
    "submit": "submit",
}
PROFILE_KEYS = {
    "skills": "skills",
    "skill": "skills",
    "fähigkeiten": "skills",
    "langs": "langs",
    "languages": "langs",
    "lang": "langs",
    "sprachen": "langs",
    "tz": "tz",
    "timezone": "tz",
    "zeitzone": "tz",
}


@command("help", read_only=True)
async def help_(ctx: Context, args: str) -> Reply:
    lines = [ctx.say("help.intro")]
    lines += [
        f"• `{c.usage}` — {ctx.say('cmd.' + c.name)}" for c in COMMANDS.values() if not c.organiser_only
    ]
    if ctx.organiser:
        lines.append(ctx.say("help.organiser"))
        lines += [
            f"• `{c.usage}` — {ctx.say('cmd.' + c.name)}" for c in COMMANDS.values() if c.organiser_only
        ]
    return Reply("\n".join(lines), title=ctx.say("help.title"))


@functools.cache
def _team_of_participant() -> Select[Team]:
    return select(Team).join(Membership).where(Membership.participant_id == bindparam("participant_id"))


@command("status", read_only=True)
async def status(ctx: Context, args: str) -> Reply:
    session, now = ctx.tx.session, ctx.tx.now
    phases = await ctx.runtime.phases(session)
    phase, coming = current_phase(phases, now), next_phase(phases, now)
    title = ctx.say("status.title", event=ctx.runtime.event.name, phase=ctx.say(f"phase.{phase}"))
    if coming:
        text = ctx.say(
            "status.next", phase=ctx.say(f"phase.{coming[0]}"), left=countdown(coming[1] - now, ctx.language)
        )
        text += f" · {local_time(coming[1], ctx)}"
    else:
        text = ctx.say("status.over")
    team = await session.scalar(_team_of_participant(), {"participant_id": ctx.participant.id})
    if team is None:
        pooled = ctx.participant.in_match_pool
        return Reply(
            text,
            title=title,
            fields=[(ctx.say("status.team"), ctx.say("status.in_pool" if pooled else "status.no_team"))],
        )
    challenge = await session.get(Challenge, team.challenge_id) if team.challenge_id else None
    booking = await session.scalar(
        select(Slot.starts_at)
        .join(Booking)
        .where(Booking.team_id == team.id, Booking.cancelled_at.is_(None), Slot.starts_at > now)
        .order_by(Slot.starts_at)
    )
    submission = await session.scalar(select(Submission.status).where(Submission.team_id == team.id))
    none = ctx.say("status.none")
    fields = [
        (ctx.say("status.team"), f"{team.name} ({team.member_count}/{ctx.runtime.event.team_max_size})"),
        (ctx.say("status.challenge"), challenge.title if challenge else none),
        (ctx.say("status.booking"), local_time(booking, ctx) if booking else none),
        (ctx.say("status.submission"), ctx.say(f"submission.{submission}") if submission else none),
    ]
    return Reply(text, title=title, fields=fields)


@command("profile", "profile skills <a,b,..> [langs <de,en>] [tz <Area/City>]")
async def profile(ctx: Context, args: str) -> Reply:
    person = ctx.participant
    if args.strip():
        values: dict[str, list[str]] = {}
        key = None
        for token in args.split():
            if token.lower() in PROFILE_KEYS:
                key = PROFILE_KEYS[token.lower()]
                values[key] = []
            elif key is None:
                raise UsageError(ctx.say("profile.unknown_key", word=token[:30]))
            else:
                values[key].append(token)
        for key, words in values.items():
            if not words:
                raise UsageError(ctx.say("profile.needs_value", field=key))
        try:
            if "skills" in values:
                participants.set_skills(person, " ".join(values["skills"]))
            if "langs" in values:
                participants.set_languages(person, "".join(values["langs"]), ctx.runtime.event.languages)
            if "tz" in values:
                participants.set_timezone(person, " ".join(values["tz"]))
        except participants.ProfileError as problem:
            raise UsageError(ctx.say(f"profile.{problem.code}", **problem.params)) from None
        ctx.tx.record("participant.profile", participant=person.id)
    unset = ctx.say("profile.unset")
    return Reply(
        ctx.say("profile.saved") if args.strip() else ctx.say("profile.usage_hint"),
        title=ctx.say("profile.title"),
        fields=[
            (ctx.say("profile.skills"), ", ".join(person.skills) or unset),
            (ctx.say("profile.languages"), ", ".join(person.languages) or unset),
            (ctx.say("profile.timezone"), person.timezone or unset),
        ],
    )


@command("announce", "announce <text>", organiser_only=True)
async def announce(ctx: Context, args: str) -> Reply:
    text = args.strip()
    if not text:
        raise UsageError("")
    key = f"manual:{uuid.uuid4().hex}"
    await outbox.announce(ctx.runtime, ctx.tx, key, "announcements", {ctx.language: text})
    ctx.tx.session.add(
        AuditEntry(
            event_id=ctx.runtime.event_id,
            actor=f"organiser:{ctx.participant.display_name}",
            action="announce",
            details={"text": text[:500], "key": key},
            at=ctx.tx.now,
        )
    )
    ctx.tx.record("announcement.sent", id=key, by=ctx.participant.display_name)
    where = ", ".join(
        f"{platform} {channel}" for platform, channel in ctx.runtime.platform_channels("announcements")
    )
    return Reply(ctx.say("announce.sent", channels=where))


@command("phase", "phase [shift <phase> <+30m|-10m>]", organiser_only=True)
async def phase(ctx: Context, args: str) -> Reply:
    words = args.split()
    if words and words[0].lower() == "shift":
        if len(words) != 3 or words[1] not in PHASES:
            raise UsageError(f"phases: {', '.join(PHASES)}" if len(words) == 3 else "")
        amount = words[2]
        try:
            delta = parse_duration(amount.lstrip("+-")) * (-1 if amount.startswith("-") else 1)
        except ValueError as problem:
            raise UsageError(str(problem)) from None
        await shift_phase(
            ctx.runtime, ctx.tx, words[1], delta, actor=f"organiser:{ctx.participant.display_name}"
        )
    elif words:
        raise UsageError("")
    phases = await ctx.runtime.phases(ctx.tx.session)
    now_phase = current_phase(phases, ctx.tx.now)
    lines = [
        ("▶ " if name == now_phase else "")
        + ctx.say("phase.line", phase=ctx.say(f"phase.{name}"), at=local_time(at, ctx))
        for name, at in phases.items()
    ]
    return Reply("\n".join(lines), title=ctx.say("cmd.phase"))


@command("stats", organiser_only=True)
async def stats(ctx: Context, args: str) -> Reply:
    session, event_id = ctx.tx.session, ctx.runtime.event_id

    async def count(query: object) -> int:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]

    people = await count(
        select(func.count()).select_from(Participant).where(Participant.event_id == event_id)
    )
    pool = await count(
        select(func.count())
        .select_from(Participant)
        .where(Participant.event_id == event_id, Participant.in_match_pool)
    )
    teams = await count(select(func.count()).select_from(Team).where(Team.event_id == event_id))
    submissions = await count(
        select(func.count()).select_from(Submission).join(Team).where(Team.event_id == event_id)
    )
    waiting = await count(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
    )
    return Reply(
        "",
        title=ctx.say("cmd.stats"),
        fields=[
            (ctx.say("stats.participants"), str(people)),
            (ctx.say("stats.pool"), str(pool)),
            (ctx.say("stats.teams"), str(teams)),
            (ctx.say("stats.submissions"), str(submissions)),
            (ctx.say("stats.outbox"), str(waiting)),
        ],
    )


def _coming(name: str) -> None:
    async def not_open(ctx: Context, args: str) -> Reply:
        return Reply(ctx.say("not_open", command=COMING[name]), ok=False)

    command(name, COMING[name])(not_open)


for _name in COMING:
    _coming(_name)

# Keep help in the order of the grammar in the docs: help, status, profile, the coming ones, organisers'.
_ORDER = ["help", "status", "profile", *COMING, "announce", "phase", "stats"]
COMMANDS.update({name: COMMANDS.pop(name) for name in _ORDER})
