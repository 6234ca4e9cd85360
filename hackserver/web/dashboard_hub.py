"""The dashboard's live side: one bus subscription per web process, one snapshot per interval for
all viewers, and each viewer handed only the newest frame, so a thousand open dashboards cost one
snapshot an interval and a slow one skips frames instead of queueing them.

The first event after a quiet spell is published at once; while events keep coming, at most one
snapshot an interval follows, and the last one holds the final numbers. A frame carries only what
changed since the one before (the numbers that moved, the new feed entries; the schedule and the
alerts only when they change), encoded once for every viewer: so each text in it (a feed entry, an
alert, a coming announcement) is there in every language of the event, and each page shows its own.
A viewer that has just connected, or whose previous frame was still unsent when the next came, gets
the whole state instead.

The feed of recent activity and the rate-limit counters live in memory: they are built from the bus
events this process has heard since it started (with Redis, every process's). The charts over time
come from the database (hackserver/dashboard/history.py), not from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, deque
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from hackserver.dashboard import numbers
from hackserver.foundation import metrics
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.i18n import FALLBACK
from hackserver.runtime import Runtime
from hackserver.web import dashboard_alerts, dashboard_feed

log = logging.getLogger(__name__)
INTERVAL = 0.2  # seconds: at most five frames a second to each viewer
FEED = 50  # entries kept; the whole state carries the newest FEED_SENT, a change the new ones; the page merges them by number
FEED_SENT = 20
# Not in the feed: too many to read, and nothing for a human to do.
QUIET = {"channel.message", "outbox.delivered", "outbox.retry", "participant.profile", "booking.reminded"}


async def snapshot(runtime: Runtime) -> dict[str, Any]:
    async with runtime.reading() as tx:
        # A shift drops the cached phases before anyone in this process hears of it (see Runtime). Read
        # before the first statement: a reload takes a connection of its own, and tx holds none yet.
        state = await numbers.snapshot(tx, await runtime.cached_phases(), runtime.clock.speed)
    languages = runtime.event.languages
    return state | {"alerts": [dashboard_alerts.worded(alert, languages) for alert in state["alerts"]]}


class Frames:
    """One publication for every viewer, each form encoded once: what changed since the previous
    publication, and the whole state, encoded only if some viewer needs it."""

    def __init__(self, change: dict[str, Any], whole: dict[str, Any]) -> None:
        self.change = json.dumps(change)
        self._whole = whole

    @cached_property
    def whole(self) -> str:
        return json.dumps(self._whole)


class Viewer:
    """One open dashboard: holds only the newest publication not yet sent to it."""

    def __init__(self) -> None:
        self.frames: Frames | None = None
        self.missed = True  # nothing shown yet, or a change was dropped: the next frame is the whole state
        self.ready = asyncio.Event()

    def offer(self, frames: Frames) -> None:
        if self.frames is not None:  # the previous one was never sent, so its change is lost
            self.missed = True
        self.frames = frames
        self.ready.set()

    async def next(self) -> str:
        await self.ready.wait()
        self.ready.clear()
        frames, self.frames = self.frames, None
        assert frames is not None
        whole, self.missed = self.missed, False
        return frames.whole if whole else frames.change


class Hub:
    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.feed: deque[dict[str, Any]] = deque(maxlen=FEED)
        self.seq = 0
        self.rate_limited: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.dirty = asyncio.Event()
        self.fresh = False  # the last frames reflect every event heard
        self.frames: Frames | None = None
        self.latest: dict[str, Any] | None = None
        self.fed = 0  # the newest feed entry published
        self.snapshots = 0  # computed so far: what 1,000 viewers cost is visible in tests and benchmarks
        self.zone = ZoneInfo("UTC")  # the event's, once running
        self.languages: tuple[str, ...] = (FALLBACK,)  # the event's, once running: the feed speaks each

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
        self.feed.append(dashboard_feed.entry(self.seq, event, self.zone, self.languages))

    def join(self) -> Viewer:
        viewer = Viewer()
        self.viewers.add(viewer)
        metrics.VIEWERS.labels("dashboard").inc()
        if self.fresh and self.frames is not None:
            viewer.offer(self.frames)
        else:
            self.dirty.set()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.remove(viewer)
            metrics.VIEWERS.labels("dashboard").dec()

    def history(self) -> str:
        """What a viewer that just connected needs beyond the snapshot: the whole feed."""
        return json.dumps({"type": "history", "feed": list(self.feed)})

    async def run(self, runtime: Runtime) -> None:
        self.zone, self.languages = runtime.event.timezone, runtime.event.languages
        async with runtime.bus.subscribe() as events:
            listening = asyncio.create_task(self.listen(events), name="dashboard-listener")
            try:
                while True:
                    await self.dirty.wait()
                    self.dirty.clear()
                    if not self.viewers:
                        continue  # nobody watching: nothing to compute
                    started = time.monotonic()
                    try:
                        await self.publish(runtime)
                    except Exception:  # the database may be briefly away; the next event retries
                        log.exception("dashboard snapshot failed")
                    await asyncio.sleep(max(0.0, started + INTERVAL - time.monotonic()))
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
        state = await snapshot(runtime)
        self.snapshots += 1
        delivery = state["delivery"]
        delivery["rate_limited"] = dict(self.rate_limited)
        delivery["retries"] = dict(self.retries)
        # "t" first: a benchmark reads when the snapshot was taken without parsing the frame.
        feed = list(self.feed)
        whole = {"t": started, "type": "snapshot", **state}
        whole |= {"feed": feed[-FEED_SENT:]}
        change = {"t": started, "type": "change", **changes(self.latest or {}, state)}
        change |= {"feed": [entry for entry in feed if entry["n"] > self.fed]}
        self.latest, self.fed = state, self.seq
        self.frames = Frames(change, whole)
        for viewer in self.viewers:
            viewer.offer(self.frames)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The parts of a snapshot that differ from the one before; of the counts, only those that moved."""
    changed = {key: value for key, value in after.items() if key != "counts" and before.get(key) != value}
    shown = before.get("counts", {})
    counts = {key: n for key, n in after["counts"].items() if shown.get(key) != n}
    return changed | {"counts": counts} if counts else changed
