"""The event file: the example loads, and every mistake is reported with its field path and reason."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hackserver.foundation.errors import EventFileError
from hackserver.foundation.event import (
    PHASES,
    RelativeTime,
    format_duration,
    load_event,
    parse_duration,
    parse_event,
)
from tests.fakes import event_toml

EXAMPLE_EVENT = Path(__file__).resolve().parents[2] / "config" / "event.example.toml"
BERLIN = ZoneInfo("Europe/Berlin")
KICKOFF = datetime(2027, 3, 19, 18, 0, tzinfo=BERLIN)


def broken(*edits: tuple[str, str]) -> str:
    """The standard test event file with each `old` text replaced by `new` (each must occur once)."""
    text = event_toml(KICKOFF)
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the test event file"
        text = text.replace(old, new)
    return text


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EventFileError) as caught:
        load_event(path)
    assert caught.value.path == str(path)
    return caught.value.problems


def test_the_example_event_has_the_eight_phases_in_order() -> None:
    event = load_event(EXAMPLE_EVENT)
    assert tuple(event.phases) == PHASES
    assert len(event.phases) == 8
    instants = list(event.phases.values())
    assert instants == sorted(instants)


def test_the_example_kickoff_is_friday_evening_in_berlin_as_utc() -> None:
    event = load_event(EXAMPLE_EVENT)
    assert event.timezone.key == "Europe/Berlin"
    assert event.phases["kickoff"] == datetime(2027, 3, 19, 17, 0, tzinfo=UTC)
    assert event.phases["kickoff"].utcoffset() == timedelta(0)


def test_the_example_announcements_have_german_and_english_text() -> None:
    event = load_event(EXAMPLE_EVENT)
    assert event.languages == ("de", "en")
    assert event.default_language == "de"
    assert len(event.announcements) >= 10
    for announcement in event.announcements:
        assert set(announcement.texts) == {"de", "en"}, announcement.id
        assert all(text.strip() for text in announcement.texts.values()), announcement.id


def test_the_example_announcements_keep_their_relative_times_and_grace() -> None:
    event = load_event(EXAMPLE_EVENT)
    by_id = {announcement.id: announcement for announcement in event.announcements}
    assert by_id["deadline-10m"].at == RelativeTime("submission_deadline", -timedelta(minutes=10))
    assert by_id["deadline-10m"].too_late == timedelta(minutes=5)
    assert by_id["deadline-1h"].too_late == timedelta(minutes=15)  # the default
    assert by_id["registration-open"].at == RelativeTime("registration")


def test_the_example_teams_and_channels_are_read() -> None:
    event = load_event(EXAMPLE_EVENT)
    assert (event.team_min_size, event.team_max_size) == (2, 6)
    assert event.channels["builtin"] == {"announcements": "announcements"}
    assert event.channels["slack"] == {"announcements": "C0ANNOUNCE"}
    assert event.channels["discord"] == {"announcements": "100000000000000001"}


def test_parse_event_accepts_the_table_that_tomllib_reads() -> None:
    event = parse_event(tomllib.loads(event_toml(KICKOFF)))
    assert event.slug == "test-sprint"
    assert event.phases["kickoff"] == KICKOFF.astimezone(UTC)
    assert [a.id for a in event.announcements][:2] == ["kickoff", "team-formation-1h"]


def test_a_sprint_across_the_spring_daylight_saving_switch_lasts_48_real_hours() -> None:
    kickoff = datetime(2027, 3, 27, 18, 0, tzinfo=BERLIN)  # clocks jump forward on Sunday 2027-03-28
    event = parse_event(tomllib.loads(event_toml(kickoff)))
    assert event.phases["kickoff"] == datetime(2027, 3, 27, 17, 0, tzinfo=UTC)
    assert event.phases["submission_deadline"] == datetime(2027, 3, 29, 17, 0, tzinfo=UTC)


def test_a_repeated_wall_clock_time_is_accepted_with_its_utc_offset(tmp_path: Path) -> None:
    text = broken(("end = 2027-03-23T20:00:00", "end = 2027-10-31T02:30:00+01:00"))
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    assert load_event(path).phases["end"] == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)


def test_either_offset_of_a_repeated_wall_clock_time_is_the_zones_own(tmp_path: Path) -> None:
    text = broken(("end = 2027-03-23T20:00:00", "end = 2027-10-31T02:30:00+02:00"))
    assert parse_event(tomllib.loads(text)).phases["end"] == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


BROKEN_FILES = [
    pytest.param(
        [("end = 2027-03-23T20:00:00", "end = 2027-10-31T02:30:00+03:00")],
        "phases.end",
        "the offset +03:00 is not Europe/Berlin's at that instant (+02:00): write the local time "
        "without an offset, like 2027-10-31T01:30:00",
        id="offset-not-the-zones",
    ),
    pytest.param(
        [("end = 2027-03-23T20:00:00", "end = 2027-03-23T20:00:00Z")],
        "phases.end",
        "the offset +00:00 is not Europe/Berlin's at that instant (+01:00)",
        id="utc-offset-in-another-zone",
    ),
    pytest.param(
        [('at = "kickoff"', 'at = "kickof + 1h"')],
        "announcements[kickoff].at",
        "unknown phase 'kickof'",
        id="unknown-phase-in-relative-time",
    ),
    pytest.param(
        [("hacking = 2027-03-19T19:00:00", "hacking = 2027-03-19T17:00:00")],
        "phases.hacking",
        "must come after kickoff",
        id="phases-out-of-order",
    ),
    pytest.param(
        [('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlim"')],
        "event.timezone",
        "'Europe/Berlim' is not an IANA time zone",
        id="bad-time-zone",
    ),
    pytest.param(
        [('timezone = "Europe/Berlin"', 'timezone = "Europe"')],
        "event.timezone",
        "'Europe' is not an IANA time zone",
        id="time-zone-that-is-a-region-folder",
    ),
    pytest.param(
        [('en = "EN deadline-1h"\n', "")],
        "announcements[deadline-1h].text.en",
        "missing translation",
        id="missing-translation",
    ),
    pytest.param(
        [("max_size = 4", "max_sise = 4")],
        "teams.max_sise",
        "unknown field",
        id="unknown-field",
    ),
    pytest.param(
        [('de = "DE kickoff"', 'de = "DE kickoff"\nfr = "FR kickoff"')],
        "announcements[kickoff].text.fr",
        "unknown field",
        id="language-the-event-does-not-use",
    ),
    pytest.param(
        [("end = 2027-03-23T20:00:00", "end = 2027-03-28T02:30:00")],
        "phases.end",
        "2027-03-28 02:30 does not exist in Europe/Berlin (clocks jump forward)",
        id="wall-clock-time-that-does-not-exist",
    ),
    pytest.param(
        [("end = 2027-03-23T20:00:00", "end = 2027-10-31T02:30:00")],
        "phases.end",
        "2027-10-31 02:30 happens twice in Europe/Berlin; add the UTC offset",
        id="ambiguous-wall-clock-time",
    ),
    pytest.param(
        [('too_late = "5m"', 'too_late = "1 hour"')],
        "announcements[deadline-10m].too_late",
        "'1 hour' is not a duration like 10m, 1h, 1h30m or 2d",
        id="bad-duration",
    ),
    pytest.param(
        [('at = "submission_deadline - 1h"', 'at = "submission_deadline - 1x"')],
        "announcements[deadline-1h].at",
        "'1x' is not a duration",
        id="bad-offset-in-relative-time",
    ),
    pytest.param(
        [('at = "submission_deadline - 1h"', 'at = "one hour before the deadline"')],
        "announcements[deadline-1h].at",
        'expected a phase and an offset like "submission_deadline - 1h"',
        id="relative-time-that-is-not-one",
    ),
    pytest.param(
        [('id = "deadline-1h"', 'id = "deadline-24h"')],
        "announcements[deadline-24h].id",
        "used twice",
        id="duplicate-announcement-id",
    ),
    pytest.param(
        [("kickoff = 2027-03-19T18:00:00", "kickoff = 2027-03-19")],
        "phases.kickoff",
        "not only a date",
        id="date-without-time",
    ),
    pytest.param(
        [("kickoff = 2027-03-19T18:00:00", 'kickoff = "2027-03-19T18:00:00"')],
        "phases.kickoff",
        "(no quotes)",
        id="time-in-quotes",
    ),
    pytest.param(
        [("min_size = 2", "min_size = 5")],
        "teams.min_size",
        "is larger than teams.max_size (4)",
        id="min-size-above-max-size",
    ),
    pytest.param(
        [("min_size = 2", "min_size = 1"), ("max_size = 4", "max_size = 1")],
        "teams.max_size",
        "room for at least 2 people",
        id="teams-of-one",
    ),
    pytest.param(
        [("max_size = 4", "max_size = 4\nmatch_size = 5")],
        "teams.match_size",
        "must lie between teams.min_size and teams.max_size (4)",
        id="match-size-above-max-size",
    ),
    pytest.param(
        [('slug = "test-sprint"', 'slug = "Test Sprint!"')],
        "event.slug",
        "expected lowercase letters, digits and dashes",
        id="bad-slug",
    ),
]


@pytest.mark.parametrize(("edits", "field", "reason"), BROKEN_FILES)
def test_a_broken_event_file_names_the_field_and_the_reason(
    edits: list[tuple[str, str]], field: str, reason: str, tmp_path: Path
) -> None:
    problems = problems_of(broken(*edits), tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{field}: "), problems
    assert reason in problems[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = broken(
        ('at = "kickoff"', 'at = "kickof + 1h"'),
        ("hacking = 2027-03-19T19:00:00", "hacking = 2027-03-19T17:00:00"),
        ('en = "EN deadline-1h"\n', ""),
        ("max_size = 4", "max_sise = 4"),
        ('too_late = "5m"', 'too_late = "1 hour"'),
        ("end = 2027-03-23T20:00:00", "end = 2027-03-28T02:30:00"),
    )
    problems = problems_of(text, tmp_path)
    fields = sorted(problem.split(": ", 1)[0] for problem in problems)
    assert fields == sorted(
        [
            "announcements[kickoff].at",
            "phases.hacking",
            "announcements[deadline-1h].text.en",
            "teams.max_sise",
            "announcements[deadline-10m].too_late",
            "phases.end",
        ]
    )


def test_the_error_message_joins_the_file_and_all_its_problems(tmp_path: Path) -> None:
    text = broken(
        ("min_size = 2", "min_size = 5"), ('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"')
    )
    path = tmp_path / "event.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EventFileError) as caught:
        load_event(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "event.timezone: 'Mars/Olympus' is not an IANA time zone" in message
    assert "teams.min_size: is larger than teams.max_size (4)" in message


def test_a_bad_time_zone_in_a_dict_edited_file_is_reported() -> None:
    raw = tomllib.loads(event_toml(KICKOFF))
    raw["event"]["timezone"] = "Berlin"
    with pytest.raises(EventFileError) as caught:
        parse_event(raw, "edited.toml")
    assert caught.value.problems == ["event.timezone: 'Berlin' is not an IANA time zone like Europe/Berlin"]


def test_a_missing_phase_is_reported() -> None:
    raw = tomllib.loads(event_toml(KICKOFF))
    del raw["phases"]["judging"]
    with pytest.raises(EventFileError) as caught:
        parse_event(raw)
    assert caught.value.problems == ["phases.judging: missing"]


def test_a_file_that_is_not_toml_is_reported_as_such(tmp_path: Path) -> None:
    problems = problems_of("[event\nname = Civic Sprint\n", tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("not valid TOML: ")


def test_a_missing_event_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EventFileError) as caught:
        load_event(tmp_path / "nope.toml")
    assert caught.value.problems == ["file does not exist"]


@pytest.mark.parametrize("text", ["10m", "1h", "1h30m", "2d", "1d2h3m4s", "45s", "2d12h"])
def test_a_formatted_duration_reads_back_as_written(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    "delta",
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(minutes=90),
        timedelta(days=3, seconds=59),
        timedelta(hours=48),
    ],
)
def test_a_parsed_formatted_duration_is_the_same_duration(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("10min", timedelta(minutes=10)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts_the_documented_spellings(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "1 hour", "h", "-1h", "1.5h", "1h30", "30m1h", "1w"])
def test_parse_duration_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 10m, 1h, 1h30m or 2d"):
        parse_duration(text)


def test_a_relative_time_resolves_against_the_phases() -> None:
    deadline = datetime(2027, 3, 21, 17, 0, tzinfo=UTC)
    phases = {"kickoff": datetime(2027, 3, 19, 17, 0, tzinfo=UTC), "submission_deadline": deadline}
    assert RelativeTime("submission_deadline", -timedelta(hours=1)).resolve(phases) == deadline - timedelta(
        hours=1
    )
    assert RelativeTime("kickoff", timedelta(minutes=30)).resolve(phases) == datetime(
        2027, 3, 19, 17, 30, tzinfo=UTC
    )
    assert RelativeTime("submission_deadline").resolve(phases) == deadline


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        (RelativeTime("kickoff"), "kickoff"),
        (RelativeTime("submission_deadline", -timedelta(hours=1, minutes=30)), "submission_deadline - 1h30m"),
        (RelativeTime("awards", timedelta(days=1)), "awards + 1d"),
    ],
)
def test_a_relative_time_prints_as_it_is_written_in_the_file(relative: RelativeTime, text: str) -> None:
    assert str(relative) == text
    event = parse_event(tomllib.loads(event_toml(KICKOFF, announcements=(("x", text, None),))))
    assert event.announcements[0].at == relative


def test_the_example_office_hours_are_read() -> None:
    rules = load_event(EXAMPLE_EVENT).office_hours
    assert (rules.cutoff, rules.max_future_bookings, rules.reminder, rules.help_wait) == (
        timedelta(minutes=30), 2, timedelta(minutes=10), timedelta(minutes=10),
    )  # fmt: skip


def test_office_hours_default_when_the_table_is_absent() -> None:
    rules = parse_event(tomllib.loads(event_toml(KICKOFF))).office_hours
    assert (rules.cutoff, rules.max_future_bookings) == (timedelta(minutes=30), 2)


def test_bad_office_hours_are_all_reported_with_their_paths() -> None:
    text = (
        event_toml(KICKOFF)
        + '[office_hours]\ncutoff = "soon"\nmax_future_bookings = 0\nreminder = "2d"\ncolour = 1\n'
    )
    with pytest.raises(EventFileError) as error:
        parse_event(tomllib.loads(text))
    problems = "\n".join(error.value.problems)
    for path in (
        "office_hours.cutoff",
        "office_hours.max_future_bookings",
        "office_hours.reminder",
        "office_hours.colour",
    ):
        assert path in problems
