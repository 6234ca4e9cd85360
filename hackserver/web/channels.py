"""The built-in channels: a page and a websocket, history on load, then live messages and phases.

Anyone may read #announcements. Joining with a display name (or opening a personal sign-in link, or
signing in with the organiser token) sets a signed, HttpOnly session cookie; with it the page also
shows the participant's team channel and their conversation with the bot, where `/hack …` typed in
the page is answered live. Someone else's link, opened while signed in, asks before it switches. Who is asking is checked on every request, every websocket and every
message sent over it; a channel someone may not read does not exist for them (404). An open websocket
follows its viewer's team: joining, leaving or being moved starts or stops its channel at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.templating import Jinja2Templates
from starlette.websockets import WebSocket, WebSocketDisconnect

from bots import builtin
from bots.builtin_markup import to_html
from bots.http import client_address
from hackserver.foundation import channels, i18n, json_input, metrics
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.channels import ANNOUNCEMENTS
from hackserver.foundation.event import PHASES
from hackserver.foundation.models import AuditEntry
from hackserver.foundation.numbers import whole
from hackserver.foundation.plain_text import one_line
from hackserver.foundation.text_limits import refused
from hackserver.runtime import Runtime
from hackserver.sprint.phases import BEFORE, current_phase, next_phase
from hackserver.teams import teams
from hackserver.teams.participants import identify
from hackserver.web.languages import language
from hackserver.web.visitors import (
    COOKIE,
    SIGNED_OUT,
    Viewer,
    account,
    find_viewer,
    generation,
    read_form,
    same_origin,
    signed_in,
    switch_key,
    viewer_of,
)

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
templates.env.filters["chat"] = to_html


def shown(message: dict[str, Any], lang: str) -> str:
    """One message as the page shows it, for the websocket to push."""
    return templates.get_template("channel_message.html").render(m=message, lang=lang)


def words(lang: str) -> dict[str, str]:
    return i18n.words(lang, "channels")


async def sprint_state(runtime: Runtime) -> dict[str, Any]:
    async with runtime.reading() as tx:
        phases = await tx.phases()
    now = runtime.clock.now()
    coming = next_phase(phases, now)
    return {
        "type": "phase",
        "phase": current_phase(phases, now),
        "next": {"phase": coming[0], "at": coming[1].isoformat()} if coming else None,
        "now": now.isoformat(),
        "speed": runtime.clock.speed,
    }


def where(channel: str, lang: str) -> str:
    query = {"lang": lang} if channel == ANNOUNCEMENTS else {"channel": channel, "lang": lang}
    return "/channels?" + urlencode(query)


async def readable_names(runtime: Runtime, participant_id: int | None) -> set[str]:
    async with runtime.sessions() as session:
        return {c.name for c in await channels.readable(session, runtime.event_id, participant_id)}


async def posted_form(request: Request, lang: str) -> dict[str, str] | Response:
    """A form's fields, or its refusal: 413 when it is too large to be one, 403 from another site."""
    form = await read_form(request)
    if form is None or not same_origin(request):
        return PlainTextResponse(words(lang)["refused"], status_code=403 if form is not None else 413)
    return form


class SharedState:
    """One sprint-state query per phase event, however many viewers are waiting for it."""

    def __init__(self) -> None:
        self.latest: tuple[DomainEvent, asyncio.Task[dict[str, Any]]] | None = None

    async def after(self, event: DomainEvent, runtime: Runtime) -> dict[str, Any]:
        if self.latest is None or self.latest[0] is not event:
            self.latest = (event, asyncio.create_task(sprint_state(runtime)))
        return await asyncio.shield(self.latest[1])  # a viewer leaving must not cancel it for the rest


