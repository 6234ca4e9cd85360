"""The dashboard's recent activity in words: what happened, with names and counts as a person says
them, at the event's own time, in each language of the event; never an event's internals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hackserver.foundation.bus import DomainEvent
from hackserver.web.dashboard_feed import describe, entry

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2027, 3, 19, 17, 20, tzinfo=UTC)  # Friday 18:20 in Berlin


def said(kind: str, language: str = "en", **data: object) -> str:
    return describe(DomainEvent(kind, data, AT), BERLIN, language)


def test_an_announcement_skipped_as_too_late_says_which_when_and_how_late() -> None:
    due = AT - timedelta(days=7, hours=9, seconds=31.8)
    line = said(
        "clock.skipped", key="announcement:kickoff-soon", instant=due.isoformat(), late="7 days, 9:00:31.8"
    )
    assert (
        line
        == "Not sent, 7 days, 9 hours too late: scheduled announcement “kickoff-soon”, due Fri 12 Mar, 09:19"
    )


def test_in_german_the_same_line_says_its_durations_and_times_as_german_does() -> None:
    due = AT - timedelta(days=7, hours=9, seconds=31.8)
    line = said("clock.skipped", "de", key="announcement:kickoff-soon", instant=due.isoformat())
    assert line == (
        "Nicht gesendet, 7 Tage, 9 Stunden zu spät: geplante Ankündigung „kickoff-soon“, fällig Fr., 12. März, 09:19"
    )


@pytest.mark.parametrize(
    ("kind", "data", "line"),
    [
        (
            "team.joined",
            {"team": 4, "name": "Owls", "participant": 9, "size": 1},
            "Someone joined team “Owls”, now 1 member",
        ),
        (
            "team.left",
            {"team": 4, "name": "Owls", "participant": 9, "size": 2},
            "Someone left team “Owls”, now 2 members",
        ),
        (
            "team.dissolved",
            {"team": 4, "name": "Owls", "why": "empty"},
            "Team “Owls” is gone: its last member left",
        ),
        (
            "phase.changed",
            {"phase": "team_formation_close", "instant": AT.isoformat()},
            "Phase began: Team formation closes",
        ),
        (
            "phase.shifted",
            {"phase": "submission_deadline", "by": "+30m", "phases": {}},
            "Moved by +30m: Submission deadline",
        ),
        (
            "announcement.sent",
            {"id": "hacking-starts", "instant": AT.isoformat()},
            "Scheduled announcement “hacking-starts” sent",
        ),
        (
            "matching.done",
            {"run": 1, "teams": 1, "placed": 1, "alone": 0},
            "Matching: 1 new team, 1 person placed in an open team, 0 left without a team",
        ),
        (
            "help.claimed",
            {
                "ticket": 1,
                "team": 4,
                "name": "Owls",
                "expert": 2,
                "expert_name": "Dr. Anna Schäfer",
                "waited_seconds": 61.5,
            },
            "Dr. Anna Schäfer took the question of team “Owls” (waited 1 minute, 1 second)",
        ),
        (
            "submission.saved",
            {"team": 4, "name": "Owls", "version": 3, "status": "draft"},
            "Team “Owls” saved a draft (version 3)",
        ),
        ("booking.reminded.someday", {"booking": 1}, "Booking reminded someday"),  # a kind not known yet
        ("team.joined", {"team": 4}, "Team joined"),  # without the data its line needs
    ],
)
def test_each_event_is_a_sentence_without_internals(kind: str, data: dict[str, object], line: str) -> None:
    assert said(kind, **data) == line
    assert "=" not in line and "_" not in line


def test_an_entry_carries_the_events_own_time() -> None:
    shown = entry(7, DomainEvent("match.pool_joined", {"participant": 3}, AT), BERLIN, ("de", "en"))
    assert shown == {
        "n": 7, "at": "2027-03-19T17:20:00+00:00", "kind": "match.pool_joined",
        "local": {"de": "Fr., 18:20:00", "en": "Fri 18:20:00"},
        "text": {"de": "Jemand ist jetzt im Matching-Pool", "en": "Someone joined the matching pool"},
    }  # fmt: skip
