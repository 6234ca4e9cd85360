"""`/dashboard/experts`: the expert pool with topics, slots, bookings and no-shows, its CSV upload (the
checks of `hackserver experts import`), each expert's private link shown on demand (never logged, only
that it was shown) or revoked, and the help requests waiting for an expert, through the API's use
cases."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hackserver.foundation.import_problems import Problem
from hackserver.foundation.models import Booking, Expert, HelpTicket, Slot, Team
from hackserver.officehours import experts
from hackserver.runtime import Runtime
from hackserver.web.api_experts import expert_link
from hackserver.web.console import ACTOR, NOTHING_SAID, Said, refused, render
from hackserver.web.console_links import LinkHolders
from hackserver.web.console_uploads import Upload


async def page(
    request: Request,
    said: Said = NOTHING_SAID,
    status: int = 200,
    shown: tuple[int, str] | None = None,  # an expert's id and private link, asked for just now
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
    return render(
        request,
        "experts",
        "console_experts.html",
        {
            "rows": list(pool),
            "waiting": waiting,
            "shown": shown,
        },
        said,
        status,
    )


async def import_file(runtime: Runtime, name: str, data: bytes) -> dict[str, int] | list[Problem]:
    imported = await experts.import_experts(runtime, data, actor=ACTOR)
    if not imported.done:
        return imported.problems
    return {"added": imported.added, "updated": imported.updated, "unchanged": imported.unchanged}


UPLOAD = Upload(page, "experts", import_file, "experts_imported")
LINKS = LinkHolders(page, Expert, "expert", "expert", expert_link, "confirm_revoke", "expert.gone")


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard/experts", page),
        UPLOAD.route("/dashboard/experts"),
        *LINKS.routes("/dashboard/experts"),
    ]
