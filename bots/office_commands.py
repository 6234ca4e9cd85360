"""`/hack experts [topic]`: who has free slots (on that topic), and the team's booking link;
`/hack help-request <topic> <question>`: a quick question to the experts of a topic."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import quote

from bots.core import Context, Reply, UsageError, command, local_time
from hackserver.foundation import links
from hackserver.officehours import help_queue, slots
from hackserver.teams import teams

SHOWN = 10  # experts a reply lists


@command("experts")
async def experts(ctx: Context, args: str) -> Reply:
    team = await teams.team_of(ctx.tx.session, ctx.participant.id)
    if team is None:
        return Reply(ctx.say("experts.no_team"), ok=False)
    topic = " ".join(args.split())[:40]
    free = [
        found
        for found in await slots.free_slots(ctx.tx, ctx.tx.now)
        if slots.matches(found.expert, found.slot, topic)
    ]
    about = ctx.say("experts.about", topic=topic) if topic else ""
    if not free:
        return Reply(ctx.say("experts.none", topic=about))
    by_expert: dict[int, list[slots.FreeSlot]] = defaultdict(list)
    for found in free:
        by_expert[found.expert.id].append(found)
    lines = []
    for offered in list(by_expert.values())[:SHOWN]:
        expert = offered[0].expert
        lines.append(
            ctx.say(
                "experts.line", name=expert.name, topics=", ".join(expert.topics),
                languages=", ".join(expert.languages).upper() or "–", free=len(offered),
                first=local_time(min(f.slot.starts_at for f in offered), ctx),
            )
        )  # fmt: skip
    path = ctx.tx.links.address("book", await links.grant(ctx.tx, "book", team.id))
    if ctx.participant.timezone:  # the page shows times in the asker's zone
        path += f"?tz={quote(ctx.participant.timezone)}"
    lines += ["", ctx.say("experts.book_hint"), path]
    return Reply(
        "\n".join(lines), title=ctx.say("experts.title") + about, links=[(ctx.say("experts.book_link"), path)]
    )


@command("help-request")
async def help_request(ctx: Context, args: str) -> Reply:
    team = await teams.team_of(ctx.tx.session, ctx.participant.id)
    if team is None:
        return Reply(ctx.say("help.no_team"), ok=False)
    words = args.split(maxsplit=1)
    if words == ["cancel"] or words == ["abbrechen"]:
        await help_queue.cancel(ctx.tx, team)
        return Reply(ctx.say("help.cancelled"))
    if len(words) != 2:
        raise UsageError(ctx.say("help.usage"))
    ticket = await help_queue.ask(ctx.tx, team, words[0], words[1])
    told = sum(1 for message in ctx.tx.outbox if message.channel.startswith("expert-"))
    if not ticket.to_everyone:
        return Reply(ctx.say("help.asked", n=told, topic=ticket.topic))
    return Reply(ctx.say("help.asked_everyone" if told else "help.asked_nobody", n=told, topic=ticket.topic))
