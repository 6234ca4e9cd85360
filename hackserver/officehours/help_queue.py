"""The ask-now help queue, beside booked slots: a team posts a quick question on a topic; the experts
of that topic are told (on their page), or every expert when none lists it, and the first to claim
it takes it, which tells the team's channel who is coming and where to meet. A ticket nobody claims
within `[office_hours] help_wait` is posted again to every expert, once (the clock's fired marker).
A team has one unclaimed ticket at a time: a partial unique index decides, however many of its
members ask at once; a claim is one conditional UPDATE, so two experts clicking together cannot both
take it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from hackserver.foundation import db, outbox
from hackserver.foundation.errors import Conflict, NotFound
from hackserver.foundation.i18n import say
from hackserver.foundation.models import Expert, FiredItem, HelpTicket, Team
from hackserver.foundation.text_limits import bounded
from hackserver.officehours.experts import expert_channel
from hackserver.teams import teams

if TYPE_CHECKING:
    from hackserver.foundation.transaction import Transaction, Transactions


def _matching(expert: Expert, topic: str) -> bool:
    # As offered() says it in SQL: lower(), as a stored topic is, and either within the other.
    wanted = topic.lower()
    return any(wanted in t.lower() or t.lower() in wanted for t in expert.topics)


def offered(expert: Expert) -> ColumnElement[bool]:
    """The open tickets an expert is shown and may take: of their topics, or any sent to every
    expert. One definition for the page and the claim, so neither offers what the other refuses."""
    return and_(
        HelpTicket.event_id == expert.event_id,
        HelpTicket.claimed_at.is_(None),
        HelpTicket.cancelled_at.is_(None),
        or_(
            HelpTicket.to_everyone,
            HelpTicket.escalated_at.is_not(None),
            *(
                or_(db.inside(t.lower(), HelpTicket.topic), db.inside(HelpTicket.topic, t.lower()))
                for t in expert.topics
            ),
        ),
    )


async def ask(tx: Transaction, team: Team, topic: str, question: str) -> HelpTicket:
    topic, question = " ".join(topic.split()).lower(), " ".join(question.split())
    if not topic or not question:
        raise Conflict("help.usage")
    bounded("topic", topic)
    bounded("question", question)
    ticket = HelpTicket(
        event_id=tx.event_id, team_id=team.id, topic=topic, question=question, created_at=tx.now
    )
    try:
        async with tx.session.begin_nested():
            tx.session.add(ticket)
    except IntegrityError:  # the team's one unclaimed ticket exists: the unique index decided
        raise Conflict("help.already_open") from None
    pool = list(await tx.session.scalars(select(Expert).where(Expert.event_id == tx.event_id)))
    chosen = [e for e in pool if _matching(e, topic)]
    if not chosen:  # no expert lists the topic: all are told, so all must be able to take it
        ticket.to_everyone, chosen = True, pool
    await _tell_experts(tx, ticket, team, chosen, "posted")
    tx.record(
        "help.requested", ticket=ticket.id, team=team.id, name=team.name, topic=topic, experts=len(chosen)
    )
    return ticket


async def cancel(tx: Transaction, team: Team) -> HelpTicket:
    ticket = await tx.session.scalar(
        select(HelpTicket).where(
            HelpTicket.team_id == team.id, HelpTicket.claimed_at.is_(None), HelpTicket.cancelled_at.is_(None)
        )
    )
    if ticket is None:
        raise NotFound("help.none_open")
    ticket.cancelled_at = tx.now
    tx.record("help.cancelled", ticket=ticket.id, team=team.id)
    return ticket


async def claim(tx: Transaction, expert_id: int, ticket_id: int) -> HelpTicket:
    expert = await tx.session.get_one(Expert, expert_id)
    claimed = await tx.session.execute(
        update(HelpTicket)
        .where(HelpTicket.id == ticket_id, offered(expert))
        .values(claimed_at=tx.now, expert_id=expert_id)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        ticket = await tx.session.get(HelpTicket, ticket_id, populate_existing=True)  # only to say why
        still_open = (
            ticket and ticket.event_id == tx.event_id and not (ticket.claimed_at or ticket.cancelled_at)
        )
        raise Conflict("help.not_offered" if still_open else "help.taken")
    ticket = await tx.session.get_one(HelpTicket, ticket_id)
    await tx.session.refresh(ticket)
    team = await tx.session.get_one(Team, ticket.team_id)
    waited = max(0, round((tx.now - ticket.created_at).total_seconds() / 60))
    await teams.post(tx, team, teams.message_key(team, f"help:{ticket.id}:claimed"), "help.claimed_team",
        expert_name=expert.name, join=expert.join_url or "–", question=ticket.question, minutes=waited,
    )  # fmt: skip
    tx.record("help.claimed", ticket=ticket.id, team=team.id, name=team.name, expert=expert.id, expert_name=expert.name, waited_seconds=(tx.now - ticket.created_at).total_seconds())  # fmt: skip
    return ticket


async def waiting(tx: Transaction, expert: Expert) -> list[tuple[HelpTicket, Team]]:
    """Unclaimed tickets an expert is shown: of their topics, or any sent to every expert."""
    rows = await tx.session.execute(
        select(HelpTicket, Team)
        .join(Team, Team.id == HelpTicket.team_id)
        .where(offered(expert))
        .order_by(HelpTicket.created_at)
    )
    return [(t, team) for t, team in rows]


def for_everyone(ticket: HelpTicket) -> bool:
    return ticket.to_everyone or ticket.escalated_at is not None


async def fire_due(transactions: Transactions) -> datetime | None:
    """Escalates each ticket unclaimed after the wait, once; returns when the next one falls due."""
    wait = transactions.event.office_hours.help_wait
    async with transactions.reading() as tx:
        now = tx.now
        rows = (
            await tx.session.execute(
                select(HelpTicket.id, HelpTicket.created_at)
                .where(
                    HelpTicket.event_id == tx.event_id,
                    HelpTicket.claimed_at.is_(None),
                    HelpTicket.cancelled_at.is_(None),
                    HelpTicket.escalated_at.is_(None),
                )
                .order_by(HelpTicket.created_at)
            )
        ).all()
    for ticket_id, created_at in rows:
        if created_at + wait > now:
            return created_at + wait
        await escalate(transactions, ticket_id, created_at + wait)
    return None


async def escalate(transactions: Transactions, ticket_id: int, instant: datetime) -> bool:
    try:
        async with transactions.transaction() as tx:
            tx.session.add(
                FiredItem(event_id=tx.event_id, key=f"help:escalate:{ticket_id}", instant=instant, status="fired")
            )  # fmt: skip
            await tx.session.flush()  # a second clock stops here, on the unique marker
            ticket = await tx.session.get_one(HelpTicket, ticket_id)
            if ticket.claimed_at is not None or ticket.cancelled_at is not None:
                return False
            ticket.escalated_at = tx.now
            team = await tx.session.get_one(Team, ticket.team_id)
            pool = list(await tx.session.scalars(select(Expert).where(Expert.event_id == tx.event_id)))
            await _tell_experts(tx, ticket, team, pool, "escalated")
            tx.record("help.escalated", ticket=ticket.id, team=team.id, experts=len(pool))
    except IntegrityError:
        return False
    return True


async def _tell_experts(
    tx: Transaction, ticket: HelpTicket, team: Team, chosen: list[Expert], what: str
) -> None:
    params = {"team_name": team.name, "topic": ticket.topic, "question": ticket.question}
    texts = {language: say(language, f"help.{what}_expert", **params) for language in tx.event.languages}
    for expert in chosen:
        await outbox.add(
            tx, f"expert:{expert.id}:help:{ticket.id}:{what}:builtin", "builtin", expert_channel(expert.id),
            {"author": tx.event.name, "texts": texts},
        )  # fmt: skip
