"""The dashboard's recent activity: each domain event as a line an organiser reads at a glance, in
words, at the event's own time. Names are the participants' own text, escaped where they are shown."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from hackserver.dashboard.numbers import TIMES
from hackserver.foundation.bus import DomainEvent
from hackserver.foundation.i18n import Count, Term, say, when

LANGUAGE = "en"  # the dashboard's pages are in English
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


def entry(n: int, event: DomainEvent, zone: ZoneInfo) -> dict[str, Any]:
    local = format_skeleton("EHms", event.at, tzinfo=zone, locale=TIMES)
    return {
        "n": n,
        "at": event.at.isoformat(),
        "local": local,
        "kind": event.kind,
        "text": describe(event, zone),
    }


def describe(event: DomainEvent, zone: ZoneInfo) -> str:
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
            params |= {"name": name, "due": when(due, TIMES, zone), "late": span(event.at - due)}
        case "help.claimed":
            params["waited"] = span(timedelta(seconds=float(data.get("waited_seconds", 0))))
        case "submission.saved":
            key += ".draft" if data.get("status") == "draft" else ".submitted"
        case "submission.frozen":
            params["count"] = Count("dashboard.feed.submissions", int(data.get("count", 0)))
        case "submission.extended":
            params["until"] = when(datetime.fromisoformat(str(data.get("until"))), TIMES, zone)
    try:
        return say(LANGUAGE, key, **params)[:300]
    except (KeyError, ValueError):  # a kind without a line yet, or without the data its line needs
        return event.kind.replace(".", " ").replace("_", " ").capitalize()


def span(delta: timedelta) -> str:
    """A duration as a person says it, to its two largest units: "7 days, 9 hours", "45 seconds"."""
    seconds = max(0, int(delta.total_seconds()))
    parts: list[str] = []
    for unit, size in UNITS:
        if seconds >= size or (unit == "seconds" and not parts):
            parts.append(say(LANGUAGE, f"dashboard.feed.{unit}", n=seconds // size))
            seconds %= size
    return ", ".join(parts[:2])
