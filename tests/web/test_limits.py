"""Request bodies past the limit are refused with 413 before any route reads them, announced or
streamed; a body within it reaches the route whole. `hackserver run` closes a connection whose
request headers trickle in (slowloris) once HEADER_TIMEOUT is over, while it serves everyone else
and keeps connections alive between requests as before."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from hackserver.web.limits import HEADER_TIMEOUT, MAX_BODY, BodyLimit
from tests.fakes import ORGANISER

HACKSERVER = Path(sys.executable).parent / "hackserver"
EXAMPLE_EVENT = Path(__file__).resolve().parent.parent.parent / "config" / "event.example.toml"
MARGIN = 5.0  # seconds past HEADER_TIMEOUT that a trickling client keeps trying


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


@pytest.fixture
def server(tmp_path: Path, free_port: int) -> Iterator[str]:
    """`hackserver run` on a loopback port, as an operator starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HACKSERVER_", "SLACK_", "DISCORD_"))}
    env |= {
        "HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}",
        "HACKSERVER_EVENT": str(EXAMPLE_EVENT),
    }
    base = f"http://127.0.0.1:{free_port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(HACKSERVER), "run", "--port", str(free_port)], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def closed(connection: socket.socket) -> bool:
    """Whether the server has closed this connection, waiting up to the socket's timeout to see."""
    try:
        return connection.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_request_whose_headers_trickle_in_is_closed_while_others_are_served(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as slow, httpx.Client(base_url=server) as other:
        slow.settimeout(1.0)  # a byte a second
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        given_up = time.monotonic() + HEADER_TIMEOUT + MARGIN
        while not closed(slow):
            assert time.monotonic() < given_up, f"still open after {HEADER_TIMEOUT + MARGIN:g} s"
            assert other.get("/healthz").status_code == 200  # everyone else is served meanwhile
            try:
                slow.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break


def test_a_connection_kept_alive_between_requests_outlives_the_header_timeout(server: str) -> None:
    ports = set()
    with httpx.Client(base_url=server, limits=httpx.Limits(max_connections=1)) as client:
        for _ in range(
            4
        ):  # 3 pauses, each shorter than uvicorn's keep-alive, longer than the timeout together
            response = client.get("/healthz")
            assert response.status_code == 200
            ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
            time.sleep(HEADER_TIMEOUT / 3 + 0.5)
    assert len(ports) == 1  # one connection throughout
