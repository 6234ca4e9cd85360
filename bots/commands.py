"""The `/hack` sub-commands: grammar → domain → reply. Adding one is a decorated function here."""

from __future__ import annotations

from sqlalchemy import func, select

from bots.core import (
    COMMANDS,
    Bot,
    Context,
    Invocation,
    Reply,
    UsageError,
    ViewContext,
    command,
    countdown,
    local_time,
    view,
)
from hackserver.challenges import assignment, preferences
from hackserver.foundation import links
from hackserver.foundation.models import (
    OutboxMessage,
    Participant,
    Submission,
    Team,
)
from hackserver.sprint import announcements
from hackserver.sprint.event import PHASES, parse_duration
from hackserver.sprint.phases import current_phase, next_phase, shift_phase
from hackserver.submissions import entries
from hackserver.teams import matching, participants, skills, teams

__all__ = ["Bot", "Invocation", "Reply"]

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
    "wants": "wants",
    "interests": "wants",
    "interessen": "wants",
    "themen": "wants",
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


@view("status")
async def status(ctx: ViewContext) -> Reply:
    now, phases = ctx.now, ctx.phases
    phase, coming = current_phase(phases, now), next_phase(phases, now)
    title = ctx.say("status.title", event=ctx.runtime.event.name, phase=ctx.say(f"phase.{phase}"))
    if coming:
        text = ctx.say(
            "status.next", phase=ctx.say(f"phase.{coming[0]}"), left=countdown(coming[1] - now, ctx.language)
        )
        text += f" · {local_time(coming[1], ctx)}"
    else:
        text = ctx.say("status.over")
    team = ctx.status.team
    if team is None:
        pooled = ctx.status.in_match_pool
        return Reply(
            text,
            title=title,
            fields=[(ctx.say("status.team"), ctx.say("status.in_pool" if pooled else "status.no_team"))],
        )
    none = ctx.say("status.none")
    submission = team.submission
    fields = [
        (ctx.say("status.team"), f"{team.name} ({team.size}/{ctx.runtime.event.team_max_size})"),
        (ctx.say("status.challenge"), team.challenge or none),
        (ctx.say("status.booking"), local_time(team.next_booking, ctx) if team.next_booking else none),
        (ctx.say("status.submission"), ctx.say(f"submission.{submission}") if submission else none),
    ]
    return Reply(text, title=title, fields=fields)


@command(
    "profile", "profile skills <a,b,..> [langs <de,en>] [tz <Area/City>] [wants <topics or challenge ids>]"
)
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
            if "wants" in values:
                participants.set_interests(person, " ".join(values["wants"]))
        except participants.ProfileError as problem:
            raise UsageError(problem.say(ctx.language)) from None
        ctx.tx.record("participant.profile", participant=person.id)
    unset = ctx.say("profile.unset")
    return Reply(
        ctx.say("profile.saved") if args.strip() else ctx.say("profile.usage_hint"),
        title=ctx.say("profile.title"),
        fields=[
            (ctx.say("profile.skills"), ", ".join(person.skills) or unset),
            (ctx.say("profile.languages"), ", ".join(person.languages) or unset),
            (ctx.say("profile.timezone"), person.timezone or unset),
            (ctx.say("profile.interests"), ", ".join(person.interests) or unset),
        ],
    )


