"""Request bodies past the limit are refused with 413 before any route reads them, announced or
streamed; a body within it reaches the route whole."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from hackserver.web.limits import MAX_BODY, BodyLimit
from tests.fakes import ORGANISER


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    routes = [Route("/api/echo", echo, methods=["POST"]), Route("/form", echo, methods=["POST"])]
    app = BodyLimit(Starlette(routes=routes), max_bytes=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def test_a_body_within_the_limit_reaches_the_route_whole(client: httpx.AsyncClient) -> None:
    reply = await client.post("/api/echo", content=b"x" * 1000)
    assert reply.json() == {"received": 1000}


async def test_an_announced_body_past_the_limit_is_refused_as_json_on_the_api(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post("/api/echo", content=b"x" * 1001)
    assert reply.status_code == 413
    assert reply.json() == {"error": "the request body is larger than 1000 bytes"}


async def test_a_streamed_body_past_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size shows only as it arrives
        for _ in range(5):
            yield b"x" * 300

    reply = await client.post("/form", content=chunks())
    assert reply.status_code == 413
    assert reply.text == "the request body is larger than 1000 bytes"


def test_the_app_refuses_a_body_past_a_megabyte_and_nothing_runs(api: TestClient) -> None:
    before = api.get("/api/v1/matching", headers=ORGANISER).status_code
    reply = api.post("/api/v1/matching", content=b"{" + b" " * MAX_BODY + b"}", headers=ORGANISER)
    assert reply.status_code == 413
    assert "larger than 1024 KiB" in reply.json()["error"]
    assert api.get("/api/v1/matching", headers=ORGANISER).status_code == before == 404
