"""`/dashboard/audit`: the audit log, newest first, filtered by who, what and when, paged."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation.models import AuditEntry
from hackserver.foundation.numbers import whole
from hackserver.runtime import Runtime
from hackserver.web.api import MAX_ID
from hackserver.web.console import PAGE_SIZE, refused, render, words

MAX_FILTER = 120


def day_start(written: str, zone: ZoneInfo) -> datetime | None:
    """The first instant of a day written YYYY-MM-DD, in the event's zone; None when not a date."""
    try:
        return datetime.combine(date.fromisoformat(written), time(), tzinfo=zone)
    except ValueError:
        return None


async def page(request: Request) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    given = request.query_params
    who, what = given.get("who", "").strip()[:MAX_FILTER], given.get("what", "").strip()[:MAX_FILTER]
    since, until = given.get("since", "").strip(), given.get("until", "").strip()
    zone = runtime.event.timezone
    query = select(AuditEntry).where(AuditEntry.event_id == runtime.event_id)
    if who:
        query = query.where(func.lower(AuditEntry.actor).contains(who.lower(), autoescape=True))
    if what:
        query = query.where(AuditEntry.action.startswith(what.lower(), autoescape=True))
    problem = ""
    for written, later in ((since, False), (until, True)):
        if not written:
            continue
        if (start := day_start(written, zone)) is None:
            problem = words(request)[1]["bad_date"]
            continue
        query = query.where(AuditEntry.at < start + timedelta(days=1) if later else AuditEntry.at >= start)
    before = whole(given.get("before", ""))
    after = whole(given.get("after", ""))
    if problem:
        rows: list[AuditEntry] = []
        more = False
    else:
        # Newest first, paged by id: a page far back costs what the first does.
        if after is not None:
            paged = query.where(AuditEntry.id > min(after, MAX_ID)).order_by(AuditEntry.id)
        else:
            paged = query.where(AuditEntry.id < min(before or MAX_ID, MAX_ID)).order_by(AuditEntry.id.desc())
        async with runtime.reading() as tx:
            rows = list(await tx.session.scalars(paged.limit(PAGE_SIZE + 1)))
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if after is not None:
            rows.reverse()
    filters = {k: v for k, v in (("who", who), ("what", what), ("since", since), ("until", until)) if v}
    return render(
        request,
        "audit",
        "console_audit.html",
        {
            "rows": [
                (entry, json.dumps(entry.details, ensure_ascii=False, sort_keys=True)) for entry in rows
            ],
            "who": who,
            "what": what,
            "since": since,
            "until": until,
            "zone": zone,
            "problem": problem,
            "filters": filters,
            "older": rows[-1].id if rows and (more or after is not None) else None,
            "newer": rows[0].id if rows and (before is not None or (after is not None and more)) else None,
        },
        status=422 if problem else 200,
    )


def routes() -> list[BaseRoute]:
    return [Route("/dashboard/audit", page)]
