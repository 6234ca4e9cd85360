"""Request bodies past a limit are refused with 413 before any route reads them, whether the client
announced the size (Content-Length) or streams it. Every body we accept (a chat platform's payload,
a form, an API call) is a few kilobytes; a megabyte is room to spare, not a way to fill memory.
A request's headers must be complete within HEADER_TIMEOUT seconds, or its connection is closed."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hackserver.web import MACHINE_PATHS

MAX_BODY = 1024 * 1024
HEADER_TIMEOUT = 10.0  # seconds from connecting, or from a request's first byte, to its last header


class HeaderTimeout(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers are late. uvicorn itself
    waits for them as long as bytes keep coming: a client trickling them a byte a second (slowloris)
    held a connection for ever, and a few thousand such clients every file descriptor. Between
    requests, uvicorn's keep-alive timeout applies as before."""

    timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.timer is None:  # the next request on a kept-alive connection
            self.start_timer()

    def on_headers_complete(self) -> None:
        self.stop_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_timer()
        super().connection_lost(exc)

    def start_timer(self) -> None:
        self.timer = self.loop.call_later(HEADER_TIMEOUT, self.too_slow)

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def too_slow(self) -> None:
        self.timer = None
        self.transport.close()


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await self.refuse(scope, send)
            return
        # Bodies are small: read this one whole (counting as it comes), then hand it on.
        messages: list[Message] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self.refuse(scope, send)
                return
            messages.append(message)
            more = message.get("more_body", False)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def refuse(self, scope: Scope, send: Send) -> None:
        size = f"{self.max_bytes // 1024} KiB" if self.max_bytes >= 1024 else f"{self.max_bytes} bytes"
        text = f"the request body is larger than {size}"
        if scope["path"].startswith(MACHINE_PATHS):
            body, kind = json.dumps({"error": text}).encode(), b"application/json"
        else:
            body, kind = text.encode(), b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
