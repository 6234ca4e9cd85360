"""The organisers' `/hack announce`, `phase`, `stats` and `extend`."""

from __future__ import annotations

from sqlalchemy import func, select

from bots.core import Context, Reply, UsageError, command, local_time
from hackserver.foundation.errors import Unreadable
from hackserver.foundation.event import parse_duration
from hackserver.foundation.models import OutboxMessage, Participant, Submission, Team
from hackserver.sprint import announcements
from hackserver.sprint.phases import current_phase, shift_phase
from hackserver.submissions import entries
from hackserver.teams import teams
from hackserver.teams.participants import only_organising


@command("extend", organiser_only=True)
async def extend(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) != 2:
        raise UsageError("")
    team = await teams.by_code(ctx.tx.session, ctx.runtime.event_id, words[0])
    try:
        delta = parse_duration(words[1].lstrip("+"))
    except Unreadable as problem:
        raise UsageError(problem.say(ctx.language)) from None
    phases = await ctx.tx.phases()
    until = entries.regular_deadline(ctx.runtime.event, phases) + delta
    actor = f"organiser:{ctx.participant.display_name}"
    await entries.extend(ctx.tx, team.id, until, actor=actor)
    return Reply(ctx.say("submission.extended", team=team.name, until=local_time(until, ctx)))


@command("announce", organiser_only=True)
async def announce(ctx: Context, args: str) -> Reply:
    text = args.strip()
    if not text:
        raise UsageError("")
    actor = f"organiser:{ctx.participant.display_name}"
    sent = await announcements.send(ctx.tx, text, language=ctx.language, actor=actor)
    return Reply(ctx.say("announce.sent", channels=", ".join(f"{p} {c}" for p, c in sent)))


@command("phase", organiser_only=True)
async def phase(ctx: Context, args: str) -> Reply:
    words = args.split()
    if words and words[0].lower() == "shift":
        if len(words) != 3:
            raise UsageError("")
        amount = words[2]
        try:
            delta = parse_duration(amount.lstrip("+-")) * (-1 if amount.startswith("-") else 1)
        except Unreadable as problem:
            raise UsageError(problem.say(ctx.language)) from None
        await shift_phase(ctx.tx, words[1], delta, actor=f"organiser:{ctx.participant.display_name}")
    elif words:
        raise UsageError("")
    phases = await ctx.tx.phases()
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
        select(func.count())
        .select_from(Participant)
        .where(Participant.event_id == event_id, ~only_organising(ctx.runtime.event.organisers))
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
