"""Calendar files (RFC 5545) of bookings, for the team's download and the expert's feed. A booking
and its reschedules are one entry (one UID): each move or cancellation is a new version of it
(SEQUENCE), so a calendar moves or cancels the entry instead of showing it twice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event, vCalAddress

from hackserver.foundation.models import Booking


@dataclass(frozen=True)
class Entry:
    uid: str  # stable across reschedules: a calendar updates the entry rather than adding another
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    url: str | None
    stamp: datetime
    organizer: tuple[str, str]  # who leads the meeting (the expert) and an address for them
    sequence: int = 0
    cancelled: bool = False


def series(booking: Booking) -> int:
    return booking.series_id or booking.id


def version(booking: Booking, series_ids: Iterable[int]) -> int:
    """The booking's SEQUENCE: one more for each earlier booking of its series (each was moved) and
    one more if it was cancelled."""
    return sum(1 for other in series_ids if other < booking.id) + (booking.cancelled_at is not None)


def calendar(name: str, entries: list[Entry], *, method: str = "PUBLISH") -> bytes:
    """method CANCEL (RFC 5546) for a file that withdraws its one entry; a feed publishes its
    cancelled entries as such."""
    cal = Calendar()
    cal.add("prodid", "-//hackserver//office hours//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("method", method)
    for entry in entries:
        item = Event()
        item.add("uid", entry.uid)
        item.add("sequence", entry.sequence)
        item.add("dtstamp", entry.stamp)
        item.add("dtstart", entry.starts_at)
        item.add("dtend", entry.ends_at)
        item.add("summary", entry.summary)
        item.add("description", entry.description)
        item.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
        organizer = vCalAddress(entry.organizer[1])
        organizer.params["cn"] = entry.organizer[0]
        item.add("organizer", organizer)
        if entry.url:
            item.add("url", entry.url)
            item.add("location", entry.url)
        cal.add_component(item)
    ics: bytes = cal.to_ical()
    return ics
