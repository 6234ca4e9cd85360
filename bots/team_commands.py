"""`/hack team …`, `teams open`, `match me`, `submit`: forming a team and handing in its work; and the
organisers' `match run`."""

from __future__ import annotations

from bots.core import Context, Reply, UsageError, command, local_time
from hackserver.foundation import links
from hackserver.foundation.numbers import whole
from hackserver.submissions import entries
from hackserver.teams import matching, skills, teams


@command("team create")
async def team_create(ctx: Context, args: str) -> Reply:
    if not args.strip():
        raise UsageError("")
    team = await teams.create(ctx.tx, ctx.participant, args)
    return Reply(
        ctx.say("team.created_reply", name=team.name, code=team.join_code),
        fields=[(ctx.say("team.code"), team.join_code), (ctx.say("team.channel"), teams.channel_name(team))],
    )


@command("team join")
async def team_join(ctx: Context, args: str) -> Reply:
    if len(args.split()) != 1:
        raise UsageError("")
    team = await teams.join(ctx.tx, ctx.participant, args)
    text = ctx.say(
        "team.joined_reply", name=team.name, size=team.member_count, max=ctx.runtime.event.team_max_size
    )
    return Reply(text, fields=[(ctx.say("team.channel"), teams.channel_name(team))])


@command("team leave")
async def team_leave(ctx: Context, args: str) -> Reply:
    team = await teams.leave(ctx.tx, ctx.participant)
    return Reply(ctx.say("team.left_reply", name=team.name))


@command("team info", read_only=True)
async def team_info(ctx: Context, args: str) -> Reply:
    team = await teams.team_of(ctx.tx.session, ctx.participant.id)
    if team is None:
        return Reply(ctx.say("team.not_in_one"), ok=False)
    people = await teams.members(ctx.tx.session, team.id)
    present = sorted({skill for person in people for skill in person.skills})
    fields = [
        (ctx.say("team.size"), f"{team.member_count}/{ctx.runtime.event.team_max_size}"),
        (ctx.say("team.code"), team.join_code),
        (ctx.say("team.skills"), ", ".join(present) or "–"),
        (ctx.say("team.channel"), teams.channel_name(team)),
    ]
    if team.explanation:
        fields.append((ctx.say("team.why"), matching.explain(ctx.language, team.explanation)))
    lines = [ctx.say("match.member_line", name=p.name, skills=", ".join(p.skills) or "–") for p in people]
    return Reply(
        ctx.say("team.members") + ":\n" + "\n".join(lines),
        title=ctx.say("team.info_title", name=team.name),
        fields=fields,
    )


@command("teams open", read_only=True)
async def teams_open(ctx: Context, args: str) -> Reply:
    skill = skills.normalise(args) if args.strip() else None
    found = await teams.open_for(
        ctx.tx.session, ctx.runtime.event, ctx.runtime.event_id, ctx.participant, skill
    )
    needing = ctx.say("teams.needing", skill=skill) if skill else ""
    if not found:
        return Reply(ctx.say("teams.open_none", skill=needing))
    lines = [
        ctx.say(
            "teams.open_line",
            name=t.name,
            size=t.size,
            max=ctx.runtime.event.team_max_size,
            skills=", ".join(sorted(t.skills)) or "–",
            code=t.code,
        )
        for t in found
    ]
    return Reply("\n".join(lines), title=ctx.say("teams.open_title") + needing)


@command("match me")
async def match_me(ctx: Context, args: str) -> Reply:
    already = ctx.participant.in_match_pool
    await teams.enter_pool(ctx.tx, ctx.participant)
    close = (await ctx.tx.phases())["team_formation_close"]
    return Reply(ctx.say("match.already" if already else "match.pooled", at=local_time(close, ctx)))


@command("match run", organiser_only=True)
async def match_run(ctx: Context, args: str) -> Reply:
    words = args.split()
    seed = whole(words[0]) if words else None
    if len(words) > 1 or (words and seed is None):
        raise UsageError("")
    run = await matching.run(ctx.tx, actor=f"organiser:{ctx.participant.display_name}", seed=seed)
    lines = [
        f"• {entry['name']}: {ctx.say('match.alone.' + entry['reason'], **entry['params'])}"
        for entry in run.alone
    ]
    return Reply("\n".join([matching.summary(run, ctx.language), *lines[:20]]))


@command("submit")
async def submit(ctx: Context, args: str) -> Reply:
    team = await teams.team_of(ctx.tx.session, ctx.participant.id)
    if team is None:
        return Reply(ctx.say("submission.no_team"), ok=False)
    # The member's own link: a save through it is theirs.
    address = ctx.tx.links.address("submit", await links.grant(ctx.tx, "submit", team.id, ctx.participant.id))
    item = await entries.view(ctx.tx, team.id, ctx.tx.now)
    deadline = local_time(item.deadline, ctx)
    state = ctx.say(f"submission.{item.status}")
    return Reply(
        ctx.say("submission.link", team=team.name, url=address, deadline=deadline),
        fields=[(ctx.say("status.submission"), state), (ctx.say("phase.submission_deadline"), deadline)],
        links=[(ctx.say("submission.link_label"), address)],
    )
