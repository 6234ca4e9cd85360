"""The dashboard's live side: one bus subscription per web process, one snapshot per tick for all
viewers, and each viewer handed only the newest frame, so a thousand open dashboards cost one
snapshot a tick and a slow one skips frames instead of queueing them.

The feed of recent activity, the chart's samples and the rate-limit counters live in memory: they are
built from the bus events this process has heard since it started (with Redis, every process's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, deque
from typing import Any

from hackserver import dashboard
from hackserver.bus import DomainEvent
from hackserver.runtime import Runtime

log = logging.getLogger(__name__)
TICK = 0.2  # seconds: at most five frames a second to each viewer
FEED = 50  # entries kept; each frame carries the newest FEED_SENT, the page merges them by number
FEED_SENT = 20
SAMPLE_EVERY = 10.0  # real seconds between the chart's points; the newest point moves until then
SAMPLES = 360
CHARTED = ("registrations", "in_teams", "pool", "teams", "bookings", "submissions_final")
QUIET = {"channel.message", "outbox.delivered", "outbox.retry", "participant.profile"}  # not in the feed


def describe(event: DomainEvent) -> str:
    """One line of the feed; names are the participants' own text, escaped where they are shown."""
    data = event.data
    match event.kind:
        case "team.created":
            return f"team created: {data.get('name', '')}"
        case "team.joined" | "team.left":
            verb = "joined" if event.kind == "team.joined" else "left"
            return f"someone {verb} team #{data.get('team')} (now {data.get('size')})"
        case "team.dissolved":
            return f"team dissolved: {data.get('name', '')} ({data.get('why', '')})"
        case "match.pool_joined":
            return "someone joined the matching pool"
        case "announcement.sent":
            text = data.get("text")
            return f"announcement sent: {text}" if text else f"scheduled announcement sent: {data.get('id')}"
        case "phase.changed":
            return f"phase began: {data.get('phase')}"
        case "phase.shifted":
            return f"phase shifted: {data.get('phase')} {data.get('by')}"
        case "outbox.dead":
            return f"dead letter #{data.get('id')} on {data.get('platform')}: {data.get('error', '')}"
        case "outbox.requeued":
            return f"dead letter #{data.get('id')} sent again"
    details = ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float | bool))
    return f"{event.kind}: {details}"[:300]


class Viewer:
    """One open dashboard: holds only the newest frame not yet sent to it."""

    def __init__(self) -> None:
        self.frame = ""
        self.ready = asyncio.Event()

    def offer(self, frame: str) -> None:
        self.frame = frame
        self.ready.set()

    async def next(self) -> str:
        await self.ready.wait()
        self.ready.clear()
        return self.frame


class Hub:
    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.feed: deque[dict[str, Any]] = deque(maxlen=FEED)
        self.samples: deque[list[float]] = deque(maxlen=SAMPLES)
        self.seq = 0
        self.rate_limited: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.dirty = asyncio.Event()
        self.fresh = False  # the last frame reflects every event heard
        self.frame = ""
        self.latest: dict[str, Any] | None = None
        self.sampled_at = 0.0
        self.snapshots = 0  # computed so far: what 1,000 viewers cost is visible in tests and benchmarks

    def note(self, event: DomainEvent) -> None:
        self.fresh = False
        self.dirty.set()
        if event.kind == "outbox.retry":
            platform = str(event.data.get("platform"))
            self.retries[platform] += 1
            error = str(event.data.get("error", "")).lower()
            if "429" in error or "ratelimit" in error or "rate limit" in error or "paced" in error:
                self.rate_limited[platform] += 1
        if event.kind in QUIET:
            return
        self.seq += 1
        self.feed.append(
            {"n": self.seq, "at": event.at.isoformat(), "kind": event.kind, "text": describe(event)}
        )

    def join(self) -> Viewer:
        viewer = Viewer()
        self.viewers.add(viewer)
        if self.fresh and self.frame:
            viewer.offer(self.frame)
        else:
            self.dirty.set()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def history(self) -> str:
        """What a viewer that just connected needs beyond the snapshot: the whole feed and chart."""
        return json.dumps(
            {"type": "history", "feed": list(self.feed), "samples": list(self.samples), "charted": CHARTED}
        )

    async def run(self, runtime: Runtime) -> None:
        async with runtime.bus.subscribe() as events:
            listening = asyncio.create_task(self.listen(events), name="dashboard-listener")
            try:
                while True:
                    await self.dirty.wait()
                    self.dirty.clear()
                    if not self.viewers:  # nobody watching: nothing to compute until somebody is
                        continue
                    started = time.monotonic()
                    try:
                        await self.publish(runtime)
                    except Exception:  # the database may be briefly away; the next event retries
                        log.exception("dashboard snapshot failed")
                    await asyncio.sleep(max(0.0, started + TICK - time.monotonic()))
            finally:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    async def listen(self, events: asyncio.Queue[DomainEvent]) -> None:
        while True:
            self.note(await events.get())

    async def publish(self, runtime: Runtime) -> None:
        self.fresh = True  # an event heard while computing marks it stale again, and dirty
        started = time.time()
        async with runtime.reading() as tx:
            state = await dashboard.snapshot(runtime, tx)
        self.snapshots += 1
        self.sample(started, state["counts"])
        delivery = state["delivery"]
        delivery["rate_limited"] = dict(self.rate_limited)
        delivery["retries"] = dict(self.retries)
        self.latest = state
        # "t" first: a benchmark reads when the snapshot was taken without parsing the frame.
        frame = {"t": started, "type": "snapshot", **state}
        frame |= {"feed": list(self.feed)[-FEED_SENT:], "samples": list(self.samples)[-2:]}
        self.frame = json.dumps(frame)
        for viewer in self.viewers:
            viewer.offer(self.frame)

    def sample(self, at: float, counts: dict[str, int]) -> None:
        point = [round(at, 1), *(counts[name] for name in CHARTED)]
        if self.samples and at - self.sampled_at < SAMPLE_EVERY:
            self.samples[-1] = point  # the newest point follows the numbers until the next is due
            return
        self.samples.append(point)
        self.sampled_at = at
