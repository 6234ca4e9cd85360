"""The console's audit log over real HTTP on SQLite and PostgreSQL: refused without the cookie (see
test_console_teams), filtered by who, what and when, paged newest first, a bad date refused."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import insert

from hackserver.foundation.models import AuditEntry
from hackserver.runtime import Runtime
from tests.web.test_console_teams import link


def shown(page: str) -> list[str]:
    """The actions of the table's rows, in order."""
    return re.findall(r"</td><td>[^<]*</td><td>([^<]*)</td><td class=\"details\">", page)


async def test_the_audit_log_is_filtered_by_who_what_and_when_and_paged(
    runtime: Runtime, organiser: httpx.AsyncClient
) -> None:
    now = runtime.clock.now()
    async with runtime.transaction() as tx:
        rows = [
            {
                "event_id": tx.event_id,
                "actor": "organiser:api",
                "action": f"n.{n}",
                "at": now - timedelta(days=2),
            }
            for n in range(70)
        ]
        rows += [
            {"event_id": tx.event_id, "actor": "organiser:console", "action": "team.move", "at": now},
            {"event_id": tx.event_id, "actor": "clock", "action": "phase.fired", "at": now},
        ]
        await tx.session.execute(insert(AuditEntry), rows)

    async def actions(query: str) -> list[str]:
        response = await organiser.get("/dashboard/audit?" + query)
        assert response.status_code == 200
        return shown(response.text)

    assert await actions("who=CONSOLE") == ["team.move"]
    assert await actions("what=phase.") == ["phase.fired"]
    today = now.astimezone(runtime.event.timezone).date()
    assert await actions(f"since={today}") == ["phase.fired", "team.move"]
    assert len(await actions(f"until={today - timedelta(days=1)}")) == 50
    assert await actions(f"who=api&since={today}") == []

    first = (await organiser.get("/dashboard/audit")).text
    assert shown(first)[:2] == ["phase.fired", "team.move"] and len(shown(first)) == 50
    second = (await organiser.get(link(first, "next"))).text
    assert shown(second) == [f"n.{n}" for n in reversed(range(22))]
    assert link(second, "next") == ""
    assert shown((await organiser.get(link(second, "prev"))).text) == shown(first)


async def test_a_bad_date_is_named_and_shows_nothing(organiser: httpx.AsyncClient) -> None:
    response = await organiser.get("/dashboard/audit?since=20.03.2026&lang=en")
    assert response.status_code == 422
    assert "A date is written like 2026-03-20." in response.text
