"""`/dashboard/experts`: the expert pool with topics, slots, bookings and no-shows, its CSV upload (the
checks of `hackserver experts import`), each expert's private link shown on demand (never logged, only
that it was shown) or revoked, and the help requests waiting for an expert, through the API's use
cases."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation import links
from hackserver.foundation.errors import CatalogueError, DomainError, NotFound
from hackserver.foundation.models import Booking, Expert, HelpTicket, Slot, Team
from hackserver.foundation.numbers import whole
from hackserver.officehours import experts
from hackserver.runtime import Runtime
from hackserver.web import console
from hackserver.web.api import MAX_ID, STATUS
from hackserver.web.api_experts import expert_link
from hackserver.web.console import ACTOR, posted, refused, render, uploaded, words


async def page(
    request: Request,
    *,
    problems: list[str] | None = None,
    rejected: bool = False,  # the problems are an upload's: nothing was imported
    done: str = "",
    shown: tuple[int, str] | None = None,  # an expert's id and private link, asked for just now
    status: int = 200,
) -> Response:
    if (refusal := await refused(request)) is not None:
        return refusal
    runtime: Runtime = request.state.runtime
    async with runtime.reading() as tx:
        pool = await tx.session.execute(
            select(
                Expert,
                func.count(Slot.id.distinct()),
                func.count(Booking.id.distinct()),
                func.count(Booking.id.distinct()).filter(Booking.no_show),
            )
            .outerjoin(Slot, and_(Slot.expert_id == Expert.id, Slot.withdrawn_at.is_(None)))
            .outerjoin(Booking, and_(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)))
            .where(Expert.event_id == runtime.event_id)
            .group_by(Expert.id)
            .order_by(Expert.name)
        )
        queue = await tx.session.execute(
            select(HelpTicket, Team.name)
            .join(Team, Team.id == HelpTicket.team_id)
            .where(
                HelpTicket.event_id == runtime.event_id,
                HelpTicket.claimed_at.is_(None),
                HelpTicket.cancelled_at.is_(None),
            )
            .order_by(HelpTicket.created_at)
        )
        now = tx.now
    waiting = [(ticket, name, int((now - ticket.created_at).total_seconds() // 60)) for ticket, name in queue]
    t = words(request)[1]
    return render(
        request,
        "experts",
        "console_experts.html",
        {
            "rows": list(pool),
            "waiting": waiting,
            "shown": shown,
            "problems": problems or [],
            "rejected": rejected,
            "done": done or t.get("done_" + request.query_params.get("done", "x"), ""),
        },
        status=status,
    )


async def upload(request: Request) -> Response:
    if isinstance(file := await uploaded(request, "experts"), Response):
        return file
    name, data = file
    lang, t = words(request)
    try:
        imported = await experts.import_experts(request.state.runtime, data, actor=ACTOR)
    except CatalogueError as problem:
        return await page(request, problems=[f"{name}: {problem.say(lang)}"], rejected=True, status=422)
    if not imported.done:
        problems = [p.say(lang) for p in imported.problems]
        return await page(request, problems=problems, rejected=True, status=422)
    done = t["experts_imported"].format(
        added=imported.added, updated=imported.updated, unchanged=imported.unchanged
    )
    return await page(request, done=done)


async def show_link(request: Request) -> Response:
    return await console.show_link(request, page, expert_link, "expert_id")


async def revoke(request: Request) -> Response:
    if isinstance(form := await posted(request), Response):
        return form
    lang, t = words(request)
    expert_id = whole(form.get("expert", ""))
    if expert_id is None or expert_id > MAX_ID or form.get("confirm") != "on":
        return await page(request, problems=[t["confirm_revoke"]], status=422)
    try:
        async with request.state.runtime.transaction() as tx:
            expert = await tx.session.get(Expert, expert_id)
            if expert is None or expert.event_id != tx.event_id:
                raise NotFound("expert.gone")
            await links.revoke(tx, "expert", expert_id, actor=ACTOR)
    except DomainError as refusal:
        return await page(request, problems=[refusal.say(lang)], status=STATUS.get(type(refusal), 409))
    return RedirectResponse("/dashboard/experts?done=revoked", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/experts", page),
        Route("/dashboard/experts/import", upload, methods=["POST"]),
        Route("/dashboard/experts/{expert_id:id}/link", show_link, methods=["POST"]),
        Route("/dashboard/experts/revoke", revoke, methods=["POST"]),
    ]
