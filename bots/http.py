"""What the chat adapters' HTTP endpoints share: a bounded request body, and work that outlives
the answer (a deferred or slow reply)."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Coroutine
from typing import Any

import httpx
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from hackserver.foundation.numbers import whole

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # a chat platform's request is a few kilobytes; more is not one of theirs


async def bounded_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (judged before reading when it can be)."""
    length = whole(request.headers.get("content-length", "0"))
    if length is None or length > limit:
        return None
    body = await request.body()
    return None if len(body) > limit else body


@functools.cache
def tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once per process: making one loads the CA bundle, 60–90 ms
    of CPU, which every short-lived client (a late reply, a webhook post) would otherwise pay."""
    return httpx.create_ssl_context()


def client_address(connection: HTTPConnection) -> str:
    """Whom limits per address count: behind a reverse proxy, the address it forwarded (uvicorn's
    proxy headers, trusted from the addresses in FORWARDED_ALLOW_IPS, 127.0.0.1 unless set)."""
    return connection.client.host if connection.client else "unknown"


def too_large() -> JSONResponse:
    return JSONResponse({"error": "body too large"}, status_code=413)


def too_many_attempts(wait: int) -> JSONResponse:
    """An address past its wrong secrets, refused before what it sent is compared."""
    return JSONResponse(
        {"error": f"too many wrong tokens from this address: try again in {wait} seconds"},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


class Background:
    """Keeps tasks that outlive an acknowledgement until they end, and logs any that fail."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.tasks: set[asyncio.Task[Any]] = set()

    def keep(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.forget)
        return task

    def forget(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s failed", self.what, exc_info=error)
