"""The sprint's schedule: every phase change, scheduled announcement and the submissions' freeze,
at the instants the phases (with their shifts) give; the clock fires it, the dashboard shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hackserver.foundation.event import Announcement, Event


@dataclass(frozen=True)
class ScheduleItem:
    key: str
    instant: datetime
    too_late: timedelta | None  # None: always fire, however late (phase changes)
    phase: str | None = None
    announcement: Announcement | None = None
    freeze: bool = False  # the submissions whose deadline passed become final


FREEZE = "submissions:freeze"


def schedule(event: Event, phases: dict[str, datetime]) -> list[ScheduleItem]:
    items = [ScheduleItem(f"phase:{name}", at, None, phase=name) for name, at in phases.items()]
    items += [
        ScheduleItem(f"announcement:{a.id}", a.at.resolve(phases), a.too_late, announcement=a)
        for a in event.announcements
    ]
    # Saves are accepted through the grace period, so the freeze comes at its end.
    items.append(
        ScheduleItem(FREEZE, phases["submission_deadline"] + event.submission.grace, None, freeze=True)
    )
    # Phase changes first at a shared instant, so an announcement sees its phase begun.
    return sorted(items, key=lambda item: (item.instant, item.phase is None))
