"""Operators' endpoints: liveness with database and Redis state, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bots.http import client_address
from hackserver.foundation.metrics import Collection, collected
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


OUTBOX_STATUSES = ("pending", "sending", "delivered", "dead")
CLOCK_STATUSES = ("fired", "skipped")


async def metrics(request: Request) -> Response:
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
    current = await database_counts(runtime)
    scrape = Collection([*collected(), current])
    return Response(generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


class DatabaseCounts(Collector):
    """What the database holds at scrape time, read afresh each time: a status without rows is 0,
    never the count of an earlier scrape."""

    def __init__(self, outbox: dict[str, int], clock: dict[str, int], oldest_pending: float) -> None:
        self.outbox, self.clock, self.oldest_pending = outbox, clock, oldest_pending

    def collect(self) -> Iterator[Metric]:
        outbox = GaugeMetricFamily("hackserver_outbox_messages", "Outbox rows by status", labels=["status"])
        for status, count in self.outbox.items():
            outbox.add_metric([status], count)
        yield outbox
        clock = GaugeMetricFamily("hackserver_clock_items", "Schedule items by outcome", labels=["status"])
        for status, count in self.clock.items():
            clock.add_metric([status], count)
        yield clock
        yield GaugeMetricFamily(
            "hackserver_outbox_oldest_pending_seconds",
            "Age of the oldest outbox row not yet delivered (pending or sending); 0 when none",
            value=self.oldest_pending,
        )


async def database_counts(runtime: Runtime) -> DatabaseCounts:
    async with runtime.sessions() as session:
        outbox = dict.fromkeys(OUTBOX_STATUSES, 0)
        for status, count in await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ):
            outbox[status] = count
        clock = dict.fromkeys(CLOCK_STATUSES, 0)
        for status, count in await session.execute(
            select(FiredItem.status, func.count())
            .where(FiredItem.event_id == runtime.event_id)
            .group_by(FiredItem.status)
        ):
            clock[status] = count
        oldest = await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(("pending", "sending")))
        )
    age = 0.0 if oldest is None else max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
    return DatabaseCounts(outbox, clock, age)


def routes() -> list[Route]:
    return [Route("/healthz", healthz), Route("/metrics", metrics)]
