"""`/hack challenges`, `challenge pick`: finding and choosing challenges; and the organisers'
`assignment run`."""

from __future__ import annotations

from bots.core import Context, Reply, UsageError, command
from hackserver.challenges import assignment, preferences
from hackserver.foundation.numbers import whole

SHOWN = 10  # challenges a search answers with


@command("challenges", read_only=True)
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
            else ctx.say("challenge.free", free=free, n=c.max_teams)
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


@command("challenge pick")
async def challenge_pick(ctx: Context, args: str) -> Reply:
    if not args.strip():
        raise UsageError("")
    picked = await preferences.pick(ctx.tx, ctx.participant, args.replace(",", " ").split())
    lines = [ctx.say("challenge.picked_team" if picked.team else "challenge.picked_solo")]
    lines += [f"{n}. `{c.external_id}` {c.title}" for n, c in enumerate(picked.chosen, start=1)]
    if picked.unknown:
        lines.append(ctx.say("challenge.unknown_skipped", ids=", ".join(picked.unknown)))
    return Reply("\n".join(lines))


@command("assignment run", organiser_only=True)
async def assignment_run(ctx: Context, args: str) -> Reply:
    words = args.split()
    seed = whole(words[0]) if words else None
    if len(words) > 1 or (words and seed is None):
        raise UsageError("")
    actor = f"organiser:{ctx.participant.display_name}"
    run = await assignment.run(ctx.tx, actor=actor, seed=seed)
    return Reply(run.summary(ctx.language))
