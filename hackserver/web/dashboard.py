"""The organisers' dashboard: a sign-in with the organiser token, the page, its actions and its
websocket. The token is typed once; after that a signed, HttpOnly, SameSite=Strict cookie carries a
fingerprint of it and a session id (changing HACKSERVER_ORGANISER_TOKEN ends every dashboard session,
signing out ends that one in the database), and no token ever travels in an address. Forms and the
websocket also refuse other origins.

The page and its sign-in speak the language the organiser picked (hackserver/web/languages.py); the
live frames carry their texts in every language of the event, and the page's script shows its own
from them, with its own words taken from the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.templating import Jinja2Templates
from starlette.websockets import WebSocket, WebSocketDisconnect

from bots import builtin
from bots.http import client_address
from hackserver.challenges import assignment
from hackserver.dashboard import history as charts
from hackserver.dashboard.numbers import time_locale
from hackserver.foundation import i18n, outbox
from hackserver.foundation.errors import DomainError, Unreadable
from hackserver.foundation.event import PHASES, parse_duration
from hackserver.foundation.i18n import Term, say
from hackserver.foundation.models import AuditEntry
from hackserver.foundation.numbers import whole
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.sprint import announcements
from hackserver.sprint.phases import BEFORE, shift_phase
from hackserver.teams import matching
from hackserver.web.api import STATUS
from hackserver.web.console_nav import navigation
from hackserver.web.dashboard_hub import Hub, snapshot
from hackserver.web.languages import language
from hackserver.web.visitors import SIGNED_OUT, generation, read_form, same_origin

COOKIE = "hackserver_organiser"
SALT = "dashboard"
AGE = 4 * 24 * 3600  # seconds: the 48 hours, the judging and the awards
ACTOR = "organiser:dashboard"
# The page's own script and style only: a name that slipped past escaping still could not run.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _session(connection: HTTPConnection, runtime: Runtime) -> str | None:
    """The id of the dashboard session the cookie carries, if it was signed for the current token."""
    configured = runtime.settings.organiser_token
    cookie = connection.cookies.get(COOKIE, "")
    if not configured or not cookie:
        return None
    try:
        given = URLSafeTimedSerializer(runtime.links.secret, salt=SALT).loads(cookie, max_age=AGE)
    except BadData:
        return None
    if not (isinstance(given, list) and len(given) == 2 and all(isinstance(part, str) for part in given)):
        return None
    fingerprint, session = given
    return session if secrets.compare_digest(fingerprint, builtin.fingerprint(configured)) else None


async def signed_in(connection: HTTPConnection, runtime: Runtime) -> bool:
    """A valid cookie whose session was not signed out (in the database: every web process agrees)."""
    if (session := _session(connection, runtime)) is None:
        return False
    async with runtime.sessions() as db:
        return await generation(db, runtime.event_id, ACTOR + ":" + session) == 0


class Dashboard:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- signing in --------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        if not runtime.settings.organiser_token:
            return off(request)
        if not await signed_in(request, runtime):
            return login_page(request, status=401)
        state = self.hub.latest if self.hub.fresh and self.hub.latest else None
        if state is None:
            state = await snapshot(runtime)
        shown = page_words(request)
        lang, t = shown["lang"], shown["t"]
        done = request.query_params.get("done", "")
        phase_names = {name: say(lang, f"phase.{name}") for name in (BEFORE, *PHASES)}
        script_words = {
            "lang": lang,
            "locale": time_locale(lang).replace("_", "-"),
            "t": t,
            "phases": phase_names,
        }
        return self.secured(
            templates.TemplateResponse(
                request,
                "dashboard.html",
                shown
                | {
                    "state": state,
                    "feed": list(reversed(self.hub.feed)),
                    "phases": PHASES,
                    "phase_names": phase_names,
                    "targets": announcements.targets(runtime.platform_channels("announcements")),
                    "done": t["done_" + done] if done in ACTIONS else "",
                    "counts": COUNTS,
                    "charts": CHARTS,
                    "delivery_states": DELIVERY_STATES,
                    "script_words": script_words,
                }
                | navigation(lang, "dashboard"),
            )
        )

    @staticmethod
    def secured(response: Response) -> Response:
        response.headers["content-security-policy"] = POLICY
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "same-origin"
        response.headers["cache-control"] = "no-store"
        return response

    async def login(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        configured = runtime.settings.organiser_token
        if not configured:
            return off(request)
        lang = language(request, runtime)
        form = await read_form(request)
        if form is None or not same_origin(request):
            return refusal(lang, 403 if form is not None else 413)
        if wait := await runtime.attempts.wait(address := client_address(request)):
            problem = say(lang, "page.dashboard.too_many", n=math.ceil(wait / 60))
            refused = login_page(request, status=429, problem=problem)
            refused.headers["retry-after"] = str(wait)
            return refused
        given = form.get("token", "")
        if not secrets.compare_digest(given.encode(), configured.encode()):
            if given:
                await runtime.attempts.failed(address, "dashboard sign-in")
            return login_page(request, status=401, problem=say(lang, "page.dashboard.wrong_token"))
        back = form.get("back", "")  # the console page asked for: only one of ours, never another site
        back = back if re.fullmatch(r"/dashboard(/[a-z]+)?(/[0-9]+)?", back) else "/dashboard"
        response = RedirectResponse(after_form(back, request), status_code=303)
        response.set_cookie(
            COOKIE,
            # A session id of its own, so signing out ends this session and no other organiser's.
            URLSafeTimedSerializer(runtime.links.secret, salt=SALT).dumps(
                [builtin.fingerprint(configured), secrets.token_urlsafe(16)]
            ),
            max_age=AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        if not same_origin(request):
            return refusal(language(request, request.state.runtime), 403)
        if (session := _session(request, request.state.runtime)) is not None:
            async with request.state.runtime.transaction() as tx:  # a copy of the cookie is refused too
                tx.session.add(
                    AuditEntry(
                        event_id=tx.event_id, actor=ACTOR + ":" + session, action=SIGNED_OUT, at=tx.now
                    )
                )
        response = RedirectResponse("/dashboard", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # -- actions -----------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """One organiser action; the script asks for JSON, a plain form post is redirected back."""
        runtime: Runtime = request.state.runtime
        wants_json = "application/json" in request.headers.get("accept", "")
        lang = language(request, runtime)
        if not await signed_in(request, runtime):
            return self.answer(request, wants_json, "", say(lang, "page.dashboard.sign_in_first"), 401)
        form = await read_form(request)
        if form is None or not same_origin(request):
            return refusal(lang, 403 if form is not None else 413)
        action = request.path_params["action"]
        try:
            async with runtime.transaction() as tx:
                done = await self.perform(tx, action, form, request.path_params.get("id"), lang)
        except DomainError as refused:
            status = 422 if isinstance(refused, Unreadable) else STATUS.get(type(refused), 409)
            return self.answer(request, wants_json, action, refused.say(lang), status)
        return self.answer(request, wants_json, action, done, 200)

    async def perform(
        self, tx: Transaction, action: str, form: dict[str, str], target: str | None, lang: str
    ) -> str:
        """Does one action; says what was done in the page's language."""
        if action == "announce":
            text = form.get("text", "").strip()
            if not text:
                raise Unreadable("page.dashboard.write_first")
            where = form.get("target", announcements.EVERYWHERE)
            sent = await announcements.send(
                tx, text, language=tx.event.default_language, actor=ACTOR, target=where
            )
            return say(lang, "page.dashboard.sent", where=", ".join(f"{p} {c}" for p, c in sent))
        if action == "shift":
            by, phase = form.get("by", "").strip(), form.get("phase", "")
            delta = parse_duration(by.lstrip("+-")) * (-1 if by.startswith("-") else 1)
            await shift_phase(tx, phase, delta, actor=ACTOR, later_too=form.get("later_too") == "on")
            return say(lang, "page.dashboard.shifted", phase=Term(f"phase.{phase}"), by=by)
        written = form.get("seed", "").strip()
        if (seed := whole(written)) is None and written:
            raise Unreadable("page.dashboard.bad_seed")
        if action == "matching":
            run = await matching.run(tx, actor=ACTOR, seed=seed)
            return matching.summary(run, lang)
        if action == "assignment":
            done = await assignment.run(tx, actor=ACTOR, seed=seed)
            return done.summary(lang)
        if action == "retry" and (dead := whole(target or "")) is not None:
            message = await outbox.requeue_dead(tx, dead, actor=ACTOR)
            return say(lang, "page.dashboard.requeued", id=message.id)
        raise Unreadable("page.dashboard.no_action", action=action[:40])

    @staticmethod
    def answer(request: Request, wants_json: bool, action: str, message: str, status: int) -> Response:
        if wants_json:
            key = "message" if status == 200 else "error"
            return JSONResponse({key: message}, status_code=status)
        if status == 200:
            return RedirectResponse(after_form(f"/dashboard?done={action}", request), status_code=303)
        return PlainTextResponse(message, status_code=status)

    async def history(self, request: Request) -> Response:
        """The charts' points over the event so far, from the database (the page asks on load)."""
        runtime: Runtime = request.state.runtime
        if not await signed_in(request, runtime):
            error = say(language(request, runtime), "page.dashboard.sign_in_first")
            return self.secured(JSONResponse({"error": error}, status_code=401))
        async with runtime.reading() as tx:
            return self.secured(JSONResponse(await charts.history(tx, runtime.clock.speed)))

    # -- live --------------------------------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        runtime: Runtime = ws.state.runtime
        if not await signed_in(ws, runtime) or not same_origin(ws):
            await ws.close(code=1008)  # before accepting: the handshake is refused with 403
            return
        await ws.accept()
        viewer = self.hub.join()
        try:
            await ws.send_text(self.hub.history())
            sending = asyncio.create_task(self.send(ws, viewer))
            reading = asyncio.create_task(self.until_gone(ws))
            done, pending = await asyncio.wait({sending, reading}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in (*done, *pending):
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await task
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            self.hub.leave(viewer)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await ws.close()

    @staticmethod
    async def send(ws: WebSocket, viewer: Any) -> None:
        while True:
            await ws.send_text(await viewer.next())

    @staticmethod
    async def until_gone(ws: WebSocket) -> None:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass  # the dashboard only listens; what a viewer sends is ignored

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/dashboard", self.page),
            Route("/dashboard/history", self.history),
            Route("/dashboard/login", self.login, methods=["POST"]),
            Route("/dashboard/logout", self.logout, methods=["POST"]),
            Route("/dashboard/actions/{action}", self.act, methods=["POST"]),
            Route("/dashboard/actions/{action}/{id}", self.act, methods=["POST"]),
            WebSocketRoute("/ws/dashboard", self.websocket),
        ]