@command("link", "link [code]")
async def profile_link(ctx: Context, args: str) -> Reply:
    """Without a code: a code to type on another chat account. With one: this account joins that one."""
    secret = ctx.runtime.link_secret
    if not args.strip():
        code = participants.link_code(secret, ctx.participant.id)
        return Reply(ctx.say("profile.link_code", code=code, minutes=participants.LINK_AGE // 60))
    if len(args.split()) != 1:
        raise UsageError("")
    try:
        person = await participants.link(ctx.tx.session, secret, args, ctx.participant)
    except participants.ProfileError as problem:
        return Reply(problem.say(ctx.language), ok=False)
    ctx.tx.record("participant.linked", participant=person.id)
    return Reply(ctx.say("profile.linked", name=person.display_name))


@command("team create", "team create <name>")
async def team_create(ctx: Context, args: str) -> Reply:
    if not args.strip():
        raise UsageError("")
    team = await teams.create(ctx.runtime, ctx.tx, ctx.participant, args)
    return Reply(
        ctx.say("team.created_reply", name=team.name, code=team.join_code),
        fields=[(ctx.say("team.code"), team.join_code), (ctx.say("team.channel"), teams.channel_name(team))],
    )


@command("team join", "team join <code>")
async def team_join(ctx: Context, args: str) -> Reply:
    if len(args.split()) != 1:
        raise UsageError("")
    team = await teams.join(ctx.runtime, ctx.tx, ctx.participant, args)
    text = ctx.say(
        "team.joined_reply", name=team.name, size=team.member_count, max=ctx.runtime.event.team_max_size
    )
    return Reply(text, fields=[(ctx.say("team.channel"), teams.channel_name(team))])


@command("team leave")
async def team_leave(ctx: Context, args: str) -> Reply:
    team = await teams.leave(ctx.runtime, ctx.tx, ctx.participant)
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


@command("teams open", "teams open [skill]", read_only=True)
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
    await teams.enter_pool(ctx.runtime, ctx.tx, ctx.participant)
    close = (await ctx.runtime.phases(ctx.tx.session))["team_formation_close"]
    return Reply(ctx.say("match.already" if already else "match.pooled", at=local_time(close, ctx)))


@command("match run", "match run [seed]", organiser_only=True)
async def match_run(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) > 1 or (words and not words[0].isdigit()):
        raise UsageError("")
    seed = int(words[0]) if words else None
    run = await matching.run(
        ctx.runtime, ctx.tx, actor=f"organiser:{ctx.participant.display_name}", seed=seed
    )
    lines = [
        f"• {entry['name']}: {ctx.say('match.alone.' + entry['reason'], **entry['params'])}"
        for entry in run.alone
    ]
    text = ctx.say(
        "match.done", teams=run.teams_formed, placed=run.placed_in_open_teams, alone=len(run.alone)
    )
    return Reply("\n".join([text, *lines[:20]]))


SHOWN = 10  # challenges a search answers with


@command("challenges", "challenges [search words]", read_only=True)
async def challenges(ctx: Context, args: str) -> Reply:
    catalogue = await ctx.runtime.catalogue.get(ctx.tx.session, ctx.runtime.event_id)
    if not len(catalogue):
        return Reply(ctx.say("challenges.empty"))
    hits = catalogue.hits(args)
    if not hits:
        return Reply(ctx.say("challenges.none", words=args.strip()[:60]), ok=False)
    standings = await preferences.standings(ctx.tx.session, ctx.runtime.event_id)
    lines = []
    for n, hit in enumerate(hits[:SHOWN], start=1):
        c, standing = hit.challenge, standings.get(hit.challenge.id, preferences.Standing(0, 0))
        free = standing.free(c)
        room = (
            ctx.say("challenge.unlimited")
            if free is None
            else ctx.say("challenge.free", free=free, max=c.max_teams)
        )
        if standing.first_choice:
            room += " · " + ctx.say("challenge.wanted", n=standing.first_choice)
        lines.append(ctx.say("challenge.line", n=n, id=c.external_id, title=c.title, free=room))
    if len(hits) > SHOWN:
        lines.append(ctx.say("challenges.more", n=len(hits) - SHOWN))
    lines.append(ctx.say("challenges.pick_hint"))
    title = (
        ctx.say("challenges.found", words=args.strip()[:60]) if args.strip() else ctx.say("challenges.title")
    )
    return Reply("\n".join(lines), title=title)


@command("challenge pick", "challenge pick <id> [<id> <id>]")
async def challenge_pick(ctx: Context, args: str) -> Reply:
    if not args.strip():
        raise UsageError("")
    picked = await preferences.pick(ctx.runtime, ctx.tx, ctx.participant, args.replace(",", " ").split())
    lines = [ctx.say("challenge.picked_team" if picked.team else "challenge.picked_solo")]
    lines += [f"{n}. `{c.external_id}` {c.title}" for n, c in enumerate(picked.chosen, start=1)]
    if picked.unknown:
        lines.append(ctx.say("challenge.unknown_skipped", ids=", ".join(picked.unknown)))
    return Reply("\n".join(lines))


@command("assignment run", "assignment run [seed]", organiser_only=True)
async def assignment_run(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) > 1 or (words and not words[0].isdigit()):
        raise UsageError("")
    actor = f"organiser:{ctx.participant.display_name}"
    run = await assignment.run(ctx.runtime, ctx.tx, actor=actor, seed=int(words[0]) if words else None)
    ranks = ", ".join(f"{name}: {n}" for name, n in sorted(run.by_rank.items()))
    lines = [ctx.say("assignment.done", teams=run.teams, changed=run.changed, ranks=ranks)]
    if run.unplaced:
        lines.append(ctx.say("assignment.unplaced", names=", ".join(run.unplaced[:20])))
    return Reply("\n".join(lines))


@command("submit")
async def submit(ctx: Context, args: str) -> Reply:
    team = await teams.team_of(ctx.tx.session, ctx.participant.id)
    if team is None:
        return Reply(ctx.say("submission.no_team"), ok=False)
    address = links.address(ctx.runtime, "submit", await links.grant(ctx.runtime, ctx.tx, "submit", team.id))
    item = await entries.view(ctx.runtime, ctx.tx.session, team.id, ctx.tx.now)
    deadline = local_time(item.deadline, ctx)
    state = ctx.say(f"submission.{item.status}")
    return Reply(
        ctx.say("submission.link", team=team.name, url=address, deadline=deadline),
        fields=[(ctx.say("status.submission"), state), (ctx.say("phase.submission_deadline"), deadline)],
        links=[(ctx.say("submission.link_label"), address)],
    )


@command("extend", "extend <team join code> <+15m>", organiser_only=True)
async def extend(ctx: Context, args: str) -> Reply:
    words = args.split()
    if len(words) != 2:
        raise UsageError("")
    team = await teams.by_code(ctx.tx.session, ctx.runtime.event_id, words[0])
    try:
        delta = parse_duration(words[1].lstrip("+"))
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    phases = await ctx.runtime.phases(ctx.tx.session)
    until = entries.regular_deadline(ctx.runtime, phases) + delta
    actor = f"organiser:{ctx.participant.display_name}"
    await entries.extend(ctx.runtime, ctx.tx, team.id, until, actor=actor)
    return Reply(ctx.say("submission.extended", team=team.name, until=local_time(until, ctx)))


@command("announce", "announce <text>", organiser_only=True)
async def announce(ctx: Context, args: str) -> Reply:
    text = args.strip()
    if not text:
        raise UsageError("")
    actor = f"organiser:{ctx.participant.display_name}"
    sent = await announcements.send(ctx.runtime, ctx.tx, text, language=ctx.language, actor=actor)
    return Reply(ctx.say("announce.sent", channels=", ".join(f"{p} {c}" for p, c in sent)))


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


from bots import office_commands  # noqa: E402  (registers `experts` before the order below)

del office_commands

# Keep help in the order of the grammar in the docs: help, status, profile, teams, … organisers'.
_ORDER = [
    "help",
    "status",
    "profile",
    "link",
    "team create",
    "team join",
    "team leave",
    "team info",
    "teams open",
    "match me",
    "challenges",
    "challenge pick",
    "experts",
    "help-request",
    "submit",
    "announce",
    "phase",
    "stats",
    "match run",
    "assignment run",
    "extend",
]
COMMANDS.update({name: COMMANDS.pop(name) for name in _ORDER})
