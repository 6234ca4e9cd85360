"""Calendar files (RFC 5545) of bookings, for the team's download and the expert's feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event


@dataclass(frozen=True)
class Entry:
    uid: str  # stable: a calendar updates the entry rather than adding another
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    url: str | None
    stamp: datetime
    cancelled: bool = False


def calendar(name: str, entries: list[Entry]) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//hackserver//office hours//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("method", "PUBLISH")
    for entry in entries:
        item = Event()
        item.add("uid", entry.uid)
        item.add("dtstamp", entry.stamp)
        item.add("dtstart", entry.starts_at)
        item.add("dtend", entry.ends_at)
        item.add("summary", entry.summary)
        item.add("description", entry.description)
        item.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
        if entry.url:
            item.add("url", entry.url)
            item.add("location", entry.url)
        cal.add_component(item)
    ics: bytes = cal.to_ical()
    return ics
