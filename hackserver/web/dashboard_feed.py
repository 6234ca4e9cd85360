"""The dashboard's recent activity: each domain event as a line an organiser reads at a glance, in
words, at the event's own time, in every language of the event (the feed is built once for every
viewer; each page shows its own language). Names are the participants' own text, escaped where
they are shown."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from hackserver.dashboard.numbers import time_locale
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.i18n import Count, Term, say, when

UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1))
COUNTED = {  # an event's counts, and the plural texts that say them with their noun
    "size": "dashboard.feed.members",
    "experts": "dashboard.feed.experts",
    "slots": "dashboard.feed.slots",
    "submissions": "dashboard.feed.submissions",
    "assignments": "dashboard.feed.assignments",
    "teams": "match.done.teams",
    "placed": "match.done.placed",
}


def entry(n: int, event: DomainEvent, zone: ZoneInfo, languages: tuple[str, ...]) -> dict[str, Any]:
    second = event.at.replace(microsecond=0)
    return {
        "n": n,
        "at": event.at.isoformat(),
        "local": {language: clock_time(second, time_locale(language), zone) for language in languages},
        "kind": event.kind,
        "text": {language: describe(event, zone, language) for language in languages},
    }


@functools.lru_cache(maxsize=1024)  # a burst of events shares its seconds: babel takes ~0.1 ms each
def clock_time(second: datetime, locale: str, zone: ZoneInfo) -> str:
    return format_skeleton("EHms", second, tzinfo=zone, locale=locale)


def describe(event: DomainEvent, zone: ZoneInfo, language: str) -> str:
    data, key = event.data, f"dashboard.feed.{event.kind}"
    params: dict[str, object] = {name: value for name, value in data.items() if isinstance(value, str | int)}
    params |= {name: Count(text, int(data[name])) for name, text in COUNTED.items() if name in data}
    match event.kind:
        case "team.dissolved":
            key += ".empty" if data.get("why") == "empty" else ".organiser"
        case "team.picked":
            params["challenges"] = ", ".join(map(str, data.get("challenges", [])))
        case "challenges.assigned":
            params["teams"] = Count("assignment.done.teams", int(data.get("teams", 0)))
        case "announcement.sent" if "text" not in data:
            key = "dashboard.feed.announcement.scheduled"
        case "phase.changed" | "phase.shifted":
            params["phase"] = Term(f"phase.{data.get('phase')}")
        case "clock.skipped":  # only announcements have a bound on lateness
            due = datetime.fromisoformat(str(data.get("instant")))
            name = str(data.get("key", "")).partition(":")[2]
            late = span(event.at - due, language)
            params |= {"name": name, "due": when(due, time_locale(language), zone), "late": late}
        case "help.claimed":
            params["waited"] = span(timedelta(seconds=float(data.get("waited_seconds", 0))), language)
        case "submission.saved":
            key += ".draft" if data.get("status") == "draft" else ".submitted"
        case "submission.frozen":
            params["count"] = Count("dashboard.feed.submissions", int(data.get("count", 0)))
        case "submission.extended":
            until = datetime.fromisoformat(str(data.get("until")))
            params["until"] = when(until, time_locale(language), zone)
    try:
        return say(language, key, **params)[:300]
    except (KeyError, ValueError):  # a kind without a line yet, or without the data its line needs
        return event.kind.replace(".", " ").replace("_", " ").capitalize()


def span(delta: timedelta, language: str) -> str:
    """A duration as a person says it, to its two largest units: "7 days, 9 hours", "45 seconds"."""
    seconds = max(0, int(delta.total_seconds()))
    parts: list[str] = []
    for unit, size in UNITS:
        if seconds >= size or (unit == "seconds" and not parts):
            parts.append(say(language, f"dashboard.feed.{unit}", n=seconds // size))
            seconds %= size
    return ", ".join(parts[:2])
