"""Real servers for tests: the app under uvicorn on a loopback port, a TCP proxy the test can cut,
and a Redis server the test can stop."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator

import redis
import uvicorn
from starlette.types import ASGIApp

from hackserver.runtime import Runtime

STARTUP_TIMEOUT = 30.0


class StartupFailed(Exception):
    pass


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, port: int) -> AsyncIterator[uvicorn.Server]:
    """Runs app under uvicorn in this event loop until the block ends; raises StartupFailed if the
    lifespan fails or the server does not come up."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        ws="auto",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(_serve(server), name=f"uvicorn:{port}")
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            # uvicorn offers a flag, not an event, for "listening and lifespan started".
            while not server.started and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        server.should_exit = True
        await asyncio.wait([task])
        raise StartupFailed(f"the server did not start within {STARTUP_TIMEOUT:g} s") from None
    if not server.started:
        task.result()
        raise StartupFailed("the server stopped during start-up")
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def _serve(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exit:
        # uvicorn exits when the lifespan's start-up fails; a SystemExit would stop the whole loop.
        raise StartupFailed(f"the server stopped during start-up (exit code {exit.code})") from None


def runtime_of(server: uvicorn.Server) -> Runtime:
    """The runtime the app's lifespan yielded: uvicorn keeps the lifespan state it hands to requests."""
    runtime: Runtime = server.lifespan.state["runtime"]
    return runtime


class TcpProxy:
    """Forwards a loopback port to a target; `cut()` closes the port and every open connection,
    as if the target had gone away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Listens (again, after a cut: on the same port, as a restarted server would)."""
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.writers |= {client_writer, target_writer}
        await asyncio.gather(
            self.pipe(client_reader, target_writer),
            self.pipe(target_reader, client_writer),
            return_exceptions=True,
        )

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self.writers.discard(writer)

    async def cut(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()
        if server is not None:
            await server.wait_closed()


class RedisServer:
    """A Redis of a test's own, so that stopping it disturbs nobody else. It keeps nothing on disk: a
    restart comes back empty, as a Redis that lost its memory does."""

    def __init__(self, port: int) -> None:
        self.port, self.process = port, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: what it held in memory is gone
        self.process.wait()
