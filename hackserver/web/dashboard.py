"""The organisers' dashboard: a sign-in with the organiser token, the page, its actions and its
websocket. The token is typed once; after that a signed, HttpOnly, SameSite=Strict cookie carries a
fingerprint of it and a session id (changing HACKSERVER_ORGANISER_TOKEN ends every dashboard session,
signing out ends that one in the database), and no token ever travels in an address. Forms and the
websocket also refuse other origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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
from hackserver.foundation import outbox
from hackserver.foundation.errors import DomainError
from hackserver.foundation.event import PHASES, parse_duration
from hackserver.foundation.models import AuditEntry
from hackserver.foundation.numbers import whole
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.sprint import announcements
from hackserver.sprint.phases import shift_phase
from hackserver.teams import matching
from hackserver.web.api import STATUS
from hackserver.web.console_nav import navigation
from hackserver.web.dashboard_feed import LANGUAGE
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
            return PlainTextResponse("The dashboard is off: set HACKSERVER_ORGANISER_TOKEN.", status_code=404)
        if not await signed_in(request, runtime):
            return self.login_form(request, status=401)
        state = self.hub.latest if self.hub.fresh and self.hub.latest else None
        if state is None:
            state = await snapshot(runtime)
        return self.secured(
            templates.TemplateResponse(
                request,
                "dashboard.html",
                {
                    "event": runtime.event,
                    "state": state,
                    "feed": list(reversed(self.hub.feed)),
                    "phases": PHASES,
                    "targets": announcements.targets(runtime.platform_channels("announcements")),
                    "done": DONE.get(request.query_params.get("done", ""), ""),
                    "charts": CHARTS,
                }
                | navigation(language(request, runtime), "dashboard"),
            )
        )

    def login_form(self, request: Request, *, status: int, problem: str = "") -> Response:
        return self.secured(
            templates.TemplateResponse(
                request,
                "dashboard_login.html",
                {"event": request.state.runtime.event, "problem": problem},
                status_code=status,
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
            return PlainTextResponse("The dashboard is off: set HACKSERVER_ORGANISER_TOKEN.", status_code=404)
        form = await read_form(request)
        if form is None or not same_origin(request):
            return PlainTextResponse("Refused.", status_code=403 if form is not None else 413)
        if wait := await runtime.attempts.wait(address := client_address(request)):
            refused = self.login_form(
                request,
                status=429,
                problem=f"Too many wrong tokens from this address: try again in {math.ceil(wait / 60)} min.",
            )
            refused.headers["retry-after"] = str(wait)
            return refused
        given = form.get("token", "")
        if not secrets.compare_digest(given.encode(), configured.encode()):
            if given:
                await runtime.attempts.failed(address, "dashboard sign-in")
            return self.login_form(request, status=401, problem="That organiser token is not right.")
        response = RedirectResponse("/dashboard", status_code=303)
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
            return PlainTextResponse("Refused.", status_code=403)
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
        if not await signed_in(request, runtime):
            return self.answer(wants_json, "", "Sign in first.", 401)
        form = await read_form(request)
        if form is None or not same_origin(request):
            return PlainTextResponse("Refused.", status_code=403 if form is not None else 413)
        action = request.path_params["action"]
        try:
            async with runtime.transaction() as tx:
                done = await self.perform(tx, action, form, request.path_params.get("id"))
        except DomainError as refused:
            return self.answer(wants_json, action, refused.say("en"), STATUS.get(type(refused), 409))
        except ValueError as problem:
            return self.answer(wants_json, action, str(problem), 422)
        return self.answer(wants_json, action, done, 200)

    async def perform(self, tx: Transaction, action: str, form: dict[str, str], target: str | None) -> str:
        if action == "announce":
            text = form.get("text", "").strip()
            if not text:
                raise ValueError("Write the announcement first.")
            where = form.get("target", announcements.EVERYWHERE)
            sent = await announcements.send(
                tx, text, language=tx.event.default_language, actor=ACTOR, target=where
            )
            return "Announcement sent to " + ", ".join(f"{p} {c}" for p, c in sent) + "."
        if action == "shift":
            by = form.get("by", "").strip()
            delta = parse_duration(by.lstrip("+-")) * (-1 if by.startswith("-") else 1)
            await shift_phase(
                tx,
                form.get("phase", ""),
                delta,
                actor=ACTOR,
                later_too=form.get("later_too") == "on",
            )
            return f"Phase {form.get('phase')} shifted by {by}."
        written = form.get("seed", "").strip()
        if (seed := whole(written)) is None and written:
            raise ValueError("A seed is a whole number, or empty.")
        if action == "matching":
            run = await matching.run(tx, actor=ACTOR, seed=seed)
            return matching.summary(run, LANGUAGE)
        if action == "assignment":
            done = await assignment.run(tx, actor=ACTOR, seed=seed)
            return done.summary(LANGUAGE)
        if action == "retry" and (dead := whole(target or "")) is not None:
            message = await outbox.requeue_dead(tx, dead, actor=ACTOR)
            return f"Dead letter #{message.id} queued again."
        raise ValueError(f"No such action: {action[:40]}.")

    @staticmethod
    def answer(wants_json: bool, action: str, message: str, status: int) -> Response:
        if wants_json:
            key = "message" if status == 200 else "error"
            return JSONResponse({key: message}, status_code=status)
        if status == 200:
            return RedirectResponse(f"/dashboard?done={action}", status_code=303)
        return PlainTextResponse(message, status_code=status)

    async def history(self, request: Request) -> Response:
        """The charts' points over the event so far, from the database (the page asks on load)."""
        runtime: Runtime = request.state.runtime
        if not await signed_in(request, runtime):
            return self.secured(JSONResponse({"error": "Sign in first."}, status_code=401))
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


# The charts over time: each its series, drawn from hackserver.dashboard.history's lists.
CHARTS = [
    {
        "key": "people",
        "title": "People and teams",
        "series": [
            ("registrations", "Registered"),
            ("in_teams", "In teams"),
            ("without_team", "Without a team"),
            ("teams", "Teams"),
        ],
    },
    {"key": "submissions", "title": "Submissions", "series": [("submissions", "Submitted")]},
    {"key": "queued", "title": "Deliveries queued", "series": [("queued", "Queued")]},
    {"key": "help", "title": "Help requests: mean wait (s)", "series": [("help_wait_s", "Wait (s)")]},
]

DONE = {
    "announce": "Announcement sent.",
    "shift": "Phase shifted.",
    "matching": "Matching done.",
    "assignment": "Assignment done.",
    "retry": "Dead letter queued again.",
}


def routes(hub: Hub) -> list[BaseRoute]:
    return Dashboard(hub).routes()
