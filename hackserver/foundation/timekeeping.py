"""The event's notion of now: real time, or (in demo mode) real time sped up from an origin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    speed: float  # event seconds per real second

    def now(self) -> datetime: ...

    def real_seconds_until(self, instant: datetime) -> float: ...


class EventClock:
    """From real_origin (default: now) on, the event's time runs `speed` times as fast, starting at
    origin (default: real_origin)."""

    def __init__(
        self, speed: float = 1.0, origin: datetime | None = None, real_origin: datetime | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.real_origin = real_origin or datetime.now(UTC)
        self.origin = origin or self.real_origin

    def now(self) -> datetime:
        return self.origin + (datetime.now(UTC) - self.real_origin) * self.speed

    def real_seconds_until(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds() / self.speed
