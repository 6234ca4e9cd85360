"""A German reader gets German: every reply to bad input, every usage hint and its placeholders, from
every command, through the message catalogue (nothing in English passed off as German)."""

from __future__ import annotations

import re

import pytest

from bots.commands import Bot, Invocation, Reply
from hackserver.foundation.i18n import say
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests.fakes import FakeClock

ALICE = Identity("slack", "T1", "UALICE", "alice")
BOB = Identity("slack", "T1", "UBOB", "bob")  # in no team
ORGANISER = Identity("discord", "G1", "ORG1", "orga")

PARTICIPANT_INPUT = [
    "profile colour blue",
    "profile skills",
    "profile langs xx",
    "profile tz Mars/Olympus",
    "link a b",
    "team create",
    "team join",
    "team join a b",
    "team create Mappers",  # already in one
    "challenge pick",
    "challenge pick C99",
    "help-request law",
    "announce hello",
    "xyzzy",
    "profil skills python",
]
TEAMLESS_INPUT = ["experts law", "help-request law why", "submit", "team leave", "team info"]
ORGANISER_INPUT = [
    "match run abc",
    "assignment run x",
    "extend ABC",
    "extend ABC +1h",
    "extend {code} abc",
    "extend {code} 99999999999d",
    "phase shift kickoff abc",
    "phase shift nothing +1h",
    "phase shift kickoff",
    "phase xyz",
    "announce",
]


async def ask(runtime: Runtime, who: Identity, text: str, language: str) -> Reply:
    reply = await Bot(runtime).handle(Invocation(who, text, locale=language))
    assert reply is not None
    return reply


@pytest.fixture
async def runtime(runtime_at: tuple[Runtime, FakeClock]) -> Runtime:
    runtime, _ = runtime_at
    runtime.event.organisers["discord"] = ("ORG1",)
    assert (await ask(runtime, ALICE, "team create Mappers", "de")).ok
    return runtime


def placeholders(text: str) -> set[str]:
    """The `<…>` of a usage that are words (not examples such as <de,en> or <+15m>)."""
    return {p for p in re.findall(r"<[^>]+>", text) if re.search(r"[A-Za-z]{3}", p)}


async def answers(runtime: Runtime, who: Identity, text: str) -> tuple[Reply, Reply]:
    if "{code}" in text:
        info = await ask(runtime, ALICE, "team info", "en")
        text = text.format(code=dict(info.fields)["Join code"])
    return await ask(runtime, who, text, "de"), await ask(runtime, who, text, "en")


def assert_german(german: Reply, english: Reply) -> None:
    assert not german.ok and not english.ok
    assert german.text != say("de", "failed")  # refused, not broken
    # Each line is one text of the catalogue (or a problem and a usage hint): none may be the English one.
    assert not set(german.text.splitlines()) & set(english.text.splitlines()), german.text
    assert not placeholders(german.text) & placeholders(english.text)


@pytest.mark.parametrize("text", PARTICIPANT_INPUT)
async def test_a_participants_bad_input_is_answered_in_german(runtime: Runtime, text: str) -> None:
    assert_german(*await answers(runtime, ALICE, text))


@pytest.mark.parametrize("text", TEAMLESS_INPUT)
async def test_bad_input_of_someone_in_no_team_is_answered_in_german(runtime: Runtime, text: str) -> None:
    assert_german(*await answers(runtime, BOB, text))


@pytest.mark.parametrize("text", ORGANISER_INPUT)
async def test_an_organisers_bad_input_is_answered_in_german(runtime: Runtime, text: str) -> None:
    assert_german(*await answers(runtime, ORGANISER, text))


async def test_a_bad_duration_is_explained_in_german(runtime: Runtime) -> None:
    german, _ = await answers(runtime, ORGANISER, "phase shift kickoff abc")
    assert german.text.splitlines() == [
        "'abc' ist keine Dauer wie 10m, 1h, 1h30m oder 2d",
        "So geht's: `/hack phase [shift <Phase> <+30m|-10m>]`",
    ]


async def test_german_help_writes_the_placeholders_in_german(runtime: Runtime) -> None:
    german = await ask(runtime, ORGANISER, "help", "de")
    assert "`team create <Name>`" in german.text and "`help-request <Thema> <Frage>" in german.text
    assert "`extend <Beitrittscode des Teams> <+15m>`" in german.text
    assert not {"<name>", "<topic>", "<question>", "<code>", "<text>", "<phase>"} & placeholders(german.text)
