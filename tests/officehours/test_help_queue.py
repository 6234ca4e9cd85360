"""The ask-now help queue: one open question per team under concurrency, one expert takes it,
and a question nobody takes is sent to every expert once after the wait."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select

from hackserver.clock import SprintClock
from hackserver.foundation.errors import DomainError
from hackserver.foundation.models import HelpTicket, OutboxMessage, Team
from hackserver.officehours import help_queue
from hackserver.runtime import Runtime
from tests.bots.test_bot_commands import ask
from tests.fakes import FakeClock
from tests.office import expert


async def our_team(runtime: Runtime) -> Team:
    await ask(runtime, "team create Luftretter", locale="en")
    async with runtime.reading() as tx:
        return (await tx.session.scalars(select(Team))).one()


async def told(runtime: Runtime, pattern: str) -> list[str]:
    async with runtime.reading() as tx:
        return sorted(
            await tx.session.scalars(select(OutboxMessage.channel).where(OutboxMessage.key.like(pattern)))
        )


async def test_a_help_request_goes_to_the_experts_of_its_topic(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    jonas = await expert(runtime, "Jonas Weber", ("law", "gdpr"))
    await expert(runtime, "Priya Raman", ("ux",))
    assert not (await ask(runtime, "help-request law Dürfen wir Fotos zeigen?", locale="en")).ok  # no team
    await our_team(runtime)
    reply = await ask(runtime, "help-request law Dürfen wir Fotos zeigen?", locale="en")
    assert reply.ok and "went to 1 expert on" in reply.text
    assert await told(runtime, "expert:%:help:%") == [f"expert-{jonas.id}"]
    again = await ask(runtime, "help-request ux Noch eine Frage", locale="en")
    assert not again.ok and "already has an open question" in again.text
    assert (await ask(runtime, "help-request cancel", locale="en")).ok
    assert (await ask(runtime, "help-request ux Noch eine Frage", locale="en")).ok


async def test_a_request_no_expert_lists_goes_to_every_expert_and_each_can_take_it(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    jonas = await expert(runtime, "Jonas Weber", ("law",))
    priya = await expert(runtime, "Priya Raman", ("ux",))
    await our_team(runtime)
    reply = await ask(runtime, "help-request blockchain Brauchen wir eine Kette?", locale="en")
    assert reply.ok and "No expert lists “blockchain”" in reply.text and "all 2 experts" in reply.text
    assert await told(runtime, "expert:%:help:%") == sorted([f"expert-{jonas.id}", f"expert-{priya.id}"])
    async with runtime.reading() as tx:
        shown = [[t.topic for t, _ in await help_queue.waiting(tx, e)] for e in (jonas, priya)]
    assert shown == [["blockchain"], ["blockchain"]]
    async with runtime.transaction() as tx:
        ticket = (await help_queue.waiting(tx, priya))[0][0]
        await help_queue.claim(tx, priya.id, ticket.id)


async def test_an_expert_can_take_only_a_request_offered_to_them(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    jonas = await expert(runtime, "Jonas Weber", ("Law",))
    priya = await expert(runtime, "Priya Raman", ("ux",))
    team = await our_team(runtime)
    async with runtime.transaction() as tx:
        ticket = await help_queue.ask(tx, team, "law", "Dürfen wir Fotos zeigen?")
    async with runtime.reading() as tx:  # the page shows it to Jonas only
        assert [[t.id for t, _ in await help_queue.waiting(tx, e)] for e in (jonas, priya)] == [
            [ticket.id],
            [],
        ]
    try:
        async with runtime.transaction() as tx:
            await help_queue.claim(tx, priya.id, ticket.id)  # its id, guessed
        refused = ""
    except DomainError as error:
        refused = error.say("en")
    assert refused == "this question was not sent to you: it is for the experts of its topic"
    async with runtime.reading() as tx:
        assert (await tx.session.get_one(HelpTicket, ticket.id)).claimed_at is None
    assert await told(runtime, "%help:%:claimed%") == []
    async with runtime.transaction() as tx:
        assert (await help_queue.claim(tx, jonas.id, ticket.id)).expert_id == jonas.id


async def test_a_request_before_any_expert_joined_says_so_and_waits_for_the_first(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    runtime, _ = runtime_at
    await our_team(runtime)
    reply = await ask(runtime, "help-request law Dürfen wir Fotos zeigen?", locale="en")
    assert reply.ok and "No expert has joined yet" in reply.text
    first = await expert(runtime, "Priya Raman", ("ux",))
    async with runtime.reading() as tx:
        assert [t.topic for t, _ in await help_queue.waiting(tx, first)] == ["law"]


async def test_members_asking_at_once_open_one_ticket(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    await expert(runtime, "Jonas Weber", ("law",))
    team = await our_team(runtime)

    async def one(n: int) -> str:
        try:
            async with runtime.transaction() as tx:
                await help_queue.ask(tx, team, "law", f"Frage {n}")
        except DomainError as refused:
            return refused.key
        return "asked"

    outcomes = await asyncio.gather(*(one(n) for n in range(15)))
    assert outcomes.count("asked") == 1 and set(outcomes) == {"asked", "help.already_open"}


async def test_two_experts_claiming_at_once_one_takes_it(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    experts = [await expert(runtime, f"Expert {n}", ("law",)) for n in range(6)]
    team = await our_team(runtime)
    async with runtime.transaction() as tx:
        ticket = await help_queue.ask(tx, team, "law", "Dürfen wir Fotos zeigen?")

    async def take(expert_id: int) -> str:
        try:
            async with runtime.transaction() as tx:
                await help_queue.claim(tx, expert_id, ticket.id)
        except DomainError as refused:
            return refused.key
        return "claimed"

    outcomes = await asyncio.gather(*(take(e.id) for e in experts))
    assert outcomes.count("claimed") == 1 and set(outcomes) == {"claimed", "help.taken"}
    async with runtime.reading() as tx:
        done = await tx.session.get_one(HelpTicket, ticket.id)
        message = await tx.session.scalar(
            select(OutboxMessage).where(OutboxMessage.key.like("%help:%:claimed%"))
        )
    assert done.expert_id == experts[outcomes.index("claimed")].id
    assert message is not None and "takes your question" in message.payload["texts"]["en"]


async def test_an_unclaimed_request_goes_to_every_expert_once_after_the_wait(
    runtime_at: tuple[Runtime, FakeClock], kickoff: datetime
) -> None:
    runtime, clock = runtime_at
    await expert(runtime, "Jonas Weber", ("law",))
    await expert(runtime, "Priya Raman", ("ux",))
    team = await our_team(runtime)
    async with runtime.transaction() as tx:
        await help_queue.ask(tx, team, "law", "Dürfen wir Fotos zeigen?")
    one, two = SprintClock(runtime), SprintClock(runtime)
    clock.advance(timedelta(minutes=9))
    await one.fire_due()
    assert await told(runtime, "%:escalated:%") == []
    clock.advance(timedelta(minutes=2))
    await asyncio.gather(one.fire_due(), two.fire_due())
    await one.fire_due()
    assert len(await told(runtime, "%:escalated:%")) == 2  # each expert once
    async with runtime.reading() as tx:
        assert (
            await tx.session.scalar(
                select(func.count()).select_from(HelpTicket).where(HelpTicket.escalated_at.is_not(None))
            )
            == 1
        )
