"""Small real test doubles: a clock the test moves, event files built around an instant, and the
organiser token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ORGANISER_TOKEN = "organiser-token-for-tests"
ORGANISER = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}  # the organiser API's header


class FakeClock:
    """The event's now, moved only by the test; sleeping is near-instant."""

    speed = 1.0

    def __init__(self, now: datetime) -> None:
        self.current = now.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def set(self, now: datetime) -> None:
        self.current = now.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def real_seconds_until(self, instant: datetime) -> float:
        return 0.01 if instant > self.current else 0.0


ANNOUNCEMENTS = (
    ("kickoff", "kickoff", None),
    ("team-formation-1h", "team_formation_close - 1h", None),
    ("deadline-24h", "submission_deadline - 24h", "1h"),
    ("deadline-1h", "submission_deadline - 1h", None),
    ("deadline-10m", "submission_deadline - 10m", "5m"),
    ("deadline", "submission_deadline", None),
)


def event_toml(
    kickoff: datetime,
    *,
    zone: str = "Europe/Berlin",
    hours: float = 48,
    announcements: tuple[tuple[str, str, str | None], ...] = ANNOUNCEMENTS,
    slug: str = "test-sprint",
) -> str:
    """A valid event file: phases at fixed offsets from kickoff (the deadline `hours` after it),
    written as wall-clock times in `zone`, with the given announcements in de and en."""
    tz = ZoneInfo(zone)
    start = kickoff.astimezone(UTC)
    offsets = {
        "registration": timedelta(days=-7),
        "kickoff": timedelta(0),
        "hacking": timedelta(hours=1),
        "team_formation_close": timedelta(hours=16),
        "submission_deadline": timedelta(hours=hours),
        "judging": timedelta(hours=hours, minutes=30),
        "awards": timedelta(hours=hours + 48),
        "end": timedelta(hours=hours + 50),
    }

    def local(delta: timedelta) -> str:
        return (start + delta).astimezone(tz).replace(tzinfo=None).isoformat()

    lines = [
        "[event]",
        f'slug = "{slug}"',
        'name = "Test Sprint"',
        f'timezone = "{zone}"',
        'languages = ["de", "en"]',
        "[phases]",
        *(f"{name} = {local(delta)}" for name, delta in offsets.items()),
        "[teams]",
        "min_size = 2",
        "max_size = 4",
        "[limits]",  # tests talk faster than people; tests of the limit set their own
        "commands = 10000",
    ]
    for ident, at, too_late in announcements:
        lines += ["[[announcements]]", f'id = "{ident}"', f'at = "{at}"']
        if too_late:
            lines.append(f'too_late = "{too_late}"')
        lines += ["[announcements.text]", f'de = "DE {ident}"', f'en = "EN {ident}"']
    return "\n".join(lines) + "\n"
