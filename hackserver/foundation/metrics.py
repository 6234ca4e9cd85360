"""What a process counts for Prometheus: commands, deliveries, the clock's lag, viewers, the database
pool and the event bus. `/metrics` (hackserver/web/health.py) exposes them.

One process: its own counts. Several on one host (`hackserver run --workers N`, workers and clocks
given the same PROMETHEUS_MULTIPROC_DIR): prometheus_client's multiprocess mode, where each process
writes its counts to files in that directory and a scrape adds them up. Every metric has labels, so
that no file is written before `process_started` has cleared what a dead process of the same id left.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry()  # this process's metrics, when it is the only one
# From a row's creation to its delivery: a post waits at least the second per channel Slack asks.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

COMMAND_SECONDS = Histogram(
    "hackserver_command_seconds",
    "Chat commands by platform, sub-command and outcome (ok, refused, failed): time to the reply",
    ["platform", "command", "outcome"],
    registry=REGISTRY,
)
DEFERRED = Counter(
    "hackserver_commands_deferred",
    "Chat commands acknowledged before their reply was ready (the reply followed later)",
    ["platform", "command"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "hackserver_deliveries",
    "Outbox delivery attempts by platform and outcome (delivered, retry, dead)",
    ["platform", "outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "hackserver_delivery_seconds",
    "From an outbox row's creation to its delivery",
    ["platform"],
    buckets=DELIVERY_BUCKETS,
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "hackserver_rate_limited", "HTTP 429 answers from a chat platform", ["platform"], registry=REGISTRY
)
RATE_LIMIT_WAIT = Counter(
    "hackserver_rate_limit_wait_seconds",
    "Seconds a chat platform's Retry-After asked us to wait",
    ["platform"],
    registry=REGISTRY,
)
CLOCK_LAG = Histogram(
    "hackserver_clock_lag_seconds",
    "How late the clock fired a schedule item after its instant (skipped: too late to send)",
    ["status"],
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
VIEWERS = Gauge(
    "hackserver_websocket_viewers",
    "Open websockets by page (channels, dashboard)",
    ["page"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DB_CONNECTIONS = Gauge(
    "hackserver_db_connections",
    "Database connections in use, and checkouts waiting for one",
    ["state"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
BUS_LAG = Histogram(
    "hackserver_bus_lag_seconds",
    "From an event's publication in one process to its receipt over Redis in another",
    ["bus"],
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
BUS_DROPPED = Counter(
    "hackserver_bus_dropped_events",
    "Events a slow subscriber did not take",
    ["bus"],
    registry=REGISTRY,
)


def delivered(platform: str, seconds: float) -> None:
    DELIVERIES.labels(platform, "delivered").inc()
    DELIVERY_SECONDS.labels(platform).observe(seconds)


def rate_limited(platform: str, retry_after: float) -> None:
    RATE_LIMITED.labels(platform).inc()
    RATE_LIMIT_WAIT.labels(platform).inc(retry_after)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


def process_started() -> None:
    """Clears the live gauges a dead process with this one's id left behind (its counters stay:
    added to this one's, they never go down)."""
    if multiprocess():
        os.makedirs(os.environ[MULTIPROC_DIR], exist_ok=True)
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def collected() -> Iterable[Collector]:
    """What a scrape shows: this process's metrics, or every process's on the host."""
    if not multiprocess():
        return [REGISTRY]
    directory = os.environ[MULTIPROC_DIR]
    for pid in _live_gauge_pids(directory):
        if not _alive(pid):
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return [registry]


def _live_gauge_pids(directory: str) -> set[int]:
    names = glob.glob(os.path.join(directory, "gauge_live*_*.db"))
    return {int(m.group(1)) for name in names if (m := re.search(r"_(\d+)\.db$", name))}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


def watch_pool(engine: AsyncEngine) -> None:
    """Counts the engine's connections in use (the pool tells when one is taken and given back)."""
    in_use = DB_CONNECTIONS.labels("in_use")

    def taken(*_: Any) -> None:
        in_use.inc()

    def returned(*_: Any) -> None:
        in_use.dec()

    event.listen(engine.sync_engine.pool, "checkout", taken)
    event.listen(engine.sync_engine.pool, "checkin", returned)


class WatchedPool(AsyncAdaptedQueuePool):
    """A queue pool that counts the checkouts under way, which it does not tell: with every
    connection in use, the requests waiting for one."""

    # Logs as SQLAlchemy's own pool, under the "sqlalchemy" logger's WARNING, not at our INFO.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"

    def _do_get(self) -> ConnectionPoolEntry:
        waiting = DB_CONNECTIONS.labels("waiting")
        waiting.inc()
        try:
            return super()._do_get()
        finally:
            waiting.dec()


class Collection(Collector):
    """Collectors shown together in one scrape."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()
