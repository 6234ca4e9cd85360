"""The event file: one TOML file describes a sprint. `load_event` validates all of it at once."""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hackserver.foundation import i18n
from hackserver.foundation.errors import EventFileError, Unreadable
from hackserver.foundation.event_forms import (
    DEFAULT_FORM,
    DEFAULT_RUBRIC,
    FormsParser,
    Rubric,
    SubmissionForm,
)

# The instants at which each phase begins, in the order they must come.
PHASES = (
    "registration",
    "kickoff",
    "hacking",
    "team_formation_close",
    "submission_deadline",
    "judging",
    "awards",
    "end",
)
PLATFORMS = ("builtin", "slack", "discord", "webhook")
DEFAULT_TOO_LATE = timedelta(minutes=15)

_DURATION = re.compile(r"(?:([0-9]{1,9})d)?(?:([0-9]{1,9})h)?(?:([0-9]{1,9})(?:m|min))?(?:([0-9]{1,9})s)?")
# Longer is a typo, and an instant moved by it could leave the calendar (datetime ends in year 9999).
MAX_DURATION = timedelta(days=3650)
_RELATIVE = re.compile(r"^\s*([a-z_]+)\s*(?:([+-])\s*(\S+))?\s*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class RelativeTime:
    phase: str
    offset: timedelta = timedelta(0)

    def resolve(self, phases: dict[str, datetime]) -> datetime:
        return phases[self.phase] + self.offset

    def __str__(self) -> str:
        if not self.offset:
            return self.phase
        sign = "-" if self.offset < timedelta(0) else "+"
        return f"{self.phase} {sign} {format_duration(abs(self.offset))}"


@dataclass(frozen=True)
class Announcement:
    id: str
    at: RelativeTime
    texts: dict[str, str]
    channel: str = "announcements"
    too_late: timedelta = DEFAULT_TOO_LATE


@dataclass(frozen=True)
class OfficeHours:
    cutoff: timedelta = timedelta(minutes=30)  # no booking, cancelling or rescheduling closer to a slot
    max_future_bookings: int = 2  # a team's live bookings of slots still to come
    reminder: timedelta = timedelta(minutes=10)  # before a slot, to the team and the expert
    help_wait: timedelta = timedelta(minutes=10)  # an unclaimed help request goes to every expert then


@dataclass(frozen=True)
class Event:
    slug: str
    name: str
    timezone: ZoneInfo
    languages: tuple[str, ...]
    phases: dict[str, datetime]  # UTC, as planned in the file
    team_min_size: int
    team_max_size: int
    channels: dict[str, dict[str, str]]  # platform -> logical channel -> platform channel id
    announcements: tuple[Announcement, ...] = field(default=())
    organisers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # platform -> user ids
    team_match_size: int = 5  # the size matching aims for, within the limits
    command_limit: tuple[int, timedelta] = (
        10,
        timedelta(seconds=10),
    )  # commands a person may send per window
    office_hours: OfficeHours = field(default_factory=OfficeHours)
    submission: SubmissionForm = DEFAULT_FORM
    jury: Rubric = DEFAULT_RUBRIC
    signup_limit: int = 20  # new accounts of the built-in channels per client address in 10 minutes

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def shifted(self, delta: timedelta) -> Event:
        return replace(self, phases={name: at + delta for name, at in self.phases.items()})


def load_event(path: Path) -> Event:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EventFileError(str(path), ["file does not exist"]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise EventFileError(str(path), [f"not valid TOML: {error}"]) from None
    return parse_event(raw, str(path))


def parse_event(raw: dict[str, Any], source: str = "<event>") -> Event:
    problems: list[str] = []
    event = _Parser(problems).event(raw)
    if problems or event is None:
        raise EventFileError(source, problems)
    return event


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip().replace(" ", ""))
    if not text.strip() or not match or not any(match.groups()):
        raise Unreadable("duration.bad", text=text.strip()[:40])
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration > MAX_DURATION:
        raise Unreadable("duration.too_long", text=text.strip()[:40], days=MAX_DURATION.days)
    return duration


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone` as UTC; refuses times a daylight-saving switch skips or repeats."""
    try:
        if local.tzinfo is not None:
            return local.astimezone(UTC)
        first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
        first.astimezone(UTC)  # raises when the instant falls outside the calendar
    except OverflowError:
        raise Unreadable("time.outside", at=f"{local:%Y-%m-%d %H:%M}") from None
    if first.utcoffset() != second.utcoffset():
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        said = {"at": f"{local:%Y-%m-%d %H:%M}", "zone": zone.key}
        raise Unreadable("time.skipped" if back != local else "time.repeated", **said)
    return first.astimezone(UTC)


EXTRA_CHANNEL_KEYS = {"discord": ("guild",), "slack": ("team_channels",)}


def _offset(at: datetime) -> str:
    """`+03:00`, `-04:30`, `+00:00` (Z)."""
    minutes = int((at.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Parser:
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(f"{path}: {reason}")

    def table(self, raw: Any, path: str, known: set[str]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(path, "expected a table")
            return {}
        for key in raw.keys() - known:
            self.fail(f"{path}.{key}" if path else key, "unknown field")
        return raw

    def text(self, raw: dict[str, Any], key: str, path: str, max_length: int = 2000) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}.{key}", "expected a non-empty text" if key in raw else "missing")
            return ""
        if len(value) > max_length:
            self.fail(f"{path}.{key}", f"longer than {max_length} characters")
        return value.strip()

    def event(self, raw: dict[str, Any]) -> Event | None:
        raw = self.table(
            raw,
            "",
            {
                "event",
                "phases",
                "teams",
                "channels",
                "announcements",
                "organisers",
                "limits",
                "office_hours",
                "submission",
                "jury",
            },
        )
        head = self.table(raw.get("event", {}), "event", {"slug", "name", "timezone", "languages"})
        slug = self.text(head, "slug", "event", 63)
        if slug and not _SLUG.match(slug):
            self.fail("event.slug", "expected lowercase letters, digits and dashes, like wirvsvirus-2027")
        name = self.text(head, "name", "event", 200)
        zone = self.timezone(head.get("timezone"))
        languages = self.languages(head.get("languages"))
        phases = self.phases(raw.get("phases"), zone)
        team_min, team_max, team_match = self.teams(raw.get("teams", {}))
        channels = self.channels(raw.get("channels", {}))
        announcements = self.announcements(raw.get("announcements", []), phases, languages, channels)
        organisers = self.organisers(raw.get("organisers", {}))
        command_limit, signup_limit = self.limits(raw.get("limits", {}))
        office_hours = self.office_hours(raw.get("office_hours", {}))
        forms = FormsParser(self.fail, languages, parse_duration)
        submission, jury = forms.submission(raw.get("submission")), forms.jury(raw.get("jury"))
        if self.problems or zone is None:
            return None
        return Event(
            slug,
            name,
            zone,
            languages,
            phases,
            team_min,
            team_max,
            channels,
            announcements,
            organisers,
            team_match,
            command_limit,
            office_hours,
            submission,
            jury,
            signup_limit,
        )

    def timezone(self, value: Any) -> ZoneInfo | None:
        if not isinstance(value, str):
            self.fail("event.timezone", "missing; expected an IANA time zone like Europe/Berlin")
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory like "Europe"
            self.fail("event.timezone", f"{value!r} is not an IANA time zone like Europe/Berlin")
            return None

    def languages(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail("event.languages", 'expected a list of language codes like ["de", "en"]')
            return ()
        bad = [v for v in value if not isinstance(v, str) or not _LANGUAGE.match(v)]
        if bad:
            self.fail("event.languages", f"{bad[0]!r} is not a two-letter language code")
        shipped = i18n.languages()
        if missing := [v for v in value if v not in bad and v not in shipped]:
            self.fail(
                "event.languages",
                f"{missing[0]!r} has no message catalogue (hackserver/locale/{missing[0]}); there are: "
                + ", ".join(shipped),
            )
        if len(set(value)) != len(value):
            self.fail("event.languages", "a language is listed twice")
        return tuple(v for v in value if isinstance(v, str))

    def phases(self, raw: Any, zone: ZoneInfo | None) -> dict[str, datetime]:
        raw = self.table(raw if raw is not None else {}, "phases", set(PHASES))
        phases: dict[str, datetime] = {}
        for name in PHASES:
            value = raw.get(name)
            path = f"phases.{name}"
            if value is None:
                self.fail(path, "missing")
            elif isinstance(value, datetime):
                if zone is not None and value.tzinfo is not None and not self.zone_offset(value, zone, path):
                    continue
                if zone is not None or value.tzinfo is not None:
                    try:
                        phases[name] = to_utc(value, zone) if zone else value.astimezone(UTC)
                    except ValueError as error:
                        self.fail(path, str(error))
            elif isinstance(value, date):
                self.fail(path, "expected a date and time like 2027-03-19T18:00:00, not only a date")
            else:
                self.fail(path, "expected a date and time like 2027-03-19T18:00:00 (no quotes)")
        named = [(n, phases[n]) for n in PHASES if n in phases]
        for (before, at_before), (after, at_after) in itertools.pairwise(named):
            if at_after <= at_before:
                self.fail(
                    f"phases.{after}",
                    f"must come after {before}; phases are in the order {', '.join(PHASES)}",
                )
        return phases

    def zone_offset(self, value: datetime, zone: ZoneInfo, path: str) -> bool:
        """Whether an explicit offset is the zone's own at that instant; a wrong one would silently
        move the phase by the difference."""
        try:
            local = value.astimezone(zone)
        except OverflowError:
            return True  # to_utc says that the instant is outside the calendar
        if local.utcoffset() == value.utcoffset():
            return True
        self.fail(
            path,
            f"the offset {_offset(value)} is not {zone.key}'s at that instant ({_offset(local)}): "
            f"write the local time without an offset, like {local:%Y-%m-%dT%H:%M:%S}",
        )
        return False

    def teams(self, raw: Any) -> tuple[int, int, int]:
        raw = self.table(raw, "teams", {"min_size", "max_size", "match_size"})
        sizes: list[int] = []
        for key, default in (("min_size", 2), ("max_size", 5), ("match_size", None)):
            if default is None:  # matching aims for the largest size unless told otherwise
                default = sizes[1]
            value = raw.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
                self.fail(f"teams.{key}", "expected a whole number from 1 to 50")
                value = default
            sizes.append(value)
        if sizes[1] < 2:
            self.fail("teams.max_size", "a team has room for at least 2 people")
        elif sizes[0] > sizes[1]:
            self.fail("teams.min_size", f"is larger than teams.max_size ({sizes[1]})")
        elif not sizes[0] <= sizes[2] <= sizes[1]:
            self.fail("teams.match_size", f"must lie between teams.min_size and teams.max_size ({sizes[1]})")
        return sizes[0], sizes[1], sizes[2]

    def limits(self, raw: Any) -> tuple[tuple[int, timedelta], int]:
        """The command limit (commands, window) and the sign-ups per address in 10 minutes."""
        raw = self.table(raw, "limits", {"commands", "per", "signups"})
        commands, per, signups = raw.get("commands", 10), raw.get("per", "10s"), raw.get("signups", 20)
        if not isinstance(commands, int) or isinstance(commands, bool) or not 1 <= commands <= 100_000:
            self.fail("limits.commands", "expected a whole number from 1 to 100000")
            commands = 10
        if not isinstance(signups, int) or isinstance(signups, bool) or not 1 <= signups <= 100_000:
            self.fail("limits.signups", "expected a whole number from 1 to 100000")
            signups = 20
        try:
            window = parse_duration(str(per))
        except ValueError as error:
            self.fail("limits.per", str(error))
            window = timedelta(seconds=10)
        if not timedelta(seconds=1) <= window <= timedelta(hours=1):
            self.fail("limits.per", "expected a duration from 1s to 1h")
        return (commands, window), signups

    def channels(self, raw: Any) -> dict[str, dict[str, str]]:
        raw = self.table(raw, "channels", set(PLATFORMS))
        channels: dict[str, dict[str, str]] = {"builtin": {"announcements": "announcements"}}
        for platform, table in raw.items():
            if platform not in PLATFORMS:
                continue
            # Discord also names the guild (server) that team channels are made in; Slack whether
            # they are private (the default) or public.
            known = {"announcements", *EXTRA_CHANNEL_KEYS.get(platform, ())}
            table = self.table(table, f"channels.{platform}", known)
            for logical, channel in table.items():
                digits = isinstance(channel, str) and channel.strip().isascii() and channel.strip().isdigit()
                if (platform, logical) == ("discord", "guild") and not digits:
                    self.fail("channels.discord.guild", 'expected the guild id in quotes, like "29092679862"')
                elif (platform, logical) == ("slack", "team_channels") and channel not in (
                    "private",
                    "public",
                ):
                    self.fail("channels.slack.team_channels", 'expected "private" or "public"')
                elif not isinstance(channel, str) or not channel.strip():
                    self.fail(f"channels.{platform}.{logical}", "expected a channel name or id")
                else:
                    channels.setdefault(platform, {})[logical] = channel.strip()
        return channels

    def office_hours(self, raw: Any) -> OfficeHours:
        raw = self.table(raw, "office_hours", {"cutoff", "max_future_bookings", "reminder", "help_wait"})
        default = OfficeHours()
        durations = {}
        for key, low, high in (
            ("cutoff", timedelta(0), timedelta(days=1)),
            ("reminder", timedelta(minutes=1), timedelta(hours=6)),
            ("help_wait", timedelta(minutes=1), timedelta(hours=6)),
        ):
            durations[key] = getattr(default, key)
            if key in raw:
                try:
                    value = parse_duration(str(raw[key]))
                except ValueError as error:
                    self.fail(f"office_hours.{key}", str(error))
                    continue
                if not low <= value <= high:
                    self.fail(
                        f"office_hours.{key}",
                        f"expected from {format_duration(low)} to {format_duration(high)}",
                    )
                    continue
                durations[key] = value
        limit = raw.get("max_future_bookings", default.max_future_bookings)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
            self.fail("office_hours.max_future_bookings", "expected a whole number from 1 to 50")
            limit = default.max_future_bookings
        return OfficeHours(durations["cutoff"], limit, durations["reminder"], durations["help_wait"])

    def organisers(self, raw: Any) -> dict[str, tuple[str, ...]]:
        raw = self.table(raw, "organisers", set(PLATFORMS) - {"builtin"})
        result = {}
        for platform, ids in raw.items():
            if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
                self.fail(f"organisers.{platform}", 'expected a list of user ids like ["U0123ABCD"]')
                continue
            result[platform] = tuple(i.strip() for i in ids)
        return result

    def announcements(
        self,
        raw: Any,
        phases: dict[str, datetime],
        languages: tuple[str, ...],
        channels: dict[str, dict[str, str]],
    ) -> tuple[Announcement, ...]:
        if not isinstance(raw, list):
            self.fail("announcements", "expected a list of [[announcements]] tables")
            return ()
        result, seen = [], set()
        for index, item in enumerate(raw):
            path = f"announcements[{index}]"
            item = self.table(item, path, {"id", "at", "text", "channel", "too_late"})
            ident = self.text(item, "id", path, 80)
            if ident:
                path = f"announcements[{ident}]"
                if ident in seen:
                    self.fail(f"{path}.id", "used twice")
                seen.add(ident)
            at = self.relative_time(item.get("at"), f"{path}.at", phases)
            texts = self.table(item.get("text", {}), f"{path}.text", set(languages))
            for language in languages:
                if not isinstance(texts.get(language), str) or not texts[language].strip():
                    self.fail(f"{path}.text.{language}", "missing translation")
            channel = item.get("channel", "announcements")
            if channel not in channels["builtin"]:
                self.fail(
                    f"{path}.channel", f"unknown channel {channel!r}; known: {', '.join(channels['builtin'])}"
                )
            too_late = DEFAULT_TOO_LATE
            if "too_late" in item:
                try:
                    too_late = parse_duration(str(item["too_late"]))
                except ValueError as error:
                    self.fail(f"{path}.too_late", str(error))
            if at is not None:
                result.append(
                    Announcement(ident, at, {k: v.strip() for k, v in texts.items()}, channel, too_late)
                )
        return tuple(result)

    def relative_time(self, value: Any, path: str, phases: dict[str, datetime]) -> RelativeTime | None:
        match = _RELATIVE.match(value) if isinstance(value, str) else None
        if match is None:
            self.fail(path, 'expected a phase and an offset like "submission_deadline - 1h"')
            return None
        phase, sign, amount = match.groups()
        if phase not in PHASES:
            self.fail(path, f"unknown phase {phase!r}; phases are {', '.join(PHASES)}")
            return None
        offset = timedelta(0)
        if amount is not None:
            try:
                offset = parse_duration(amount) * (-1 if sign == "-" else 1)
            except ValueError as error:
                self.fail(path, str(error))
                return None
        return RelativeTime(phase, offset)
