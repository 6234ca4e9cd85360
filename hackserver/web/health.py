"""Operators' endpoints: liveness with database and Redis state, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import secrets

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bots.http import client_address
from hackserver.foundation.models import FiredItem, OutboxMessage
from hackserver.runtime import Runtime
from hackserver.sprint.phases import current_phase

PROBE_TIMEOUT = 2.0


async def healthz(request: Request) -> JSONResponse:
    runtime: Runtime = request.state.runtime
    report: dict[str, str] = {"database": "ok", "redis": "disabled" if runtime.redis is None else "ok"}
    try:
        async with asyncio.timeout(PROBE_TIMEOUT), runtime.reading() as tx:
            await tx.session.execute(text("SELECT 1"))
            report["phase"] = current_phase(await tx.phases(), runtime.clock.now())
    except Exception as error:
        report["database"] = f"error: {type(error).__name__}"
    if runtime.redis is not None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await runtime.redis.ping()
        except Exception as error:
            report["redis"] = f"error: {type(error).__name__}"
    healthy = report["database"] == "ok" and report["redis"] in ("ok", "disabled")
    report["status"] = "ok" if healthy else "degraded"
    return JSONResponse(report, status_code=200 if healthy else 503)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outbox = Gauge(
            "hackserver_outbox_messages", "Outbox rows by status", ["status"], registry=self.registry
        )
        self.clock = Gauge(
            "hackserver_clock_items", "Schedule items by outcome", ["status"], registry=self.registry
        )
        self.viewers = Gauge(
            "hackserver_channel_viewers", "Open built-in channel websockets", registry=self.registry
        )
        self.dropped = Gauge(
            "hackserver_bus_dropped_events", "Events a slow subscriber did not take", registry=self.registry
        )

    async def render(self, request: Request) -> Response:
        runtime: Runtime = request.state.runtime
        if (expected := runtime.settings.metrics_token) is not None:
            if wait := await runtime.attempts.wait(address := client_address(request)):
                return PlainTextResponse(
                    f"too many wrong tokens from this address: try again in {wait} seconds",
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), expected.encode()):
                if given:
                    await runtime.attempts.failed(address, "metrics")
                return PlainTextResponse(
                    "metrics token missing or wrong: send Authorization: Bearer <HACKSERVER_METRICS_TOKEN>",
                    status_code=401,
                    headers={"www-authenticate": "Bearer"},
                )
        async with runtime.sessions() as session:
            for status, count in await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ):
                self.outbox.labels(status).set(count)
            for status, count in await session.execute(
                select(FiredItem.status, func.count())
                .where(FiredItem.event_id == runtime.event_id)
                .group_by(FiredItem.status)
            ):
                self.clock.labels(status).set(count)
        self.dropped.set(runtime.bus.dropped)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def routes(metrics: Metrics) -> list[Route]:
    return [Route("/healthz", healthz), Route("/metrics", metrics.render)]
