"""`/book/{token}`: a team's free expert slots, grouped by expert and topic, in the viewer's time
zone with the event's beside it; book with a one-line question, cancel and reschedule until the
cut-off, and an ICS file of each booking. The token opens this team's bookings and no other's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hackserver.foundation.errors import DomainError, FieldError
from hackserver.foundation.i18n import say
from hackserver.foundation.models import Booking, Expert, Participant, Slot, Team
from hackserver.foundation.numbers import whole
from hackserver.officehours import bookings, ics, slots
from hackserver.teams.teams import team_of
from hackserver.web.dead_links import refused_page
from hackserver.web.office import Page, form_of, open_page, organizer, templates, two_zones, zone_or_none
from hackserver.web.visitors import viewer_of


async def viewer_zone(request: Request, page: Page, team_id: int, asked: str) -> tuple[ZoneInfo, str | None]:
    """The zone asked for on the page, else the signed-in member's profile zone, else the event's;
    and the problem with what was asked, if any."""
    if asked:
        zone = zone_or_none(asked)
        if zone is not None:
            return zone, None
    runtime = page.runtime
    viewer = await viewer_of(request, runtime)
    if viewer is not None:
        async with runtime.reading() as tx:
            person = await tx.session.get(Participant, viewer.participant_id)
            mine = await team_of(tx.session, viewer.participant_id)
        if person is not None and person.timezone and mine is not None and mine.id == team_id:
            found = zone_or_none(person.timezone)
            if found is not None:
                return found, page.t["bad_zone"] if asked else None
    return runtime.event.timezone, page.t["bad_zone"] if asked else None


async def page(request: Request) -> Response:
    opened = await open_page(request, "book")
    if not isinstance(opened, Page):
        return opened
    return await render(request, opened, done=request.query_params.get("done", ""))


async def render(
    request: Request, page: Page, *, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, done: str = "", status: int = 200,
) -> Response:  # fmt: skip
    runtime = page.runtime
    errors = dict(errors or {})
    values = values or {}
    asked = (values.get("tz") or request.query_params.get("tz", "")).strip()[:64]
    zone, zone_problem = await viewer_zone(request, page, page.link.subject_id, asked)
    if zone_problem:
        errors.setdefault("tz", zone_problem)
    event_zone = runtime.event.timezone
    token = request.path_params["token"]
    async with runtime.reading() as tx:
        team = await tx.session.get(Team, page.link.subject_id)
        if team is None:
            return refused_page(request, "book", "booking.team_gone")
        cutoff = runtime.event.office_hours.cutoff
        rows = await tx.session.execute(
            select(Booking, Slot, Expert)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Expert, Expert.id == Slot.expert_id)
            .where(Booking.team_id == team.id, Booking.cancelled_at.is_(None), Slot.ends_at > tx.now)
            .order_by(Slot.starts_at)
        )
        mine = [
            {
                "id": booking.id, "expert": expert.name, "question": booking.question,
                "when": two_zones(slot.starts_at, zone, event_zone, page.lang), "join": expert.join_url,
                "changeable": slot.starts_at - cutoff > tx.now,
                "ics": f"/book/{token}/bookings/{booking.id}.ics",
            }
            for booking, slot, expert in rows
        ]  # fmt: skip
        free = await slots.free_slots(tx, tx.now)
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for item in free:
        topic = item.slot.topic or ", ".join(item.expert.topics)
        group = groups.setdefault(
            (item.expert.id, topic),
            {"expert": item.expert, "topic": topic, "slots": []},
        )
        group["slots"].append({"id": item.slot.id, "when": two_zones(item.slot.starts_at, zone, event_zone, page.lang),
                               "minutes": int((item.slot.ends_at - item.slot.starts_at).total_seconds() // 60)})  # fmt: skip
    rules = runtime.event.office_hours
    context: dict[str, Any] = {
        "lang": page.lang, "t": page.t, "event": runtime.event, "team": team, "zone": zone.key,
        "asked_zone": asked, "bookings": mine, "groups": list(groups.values()), "errors": errors,
        "values": values, "done": done, "base": f"/book/{token}",
        "rules": say(page.lang, "page.office.limit_hint", n=rules.max_future_bookings, minutes=int(rules.cutoff.total_seconds() // 60)),
        "hint": page.t["book_hint"].format(team=team.name),
    }  # fmt: skip
    return templates.TemplateResponse(request, "book.html", context, status_code=status)


def _slot_id(form: dict[str, str]) -> int | None:
    return whole(form.get("slot", "").strip())


def _back(request: Request, form: dict[str, str], done: str) -> Response:
    query = {"done": done, "lang": request.query_params.get("lang", "")}
    if form.get("tz"):
        query["tz"] = form["tz"][:64]
    clean = {k: v for k, v in query.items() if v}
    return RedirectResponse(f"/book/{request.path_params['token']}?{urlencode(clean)}", status_code=303)


async def book(request: Request) -> Response:
    return await _act(request, "booked", "slot")


async def cancel(request: Request) -> Response:
    return await _act(request, "cancelled", None)


async def reschedule(request: Request) -> Response:
    return await _act(request, "rescheduled", "slot")


async def _act(request: Request, done: str, needs: str | None) -> Response:
    opened = await open_page(request, "book")
    if not isinstance(opened, Page):
        return opened
    form = await form_of(request)
    if isinstance(form, Response):
        return form
    runtime = opened.runtime
    team_id = opened.link.subject_id  # the link's own team: a form cannot name another
    booking_id = request.path_params.get("booking_id")
    where = f"booking:{booking_id}" if booking_id is not None else "slot"
    slot_id = _slot_id(form)
    if needs and slot_id is None:
        return await render(request, opened, errors={where: opened.t["pick_slot"]}, values=form, status=422)
    try:
        async with runtime.transaction() as tx:
            if done == "booked":
                await bookings.book(tx, team_id, slot_id, form.get("question", ""))  # type: ignore[arg-type]
            elif done == "cancelled":
                await bookings.cancel(tx, team_id, request.path_params["booking_id"])
            else:
                await bookings.reschedule(tx, team_id, booking_id, slot_id)  # type: ignore[arg-type]
    except DomainError as refused:
        field = refused.field if isinstance(refused, FieldError) and refused.field == "question" else where
        return await render(
            request, opened, errors={field: refused.say(opened.lang)}, values=form, status=409
        )
    return _back(request, form, done)


async def one_ics(request: Request) -> Response:
    opened = await open_page(request, "book")
    if not isinstance(opened, Page):
        return opened
    runtime = opened.runtime
    async with runtime.reading() as tx:
        asked = await tx.session.get(Booking, request.path_params["booking_id"])
        if asked is None or asked.team_id != opened.link.subject_id:
            return Response(opened.say("booking.gone"), status_code=404, media_type="text/plain")
        # The series as it stands now: an older booking's link gives the entry where it moved to.
        key = ics.series(asked)
        rows = (
            await tx.session.execute(
                select(Booking, Slot, Expert, Team)
                .join(Slot, Slot.id == Booking.slot_id)
                .join(Expert, Expert.id == Slot.expert_id)
                .join(Team, Team.id == Booking.team_id)
                .where(or_(Booking.id == key, Booking.series_id == key))
                .order_by(Booking.id)
            )
        ).all()
    booking, slot, expert, team = rows[-1]
    entry = ics.Entry(
        f"booking-{key}@{runtime.event.slug}", slot.starts_at, slot.ends_at,
        f"{runtime.event.name}: {expert.name}", booking.question, expert.join_url,
        booking.cancelled_at or booking.created_at, organizer(runtime, expert),
        ics.version(booking, (b.id for b, *_ in rows)), cancelled=booking.cancelled_at is not None,
    )  # fmt: skip
    method = "CANCEL" if entry.cancelled else "PUBLISH"
    body = ics.calendar(f"{runtime.event.name} · {team.name}", [entry], method=method)
    headers = {"content-disposition": f'attachment; filename="booking-{booking.id}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


def routes() -> list[Route]:
    return [
        Route("/book/{token}", page),
        Route("/book/{token}/bookings", book, methods=["POST"]),
        Route("/book/{token}/bookings/{booking_id:id}/cancel", cancel, methods=["POST"]),
        Route("/book/{token}/bookings/{booking_id:id}/reschedule", reschedule, methods=["POST"]),
        Route("/book/{token}/bookings/{booking_id:id}.ics", one_ics),
    ]
