"""`hackserver worker`: an RQ worker whose jobs run on one long-lived runtime and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from redis import Redis
from rq import Queue, SimpleWorker

from hackserver import outbox
from hackserver.errors import SettingsError
from hackserver.runtime import Runtime, bootstrap
from hackserver.settings import Settings

_current: tuple[Runtime, asyncio.AbstractEventLoop] | None = None


def deliver_message(message_id: int) -> None:
    """The RQ job: plain and importable; runs the async delivery on the worker's loop."""
    if _current is None:
        raise RuntimeError("deliver_message runs inside `hackserver worker` (see worker_runtime)")
    runtime, loop = _current
    asyncio.run_coroutine_threadsafe(outbox.deliver(runtime, message_id), loop).result()


@contextlib.contextmanager
def worker_runtime(settings: Settings) -> Iterator[Runtime]:
    """Runs a runtime on an event loop in a background thread for as long as the block lasts."""
    global _current
    loop = asyncio.new_event_loop()
    started: asyncio.Future[Runtime] = loop.create_future()
    stop = asyncio.Event()

    async def hold() -> None:
        try:
            async with bootstrap(settings) as runtime:
                started.set_result(runtime)
                await stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise

    thread = threading.Thread(target=lambda: loop.run_until_complete(hold()), name="worker-loop", daemon=True)
    thread.start()
    runtime = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(started), 60), loop).result()
    _current = (runtime, loop)
    try:
        yield runtime
    finally:
        _current = None
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    if settings.redis_url is None:
        raise SettingsError(
            "HACKSERVER_REDIS_URL: `hackserver worker` needs Redis; without it `hackserver run` delivers in-process"
        )
    with worker_runtime(settings):
        connection = Redis.from_url(settings.redis_url)
        worker = SimpleWorker([Queue(outbox.QUEUE_NAME, connection=connection)], connection=connection)
        worker.work(burst=burst, with_scheduler=True)
