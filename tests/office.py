"""Factories for the office-hour tests: experts, teams and slots written straight into a runtime."""

from __future__ import annotations

from datetime import datetime, timedelta

from hackserver.foundation import links
from hackserver.foundation.models import Expert, Slot, Team
from hackserver.foundation.signing import Scope
from hackserver.officehours import experts, slots
from hackserver.runtime import Runtime
from hackserver.teams import teams


async def expert(
    runtime: Runtime, name: str = "Anna Schäfer", topics: tuple[str, ...] = ("data", "law"), **more: object
) -> Expert:
    values = {"name": name, "topics": list(topics), "languages": ["de"], "bio": "", "timezone": None,
              "contact": None, "join_url": "https://meet.example.org/anna"} | more  # fmt: skip
    async with runtime.transaction() as tx:
        return await experts.add(tx, values)


async def team(runtime: Runtime, name: str) -> Team:
    async with runtime.transaction() as tx:
        made = Team(
            event_id=runtime.event_id,
            name=name,
            name_key=name.casefold(),
            join_code=teams.new_code(),
        )
        tx.session.add(made)
        await tx.session.flush()
        return made


async def publish(
    runtime: Runtime, expert_id: int, start: datetime, minutes: int = 20, **offer: object
) -> list[Slot]:
    async with runtime.transaction() as tx:
        return await slots.publish(
            tx,
            expert_id,
            slots.Offer(start, start + timedelta(minutes=minutes), **offer),  # type: ignore[arg-type]
        )


async def token(runtime: Runtime, scope: Scope, subject: int) -> str:
    async with runtime.transaction() as tx:
        return await links.grant(tx, scope, subject)


def office_hours_event(event_text: str, **settings: object) -> str:
    lines = ["[office_hours]"] + [
        f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()
    ]
    return event_text + "\n".join(lines).replace("'", '"') + "\n"
