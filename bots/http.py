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
from starlette.requests import Request
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


def too_large() -> JSONResponse:
    return JSONResponse({"error": "body too large"}, status_code=413)


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
