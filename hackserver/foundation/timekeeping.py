"""The event's notion of now: real time, or (in demo mode) real time sped up from an origin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    speed: float  # event seconds per real second

    def now(self) -> datetime: ...

    def real_seconds_until(self, instant: datetime) -> float: ...


class EventClock:
    def __init__(self, speed: float = 1.0, origin: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.real_origin = datetime.now(UTC)
        self.origin = origin or self.real_origin

    def now(self) -> datetime:
        return self.origin + (datetime.now(UTC) - self.real_origin) * self.speed

    def real_seconds_until(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds() / self.speed