class Chat:
    """The page, its forms and its websocket; one per app, holding the posting rate limit."""

    def __init__(self) -> None:
        self.shared = SharedState()
        self.moves: tuple[DomainEvent, frozenset[int]] | None = None
        self.limit = builtin.RateLimit()
        self.rendered: dict[tuple[int, str], str] = {}  # a message never changes: rendered once a language

    def shown(self, message: dict[str, Any], lang: str) -> str:
        """A message as the page shows it, once for all its viewers in this process."""
        key = (message["id"], lang)
        if key not in self.rendered:
            if len(self.rendered) > 1000:  # only the newest are pushed to many at once
                self.rendered.clear()
            self.rendered[key] = shown(message, lang)
        return self.rendered[key]

    def moved(self, event: DomainEvent) -> frozenset[int]:
        """Whose team an event changed, worked out once for all the viewers in this process (a
        matching run names thousands)."""
        if self.moves is None or self.moves[0] is not event:
            self.moves = (event, frozenset(teams.members_changed(event)))
        return self.moves[1]

    # -- the page ---------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        viewer = await viewer_of(request, runtime)
        if "as" not in request.query_params:
            return await self.render(request, viewer, request.query_params.get("channel", ANNOUNCEMENTS))
        token = request.query_params["as"]
        session = builtin.read(runtime.links.secret, token)
        if session is None or (found := await find_viewer(runtime, session)) is None:
            return await self.render(request, None, ANNOUNCEMENTS, notice="bad_link", status=403)
        if viewer is None:
            return self.signed_in_by_link(request, session, found)
        if viewer.participant_id == found.participant_id:  # their own link: nothing to ask or change
            return RedirectResponse(where(ANNOUNCEMENTS, lang), status_code=303)
        # Someone else's link, opened by a page or a mail as much as by hand: only a POST of this form
        # switches, so nobody is signed in as another person without knowing it.
        return templates.TemplateResponse(
            request,
            "channels_switch.html",
            {
                "event": runtime.event,
                "lang": lang,
                "t": words(lang),
                "viewer": viewer,
                "other": found,
                "token": token,
                "key": switch_key(runtime, request, token),
                "stay": where(ANNOUNCEMENTS, lang),
            },
            # Its address holds the token: never a Referer to another site (no-referrer would make the
            # browser's Origin of the form "null", which is refused).
            headers={"Referrer-Policy": "same-origin", "Cache-Control": "no-store"},
        )

    async def switch(self, request: Request) -> Response:
        """The question page's form: signs in as the person the link names, instead of the viewer."""
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        if isinstance(form := await posted_form(request, lang), Response):
            return form
        token = form.get("as", "")
        if not hmac.compare_digest(
            form.get("key", "").encode(), switch_key(runtime, request, token).encode()
        ):
            return PlainTextResponse(words(lang)["refused"], status_code=403)
        session = builtin.read(runtime.links.secret, token)
        if session is None or (found := await find_viewer(runtime, session)) is None:
            return await self.render(request, None, ANNOUNCEMENTS, notice="bad_link", status=403)
        return self.signed_in_by_link(request, session, found)

    def signed_in_by_link(self, request: Request, session: builtin.Session, found: Viewer) -> Response:
        runtime: Runtime = request.state.runtime
        # The token leaves the address bar (and the history) at once; the cookie keeps it.
        # A link never makes an organiser, even one made from an organiser's cookie.
        redirect = RedirectResponse(where(ANNOUNCEMENTS, language(request, runtime)), status_code=303)
        fresh = replace(session, organiser="", generation=found.generation)
        return signed_in(redirect, request, runtime, fresh)

    async def render(
        self,
        request: Request,
        viewer: Viewer | None,
        channel_name: str,
        *,
        notice: str = "",
        status: int = 200,
        wait: int = 0,
    ) -> Response:
        """wait: the seconds a refused client is asked to wait (Retry-After), if any."""
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        async with runtime.sessions() as session:
            readable = await channels.readable(
                session, runtime.event_id, viewer.participant_id if viewer else None
            )
            current = next((c for c in readable if c.name == channel_name), None)
            if current is None:
                return PlainTextResponse(words(lang)["no_channel"], status_code=404)
            messages = await channels.history(session, runtime.event_id, current.name)
        # Never the request's Host header: whoever sends the request could name any server there.
        link = (
            (runtime.settings.public_url or "") + builtin.sign_in_path(runtime.links.secret, viewer.identity)
            if viewer
            else ""
        )
        response = templates.TemplateResponse(
            request,
            "channels.html",
            {
                "event": runtime.event,
                "lang": lang,
                "t": words(lang),
                "channel": current,
                "channels": readable,
                "messages": [channels.as_json(m) for m in messages],
                "state": await sprint_state(runtime),
                "phases": {name: i18n.say(lang, f"phase.{name}") for name in (BEFORE, *PHASES)},
                "viewer": viewer,
                "writable": viewer is not None and current.kind in ("bot", "team"),
                "organiser_sign_in": bool(runtime.settings.organiser_token),
                "personal_link": link,
                "notice": notice,
                "where": where,
            },
            status_code=status,
        )
        if wait:
            response.headers["retry-after"] = str(wait)
        return response

    # -- joining and signing in --------------------------------------------------------------

    async def join(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        if isinstance(form := await posted_form(request, lang), Response):
            return form
        viewer = await viewer_of(request, runtime)
        if viewer is not None:  # already in: joining again must not make a second participant
            return RedirectResponse(where(channels.bot_channel(viewer.participant_id), lang), status_code=303)
        name = one_line(form.get("name", ""))
        if not name:
            return await self.render(request, None, ANNOUNCEMENTS, notice="bad_name", status=400)
        if (refusal := refused("display_name", name, "name")) is not None:
            return await self.render(request, None, ANNOUNCEMENTS, notice=refusal.say(lang), status=400)
        if not await runtime.signups.allow(address := client_address(request)):
            wait = max(1, await runtime.signups.wait(address))
            notice = i18n.say(lang, "page.channels.too_many_signups", n=math.ceil(wait / 60))
            return await self.render(request, None, ANNOUNCEMENTS, notice=notice, status=429, wait=wait)
        identity = builtin.newcomer(name)
        async with runtime.transaction() as tx:
            person = await identify(tx, identity)
            if person.language is None and lang in runtime.event.languages:
                person.language = lang
            participant_id = person.id
        redirect = RedirectResponse(where(channels.bot_channel(participant_id), lang), status_code=303)
        session = builtin.Session(identity.platform, identity.workspace, identity.user_id)
        return signed_in(redirect, request, runtime, session)

    async def organiser(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        configured = runtime.settings.organiser_token
        if not configured:
            return PlainTextResponse(words(lang)["no_organiser_sign_in"], status_code=404)
        if isinstance(form := await posted_form(request, lang), Response):
            return form
        viewer = await viewer_of(request, runtime)
        if wait := await runtime.attempts.wait(address := client_address(request)):
            notice = i18n.say(lang, "page.channels.too_many_attempts", n=math.ceil(wait / 60))
            return await self.render(request, viewer, ANNOUNCEMENTS, notice=notice, status=429, wait=wait)
        if not builtin.is_organiser_token(given := form.get("token", ""), configured):
            if given:
                await runtime.attempts.failed(address, "organiser sign-in on /channels")
            return await self.render(request, viewer, ANNOUNCEMENTS, notice="bad_token", status=403)
        if viewer is None:
            name = one_line(form.get("name", "")) or "Orga"
            if (refusal := refused("display_name", name, "name")) is not None:
                return await self.render(request, None, ANNOUNCEMENTS, notice=refusal.say(lang), status=400)
            identity = builtin.organiser(name)
            async with runtime.transaction() as tx:  # the same name is the same account, signed out or not
                participant_id = (await identify(tx, identity)).id
                signed_out = await generation(tx.session, runtime.event_id, account(participant_id))
        else:
            identity, participant_id, signed_out = viewer.identity, viewer.participant_id, viewer.generation
        session = builtin.Session(
            identity.platform,
            identity.workspace,
            identity.user_id,
            builtin.fingerprint(configured),
            signed_out,
        )
        redirect = RedirectResponse(where(channels.bot_channel(participant_id), lang), status_code=303)
        return signed_in(redirect, request, runtime, session)

    async def leave(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        if not same_origin(request):
            return PlainTextResponse(words(lang)["refused"], status_code=403)
        if (viewer := await viewer_of(request, runtime)) is not None:
            # Ended in the database, not only in this browser: a copy of the cookie is refused too.
            async with runtime.transaction() as tx:
                tx.session.add(
                    AuditEntry(
                        event_id=tx.event_id,
                        actor=account(viewer.participant_id),
                        action=SIGNED_OUT,
                        at=tx.now,
                    )
                )
        response = RedirectResponse(where(ANNOUNCEMENTS, lang), status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    # -- posting -----------------------------------------------------------------------------

    async def post_form(self, request: Request) -> Response:
        """Posting without the script: the form posts here, the page shows the answer after reload."""
        runtime: Runtime = request.state.runtime
        lang = language(request, runtime)
        if isinstance(form := await posted_form(request, lang), Response):
            return form
        viewer = await viewer_of(request, runtime)
        name = request.path_params["name"]
        problem = await self.say(runtime, viewer, name, form, lang)
        if problem is not None:
            code, said = problem
            return PlainTextResponse(said, status_code={"not_found": 404, "too_fast": 429}.get(code, 400))
        return RedirectResponse(where(name, lang), status_code=303)

    async def say(
        self, runtime: Runtime, viewer: Viewer | None, name: str, message: dict[str, Any], lang: str
    ) -> tuple[str, str] | None:
        """Posts what a viewer typed in a channel; returns what was wrong, if anything: a code and
        what to tell the viewer."""
        if viewer is None:
            return "not_found", words(lang)["no_channel"]
        async with runtime.sessions() as session:
            readable = await channels.readable(session, runtime.event_id, viewer.participant_id)
        channel = next((c for c in readable if c.name == name and c.kind in ("bot", "team")), None)
        if channel is None:
            return "not_found", words(lang)["no_channel"]
        if not self.limit.allow(viewer.participant_id):
            return "too_fast", words(lang)["too_fast"]
        text = message.get("text")
        if isinstance(text, str) and (refusal := refused("message", text, "text")) is not None:
            return refusal.code, refusal.say(lang)
        if channel.kind == "bot":
            invocation = builtin.to_invocation(
                viewer.identity, message, locale=lang, organiser=viewer.organiser
            )
            if invocation is not None:
                await builtin.converse(
                    runtime, viewer.identity, viewer.participant_id, viewer.name, invocation
                )
            return None
        if isinstance(text, str) and text.strip():
            async with runtime.transaction() as tx:
                await channels.post(tx, runtime.event_id, name, author=viewer.name, text=text, kind="team")
        return None

    # -- live --------------------------------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        runtime: Runtime = ws.state.runtime
        after = whole(ws.query_params.get("after", "0")) or 0
        lang = language(ws, runtime)
        viewer = await viewer_of(ws, runtime)
        reader = viewer.participant_id if viewer else None
        # Subscribe before reading who may read what and the history, so no change in between is missed.
        async with runtime.bus.subscribe() as events:
            names = await readable_names(runtime, reader)
            current = ws.query_params.get("channel", ANNOUNCEMENTS)
            if current not in names or not same_origin(ws):
                await ws.close(code=1008)  # before accepting: the handshake is refused with 403
                return
            await ws.accept()
            metrics.VIEWERS.labels("channels").inc()
            lock = asyncio.Lock()

            async def send(frame: dict[str, Any]) -> None:
                async with lock:  # frames from the listener and the pusher never interleave
                    # ASCII JSON: a frame that echoes a lone surrogate someone sent still encodes.
                    await ws.send_text(json.dumps(frame))

            try:
                pushing = asyncio.create_task(
                    self.push(send, runtime, events, current, reader, names, after, lang)
                )
                listening = asyncio.create_task(self.listen(ws, send, runtime, viewer, lang))
                done, pending = await asyncio.wait({pushing, listening}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
                for task in done:
                    with contextlib.suppress(WebSocketDisconnect):
                        task.result()
            finally:
                metrics.VIEWERS.labels("channels").dec()
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # it may be gone already
                    await ws.close()

    async def push(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        runtime: Runtime,
        events: asyncio.Queue[DomainEvent],
        current: str,
        reader: int | None,
        names: set[str],
        after: int,
        lang: str,
    ) -> None:
        """Pushes what the viewer may read. Who may read a team channel is read again only when an
        event says the viewer's team changed, so a message costs no query however many are watching."""
        async with runtime.sessions() as session:
            missed = await channels.history(session, runtime.event_id, current, after_id=after)
        for message in missed:
            after = max(after, message.id)
            data = channels.as_json(message)
            await send(
                {"type": "message", "channel": current, "message": data, "html": self.shown(data, lang)}
            )
        await send(await sprint_state(runtime))
        while True:
            event = await events.get()
            if event.kind == "channel.message":
                if event.data["channel"] not in names:  # never readable, or not any more
                    continue
                if event.data["channel"] == current and event.data["message"]["id"] > after:
                    await send(
                        {"type": "message", **event.data, "html": self.shown(event.data["message"], lang)}
                    )
                else:
                    await send({"type": "message", **event.data})
            elif event.kind in ("phase.changed", "phase.shifted"):
                await send(await self.shared.after(event, runtime))
            elif reader is not None and reader in self.moved(event):
                names = await readable_names(runtime, reader)

    async def listen(
        self,
        ws: WebSocket,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        runtime: Runtime,
        viewer: Viewer | None,
        lang: str,
    ) -> None:
        """Reads what the viewer types; a listener who never types is noticed when they leave."""
        while True:
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                return
            try:
                frame = json_input.loads(received.get("text") or "")
            except ValueError:
                frame = None
            if not isinstance(frame, dict) or frame.get("type") != "say":
                await send({"type": "error", "error": "bad_frame"})
                continue
            name = frame.get("channel")
            problem = await self.say(runtime, viewer, name if isinstance(name, str) else "", frame, lang)
            if problem is not None:
                code, said = problem
                await send({"type": "error", "error": code, "channel": name, "message": said})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/channels", self.page),
            Route("/channels/join", self.join, methods=["POST"]),
            Route("/channels/organiser", self.organiser, methods=["POST"]),
            Route("/channels/leave", self.leave, methods=["POST"]),
            Route("/channels/switch", self.switch, methods=["POST"]),
            Route("/channels/{name}/messages", self.post_form, methods=["POST"]),
            WebSocketRoute("/ws/channels", self.websocket),
        ]


def routes() -> list[BaseRoute]:
    return Chat().routes()
