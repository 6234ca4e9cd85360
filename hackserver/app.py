"""The web application: `create_app(settings)` assembles routes and a lifespan that owns the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bots import platforms, slack
from hackserver.clock import SprintClock
from hackserver.runtime import bootstrap
from hackserver.settings import Settings
from hackserver.timekeeping import Clock
from hackserver.web import (
    api,
    api_challenges,
    api_jury,
    api_links,
    api_submissions,
    api_teams,
    channels,
    health,
    jury,
    submit,
)

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    demo: bool = False,
    speed: float = 1.0,
    clock: Clock | None = None,
    run_clock: bool | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Starlette:
    """run_clock: fire the schedule in this process; by default in the embedded mode (no Redis) and demos."""
    if run_clock is None:
        run_clock = settings.redis_url is None or demo  # a demo is one process, whatever the settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with bootstrap(settings, demo=demo, speed=speed, clock=clock) as runtime:
            clock_task = asyncio.create_task(SprintClock(runtime).run(), name="clock") if run_clock else None
            slack_task = (
                asyncio.create_task(slack.socket_mode(runtime), name="slack")
                if settings.slack_app_token
                else None
            )
            # What start-up built lives as long as the server: out of the collector's sight, a full
            # collection under load takes a millisecond instead of the 50-120 ms that stall every request.
            gc.collect()
            gc.freeze()
            if on_ready is not None:
                on_ready()
            try:
                yield {"runtime": runtime}
            finally:
                gc.unfreeze()
                for task in (clock_task, slack_task):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

    metrics = health.Metrics()
    static = Path(__file__).parent / "static"
    return Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/channels")),
            *health.routes(metrics),
            *channels.routes(metrics),
            *api.routes(),
            *api_teams.routes(),
            *api_challenges.routes(),
            *api_links.routes(),
            *api_submissions.routes(),
            *api_jury.routes(),
            *jury.routes(),
            *submit.routes(),
            *platforms.routes(),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ],
        exception_handlers={500: internal_error},
        lifespan=lifespan,
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if request.url.path.startswith(("/api/", "/slack/", "/discord/")):
        return JSONResponse({"error": "internal error; it has been logged"}, status_code=500)
    return PlainTextResponse("Something went wrong on our side; it has been logged.", status_code=500)