# The numbers, in the order shown, each worded by the catalogue's page.dashboard.count_<name>.
COUNTS = (
    "registrations", "in_teams", "pool", "teams", "challenges_covered", "challenges_uncovered", "bookings",
    "free_slots", "no_shows", "help_waiting", "help_wait_p50_s", "help_wait_p90_s", "submissions_draft",
    "submissions_final",
)  # fmt: skip
# The charts over time (page.dashboard.chart_<key>), each its series (page.dashboard.series_<name>),
# drawn from hackserver.dashboard.history's lists.
CHARTS = [
    {"key": "people", "series": ["registrations", "in_teams", "without_team", "teams"]},
    {"key": "submissions", "series": ["submissions"]},
    {"key": "queued", "series": ["queued"]},
    {"key": "help", "series": ["help_wait_s"]},
    {"key": "commands", "series": ["commands"]},
]
# The delivery table's rows (page.dashboard.delivery_<state>), and the actions (page.dashboard.done_<action>).
DELIVERY_STATES = ("pending", "sending", "delivered", "dead", "rate_limited")
ACTIONS = ("announce", "shift", "matching", "assignment", "retry")


def page_words(request: Request) -> dict[str, Any]:
    """What the dashboard and its sign-in show in the page's language: its words, the console's
    shared ones, and where the language switcher's links lead."""
    lang = language(request, request.state.runtime)
    return {
        "event": request.state.runtime.event,
        "lang": lang,
        "t": i18n.words(lang, "dashboard"),
        "console": i18n.words(lang, "console"),
        "here": request.url.path,
    }


def login_page(request: Request, *, status: int, problem: str = "") -> Response:
    """The sign-in form, for the dashboard and every console page."""
    picked = request.query_params.get("lang") in request.state.runtime.event.languages
    # Signed in, the organiser lands on the page they asked for (a page, not a form's address).
    back = request.url.path if request.method == "GET" else ""
    shown = page_words(request) | {"problem": problem, "picked": picked, "back": back}
    return Dashboard.secured(
        templates.TemplateResponse(request, "dashboard_login.html", shown, status_code=status)
    )


def off(request: Request) -> Response:
    return PlainTextResponse(
        say(language(request, request.state.runtime), "page.dashboard.off"), status_code=404
    )


def refusal(lang: str, status: int) -> Response:
    """A form from another site (403) or one too large (413)."""
    return PlainTextResponse(say(lang, "page.dashboard.refused"), status_code=status)


def after_form(path: str, request: Request) -> str:
    """Where a form leads: in the language it was posted in, when its page named one (?lang)."""
    picked = request.query_params.get("lang", "")
    if picked not in request.state.runtime.event.languages:
        return path
    return f"{path}{'&' if '?' in path else '?'}lang={picked}"


def routes(hub: Hub) -> list[BaseRoute]:
    return Dashboard(hub).routes()
