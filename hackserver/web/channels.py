"""The built-in channels' page and its websocket: history on load, then live messages and phases."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.templating import Jinja2Templates
from starlette.websockets import WebSocket, WebSocketDisconnect

from hackserver import channels
from hackserver.bus import DomainEvent
from hackserver.phases import current_phase, next_phase
from hackserver.runtime import Runtime
from hackserver.web.health import Metrics

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
ANNOUNCEMENTS = "announcements"


def language(connection: HTTPConnection, runtime: Runtime) -> str:
    languages = runtime.event.languages
    asked = connection.query_params.get("lang", "")
    if asked in languages:
        return asked
    for part in connection.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in languages:
            return code
    return runtime.event.default_language


async def sprint_state(runtime: Runtime) -> dict[str, Any]:
    async with runtime.sessions() as session:
        phases = await runtime.phases(session)
    now = runtime.clock.now()
    coming = next_phase(phases, now)
    return {
        "type": "phase",
        "phase": current_phase(phases, now),
        "next": {"phase": coming[0], "at": coming[1].isoformat()} if coming else None,
        "now": now.isoformat(),
        "speed": getattr(runtime.clock, "speed", 1.0),
    }


async def page(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    async with runtime.sessions() as session:
        messages = await channels.history(session, runtime.event_id, ANNOUNCEMENTS)
    lang = language(request, runtime)
    return templates.TemplateResponse(
        request,
        "channels.html",
        {
            "event": runtime.event,
            "lang": lang,
            "channel": ANNOUNCEMENTS,
            "messages": [channels.as_json(m) for m in messages],
            "state": await sprint_state(runtime),
        },
    )


class SharedState:
    """One sprint-state query per phase event, however many viewers are waiting for it."""

    def __init__(self) -> None:
        self.latest: tuple[DomainEvent, asyncio.Task[dict[str, Any]]] | None = None

    async def after(self, event: DomainEvent, runtime: Runtime) -> dict[str, Any]:
        if self.latest is None or self.latest[0] is not event:
            self.latest = (event, asyncio.create_task(sprint_state(runtime)))
        return await asyncio.shield(self.latest[1])  # a viewer leaving must not cancel it for the rest


def live(metrics: Metrics) -> Any:
    shared = SharedState()

    async def websocket(ws: WebSocket) -> None:
        runtime: Runtime = ws.state.runtime
        try:
            after = int(ws.query_params.get("after", "0"))
        except ValueError:
            after = 0
        await ws.accept()
        metrics.viewers.inc()
        try:
            # Subscribe before reading the history, so nothing posted in between is missed.
            async with runtime.bus.subscribe() as events:
                pushing = asyncio.create_task(push(ws, runtime, events, after, shared))
                listening = asyncio.create_task(until_disconnect(ws))
                done, pending = await asyncio.wait({pushing, listening}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
                for task in done:
                    with contextlib.suppress(WebSocketDisconnect):
                        task.result()
        finally:
            metrics.viewers.dec()
            with contextlib.suppress(RuntimeError):
                await ws.close()

    return websocket


async def push(
    ws: WebSocket, runtime: Runtime, events: asyncio.Queue[DomainEvent], after: int, shared: SharedState
) -> None:
    async with runtime.sessions() as session:
        missed = await channels.history(session, runtime.event_id, ANNOUNCEMENTS, after_id=after)
    for message in missed:
        after = message.id
        await ws.send_json(
            {"type": "message", "channel": ANNOUNCEMENTS, "message": channels.as_json(message)}
        )
    await ws.send_json(await sprint_state(runtime))
    while True:
        event = await events.get()
        if event.kind == "channel.message" and event.data["message"]["id"] > after:
            await ws.send_json({"type": "message", **event.data})
        elif event.kind in ("phase.changed", "phase.shifted"):
            await ws.send_json(await shared.after(event, runtime))


async def until_disconnect(ws: WebSocket) -> None:
    """Viewers only listen; reading is how we learn that one has gone."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


def routes(metrics: Metrics) -> list[BaseRoute]:
    return [Route("/channels", page), WebSocketRoute("/ws/channels", live(metrics))]
