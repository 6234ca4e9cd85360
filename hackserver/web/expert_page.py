"""`/expert/{token}`: an expert publishes one slot or a repeating block, withdraws free slots, sees
who booked what (team, challenge, question), marks a no-show, and subscribes to an ICS feed.
A form with a wrong field answers the page again with the message beside that field, changing nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hackserver.foundation import channels, i18n
from hackserver.foundation.errors import DomainError, Unreadable
from hackserver.foundation.event import to_utc
from hackserver.foundation.models import Booking, Challenge, Expert, Slot, Team
from hackserver.foundation.numbers import whole
from hackserver.foundation.transaction import Transaction
from hackserver.officehours import bookings, help_queue, ics, slots
from hackserver.officehours.experts import expert_channel
from hackserver.runtime import Runtime
from hackserver.web.dead_links import refused_page
from hackserver.web.office import Page, form_of, open_page, organizer, templates, two_zones

T = TypeVar("T")
SHOWN_AFTER = timedelta(hours=12)  # past slots stay in view this long, to mark no-shows


class BadInput(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


async def page(request: Request) -> Response:
    opened = await open_page(request, "expert")
    if not isinstance(opened, Page):
        return opened
    return await render(request, opened, done=request.query_params.get("done", ""))


async def render(
    request: Request, page: Page, *, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, done: str = "", status: int = 200,
) -> Response:  # fmt: skip
    runtime = page.runtime
    async with runtime.reading() as tx:
        expert = await tx.session.get(Expert, page.link.subject_id)
        if expert is None:
            return refused_page(request, "expert", "expert.gone")
        zone = slots.expert_zone(runtime.event, expert)
        rows = await tx.session.execute(
            select(Slot, Booking, Team, Challenge)
            .outerjoin(Booking, and_(Booking.slot_id == Slot.id, Booking.cancelled_at.is_(None)))
            .outerjoin(Team, Team.id == Booking.team_id)
            .outerjoin(Challenge, Challenge.id == Team.challenge_id)
            .where(Slot.expert_id == expert.id, Slot.ends_at > tx.now - SHOWN_AFTER)
            .order_by(Slot.starts_at)
        )
        shown = [
            {
                "id": slot.id, "when": two_zones(slot.starts_at, zone, runtime.event.timezone, page.lang),
                "until": i18n.time_of_day(slot.ends_at, page.lang, zone), "topic": slot.topic,
                "withdrawn": slot.withdrawn_at is not None, "begun": slot.starts_at <= tx.now,
                "booking": booking and {
                    "id": booking.id, "team": team.name if team else "?", "question": booking.question,
                    "challenge": challenge.title if challenge else None, "no_show": booking.no_show,
                },
            }
            for slot, booking, team, challenge in rows
        ]  # fmt: skip
        asked = [
            {"id": ticket.id, "team": team.name, "topic": ticket.topic, "question": ticket.question,
             "escalated": help_queue.for_everyone(ticket),
             "waiting": max(0, round((tx.now - ticket.created_at).total_seconds() / 60))}
            for ticket, team in await help_queue.waiting(tx, expert)
        ]  # fmt: skip
        notices = await channels.history(tx.session, runtime.event_id, expert_channel(expert.id), limit=20)
        now_local = tx.now.astimezone(zone)
    token = request.path_params["token"]
    context: dict[str, Any] = {
        "lang": page.lang, "t": page.t, "event": runtime.event, "expert": expert, "zone": zone.key,
        "slots": shown, "asked": asked, "errors": errors or {}, "values": values or {}, "done": done,
        "base": f"/expert/{token}", "feed": f"/expert/{token}/bookings.ics",
        "notices": [n.translations.get(page.lang) or n.text for n in reversed(notices)],
        "default_start": (now_local + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        .strftime("%Y-%m-%dT%H:%M"),
    }  # fmt: skip
    return templates.TemplateResponse(request, "expert.html", context, status_code=status)


def local_instant(form: dict[str, str], name: str, zone: ZoneInfo, page: Page) -> datetime:
    raw = form.get(name, "").strip()
    try:
        local = datetime.fromisoformat(raw).replace(tzinfo=None, second=0, microsecond=0)
    except ValueError:
        raise BadInput(name, page.t["bad_time"]) from None
    try:
        return to_utc(local, zone)
    except Unreadable as problem:  # a wall-clock time a daylight-saving switch skips or repeats
        raise BadInput(name, problem.say(page.lang)) from None


def minutes(form: dict[str, str], name: str, page: Page) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if (value := whole(raw)) is None or value > 99_999:
        raise BadInput(name, page.t["bad_minutes"])
    return value


FIELDS = ("start", "end", "length", "buffer", "daily_limit", "topic")  # in the form's order


def read(unread: dict[str, str], parse: Callable[[], T]) -> T | None:
    """What `parse` reads from the form, or None, noting its problem so that the others are read too."""
    try:
        return parse()
    except BadInput as problem:
        unread[problem.field] = problem.message
        return None


async def publish(request: Request) -> Response:
    opened = await open_page(request, "expert")
    if not isinstance(opened, Page):
        return opened
    form = await form_of(request)
    if isinstance(form, Response):
        return form
    runtime = opened.runtime
    async with runtime.reading() as tx:
        expert = await tx.session.get_one(Expert, opened.link.subject_id)
    zone = slots.expert_zone(runtime.event, expert)
    unread: dict[str, str] = {}
    start = read(unread, lambda: local_instant(form, "start", zone, opened))
    end = read(unread, lambda: local_instant(form, "end", zone, opened))
    length = read(unread, lambda: minutes(form, "length", opened))
    buffer = read(unread, lambda: minutes(form, "buffer", opened))
    stand_in = start or end or runtime.clock.now()  # for an unread time, which is not judged
    offer = slots.Offer(
        start or stand_in, end or stand_in, timedelta(minutes=length) if length is not None else None,
        timedelta(minutes=buffer or 0), form.get("topic") or None,
        read(unread, lambda: minutes(form, "daily_limit", opened)),
    )  # fmt: skip
    try:
        async with runtime.transaction() as tx:
            if unread:  # refused already; what else is wrong is said at the same time
                found = await slots.check(tx, expert, offer, frozenset(unread))
            else:
                await slots.publish(tx, expert.id, offer)
                found = {}
    except slots.InvalidOffer as invalid:
        found = invalid.problems
    problems = {**{f: p.say(opened.lang) for f, p in found.items()}, **unread}
    if problems:
        errors = {f: problems[f] for f in FIELDS if f in problems}
        return await render(request, opened, errors=errors, values=form, status=422)
    return RedirectResponse(f"/expert/{request.path_params['token']}?done=published", status_code=303)


async def withdraw(request: Request) -> Response:
    return await _change(
        request,
        "withdrawn",
        slots.withdraw,
        "slot_id",
    )


async def no_show(request: Request) -> Response:
    return await _change(
        request,
        "no_show",
        bookings.mark_no_show,
        "booking_id",
    )


async def claim(request: Request) -> Response:
    return await _change(
        request,
        "claimed",
        help_queue.claim,
        "ticket_id",
    )


async def _change(
    request: Request, done: str, change: Callable[[Transaction, int, int], Awaitable[object]], param: str
) -> Response:
    opened = await open_page(request, "expert")
    if not isinstance(opened, Page):
        return opened
    form = await form_of(request)
    if isinstance(form, Response):
        return form
    runtime: Runtime = opened.runtime
    try:
        async with runtime.transaction() as tx:
            await change(tx, opened.link.subject_id, request.path_params[param])
    except DomainError as refused:
        field, said = f"{param}:{request.path_params[param]}", refused.say(opened.lang)
        # Said at the top too: the slot or question it was about may have left the page meanwhile.
        return await render(request, opened, errors={field: said, "_": said}, status=409)
    return RedirectResponse(f"/expert/{request.path_params['token']}?done={done}", status_code=303)


async def feed(request: Request) -> Response:
    opened = await open_page(request, "expert")
    if not isinstance(opened, Page):
        return opened
    runtime = opened.runtime
    async with runtime.reading() as tx:
        expert = await tx.session.get_one(Expert, opened.link.subject_id)
        rows = await tx.session.execute(
            select(Booking, Slot, Team)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Team, Team.id == Booking.team_id)
            .where(Slot.expert_id == expert.id)
            .order_by(Booking.id)
        )
        found = rows.all()
        keys = {ics.series(booking) for booking, _, _ in found}
        # Every booking of these series, also those with another expert, counts to their versions.
        members = (
            await tx.session.execute(
                select(Booking.id, Booking.series_id).where(
                    or_(Booking.id.in_(keys), Booking.series_id.in_(keys))
                )
            )
        ).all()
    of_series: dict[int, list[int]] = {}
    for booking_id, series_id in members:
        of_series.setdefault(series_id or booking_id, []).append(booking_id)
    latest = {ics.series(booking): (booking, slot, team) for booking, slot, team in found}  # by id
    entries = [
        ics.Entry(
            f"booking-{key}@{runtime.event.slug}", slot.starts_at, slot.ends_at,
            f"{runtime.event.name}: {team.name}", booking.question, expert.join_url,
            booking.cancelled_at or booking.created_at, organizer(runtime, expert),
            ics.version(booking, of_series[key]), cancelled=booking.cancelled_at is not None,
        )
        for key, (booking, slot, team) in sorted(latest.items(), key=lambda item: item[1][1].starts_at)
    ]  # fmt: skip
    body = ics.calendar(f"{runtime.event.name} · {expert.name}", entries)
    return Response(body, media_type="text/calendar; charset=utf-8")


def routes() -> list[Route]:
    return [
        Route("/expert/{token}", page),
        Route("/expert/{token}/slots", publish, methods=["POST"]),
        Route("/expert/{token}/slots/{slot_id:id}/withdraw", withdraw, methods=["POST"]),
        Route("/expert/{token}/bookings/{booking_id:id}/no-show", no_show, methods=["POST"]),
        Route("/expert/{token}/bookings.ics", feed),
        Route("/expert/{token}/help/{ticket_id:id}/claim", claim, methods=["POST"]),
    ]
