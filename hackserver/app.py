"""The web application: `create_app(settings)` assembles routes and a lifespan that owns the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bots import platforms, slack
from hackserver.bootstrap import bootstrap
from hackserver.clock import SprintClock
from hackserver.demo.crowd import Crowd
from hackserver.demo.seed import seed
from hackserver.foundation import metrics
from hackserver.foundation.db import unreachable
from hackserver.foundation.i18n import FALLBACK, say
from hackserver.foundation.settings import Settings
from hackserver.foundation.timekeeping import Clock
from hackserver.runtime import Runtime, start_up_frozen
from hackserver.web import (
    MACHINE_PATHS,
    api,
    api_challenges,
    api_dashboard,
    api_experts,
    api_exports,
    api_jury,
    api_links,
    api_submissions,
    api_teams,
    book_page,
    channels,
    console_routes,
    dashboard,
    expert_page,
    health,
    jury,
    openapi,
    submit,
)
from hackserver.web.dashboard_hub import Hub
from hackserver.web.languages import RememberLanguage, language
from hackserver.web.limits import BodyLimit

log = logging.getLogger(__name__)
A_DAY = {"cache-control": "public, max-age=86400"}


def create_app(
    settings: Settings,
    *,
    demo: bool = False,
    speed: float = 1.0,
    crowd: int = 0,
    clock: Clock | None = None,
    run_clock: bool | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Starlette:
    """run_clock: fire the schedule in this process; by default in the embedded mode (no Redis) and demos.
    crowd: simulated participants that arrive in a demo (never in a real event)."""
    if crowd and not demo:
        raise ValueError("simulated participants arrive only in a demo")
    if run_clock is None:
        run_clock = settings.redis_url is None or demo  # a demo is one process, whatever the settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with bootstrap(settings, demo=demo, speed=speed, clock=clock, write_plan=True) as runtime:
            if demo:
                for line in await seed(runtime):
                    log.info("demo: %s", line)
            clock_task = asyncio.create_task(SprintClock(runtime).run(), name="clock") if run_clock else None
            crowd_task = asyncio.create_task(Crowd(runtime, crowd).run(), name="crowd") if crowd else None
            hub_task = asyncio.create_task(hub.run(runtime), name="dashboard")
            counts_task = asyncio.create_task(runtime.commands.keep_flushing(runtime), name="command counts")
            slack_task = (
                asyncio.create_task(slack.socket_mode(runtime), name="slack")
                if settings.slack_app_token
                else None
            )
            try:
                with start_up_frozen():
                    if on_ready is not None:
                        on_ready()
                    yield {"runtime": runtime, "dashboard": hub}
            finally:
                for task in (crowd_task, clock_task, slack_task, hub_task, counts_task):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                await last_counts(runtime)

    hub = Hub()  # the dashboard's viewers and what they were last shown
    static = Path(__file__).parent / "static"
    return Starlette(
        routes=[
            *platforms.routes(),  # first: chat commands are most of the requests, matched in order
            Route("/", lambda request: RedirectResponse("/channels")),
            # Browsers ask every page's site for it, whatever the page links.
            Route("/favicon.ico", lambda request: FileResponse(static / "favicon.ico", headers=A_DAY)),
            *health.routes(),
            *channels.routes(),
            *dashboard.routes(hub),
            *console_routes.routes(),
            *api_dashboard.routes(),
            *api.routes(),
            *api_teams.routes(),
            *api_challenges.routes(),
            *api_links.routes(),
            *openapi.routes(),
            *api_experts.routes(),
            *expert_page.routes(),
            *book_page.routes(),
            *api_submissions.routes(),
            *api_jury.routes(),
            *api_exports.routes(),
            *jury.routes(),
            *submit.routes(),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ],
        middleware=[Middleware(BodyLimit), Middleware(RememberLanguage)],
        exception_handlers={
            HTTPException: http_error,
            DBAPIError: database_error,
            OSError: database_error,
            500: internal_error,
        },
        lifespan=lifespan,
    )


async def last_counts(runtime: Runtime) -> None:
    """The commands counted since the last flush, written as the process stops."""
    try:
        await runtime.commands.flush(runtime)
    except Exception as error:
        log.warning("the last seconds of commands per minute are lost: %s", error)


def from_environment() -> Starlette:
    """The app of one of several web processes (`hackserver run --workers N`), from the environment."""
    settings = Settings.from_env()
    metrics.process_started()
    return create_app(settings, on_ready=lambda: print(f"  web process {os.getpid()} ready", flush=True))


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, wrong method), as JSON where a program is asking."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith(MACHINE_PATHS):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def database_error(request: Request, exc: Exception) -> Response:
    """The database (or the network to it) is down: say so and let the client try again; nothing
    was changed, since every change is one transaction. Any other database error is a bug."""
    if not unreachable(exc):
        return await internal_error(request, exc)
    log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
    text = "the database is not reachable right now; nothing was changed, please try again in a minute"
    headers = {"Retry-After": "30"}
    if request.url.path.startswith(MACHINE_PATHS):
        return JSONResponse({"error": text}, status_code=503, headers=headers)
    return PlainTextResponse(
        say(page_language(request), "page.error.database"), status_code=503, headers=headers
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if request.url.path.startswith(MACHINE_PATHS):
        return JSONResponse({"error": "internal error; it has been logged"}, status_code=500)
    return PlainTextResponse(say(page_language(request), "page.error.internal"), status_code=500)


def page_language(request: Request) -> str:
    runtime = getattr(request.state, "runtime", None)  # absent when start-up itself failed
    return language(request, runtime) if runtime is not None else FALLBACK
