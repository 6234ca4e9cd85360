"""The `/hack` sub-commands: grammar → domain → reply, each a decorated function. A person's own
(help, status, profile, link) are here; teams', challenges', office hours' and organisers' are in
their `*_commands` modules, which this one imports, and here they are put in the order help lists."""

from __future__ import annotations

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
from hackserver.sprint.phases import current_phase, next_phase
from hackserver.teams import participants

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
        f"• `{c.usage(ctx.language)}` — {ctx.say('cmd.' + c.name)}"
        for c in COMMANDS.values()
        if not c.organiser_only
    ]
    if ctx.organiser:
        lines.append(ctx.say("help.organiser"))
        lines += [
            f"• `{c.usage(ctx.language)}` — {ctx.say('cmd.' + c.name)}"
            for c in COMMANDS.values()
            if c.organiser_only
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


@command("profile")
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
        renamed: list[tuple[str, str]] = []
        try:
            if "skills" in values:
                renamed = participants.set_skills(person, " ".join(values["skills"]))
            if "langs" in values:
                participants.set_languages(person, " ".join(values["langs"]), ctx.runtime.event.languages)
            if "tz" in values:
                participants.set_timezone(person, " ".join(values["tz"]))
            if "wants" in values:
                participants.set_interests(person, " ".join(values["wants"]))
        except participants.ProfileError as problem:
            raise UsageError(problem.say(ctx.language)) from None
        ctx.tx.record("participant.profile", participant=person.id)
    unset = ctx.say("profile.unset")
    if not args.strip():
        text = ctx.say("profile.usage_hint")
    elif renamed:  # stored under another name than typed: say so, not silently
        names = ", ".join(f"{word} → {name}" for word, name in renamed)
        text = ctx.say("profile.saved") + "\n" + ctx.say("profile.skills_renamed", renamed=names)
    else:
        text = ctx.say("profile.saved")
    return Reply(
        text,
        title=ctx.say("profile.title"),
        fields=[
            (ctx.say("profile.skills"), ", ".join(person.skills) or unset),
            (ctx.say("profile.languages"), ", ".join(person.languages) or unset),
            (ctx.say("profile.timezone"), person.timezone or unset),
            (ctx.say("profile.interests"), ", ".join(person.interests) or unset),
        ],
    )


@command("link")
async def profile_link(ctx: Context, args: str) -> Reply:
    """Without a code: a code to type on another chat account. With one: this account joins that one."""
    secret = ctx.runtime.links.secret
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


# The other command modules register theirs as they are imported, before the order below.
from bots import challenge_commands, office_commands, organiser_commands, team_commands  # noqa: E402

del challenge_commands, office_commands, organiser_commands, team_commands

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
