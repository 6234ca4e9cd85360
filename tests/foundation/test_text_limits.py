"""Every text a person types is bounded by one table (hackserver.foundation.text_limits): a text past its
field's limit is refused with a message naming the field and the limit, and nothing is stored.
One test for each way a text comes in: the bot's commands, the built-in channels, the API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from hackserver.foundation.models import ChannelMessage, HelpTicket, OutboxMessage, Participant, Team
from hackserver.foundation.text_limits import LIMITS, bounded
from hackserver.runtime import Runtime
from tests.bots.test_bot_commands import ORGANISER as ORGANISER_IDENTITY
from tests.bots.test_bot_commands import ask
from tests.fakes import ORGANISER, FakeClock
from tests.officehours.test_help_queue import our_team


def past(kind: str, filler: str = "x") -> str:
    return filler * (LIMITS[kind] + 1)


async def count(runtime: Runtime, model: Any) -> int:
    async with runtime.reading() as tx:
        return int(await tx.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_text_within_its_limit_is_kept_and_one_past_it_names_the_field_and_the_limit() -> None:
    assert bounded("question", "x" * 300) == "x" * 300
    with pytest.raises(Exception) as refused:
        bounded("question", "x" * 301)
    assert str(refused.value) == "The question has 301 characters; at most 300 are allowed."
    assert refused.value.say("de") == "Die Frage hat 301 Zeichen; höchstens 300 sind erlaubt."  # type: ignore[attr-defined]


async def test_an_over_long_team_name_creates_no_team(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    reply = await ask(runtime, f"team create {past('team_name')}", locale="en")
    assert not reply.ok and "The team name has 41 characters; at most 40 are allowed." in reply.text
    assert await count(runtime, Team) == 0


async def test_an_over_long_skill_changes_no_profile(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    reply = await ask(runtime, f"profile skills python, {past('skill')}", locale="en")
    assert not reply.ok and "A skill has 41 characters; at most 40 are allowed." in reply.text
    async with runtime.reading() as tx:
        assert (await tx.session.scalar(select(Participant.skills))) in ([], None)


async def test_an_over_long_wish_changes_no_profile(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    reply = await ask(runtime, f"profile skills python wants {past('interest')}", locale="en")
    assert not reply.ok and "A wish (wants) has 41 characters; at most 40 are allowed." in reply.text
    async with runtime.reading() as tx:
        assert (await tx.session.scalar(select(Participant.skills))) in ([], None)  # the whole command undone


async def test_an_over_long_help_request_is_not_queued(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    await our_team(runtime)
    question = " ".join(["Frage"] * 60)  # 359 characters
    reply = await ask(runtime, f"help-request law {question}", locale="en")
    assert not reply.ok and "The question has 359 characters; at most 300 are allowed." in reply.text
    topic = await ask(runtime, f"help-request {past('topic')} Eine kurze Frage", locale="en")
    assert not topic.ok and "The topic has 41 characters; at most 40 are allowed." in topic.text
    assert await count(runtime, HelpTicket) == 0


async def test_an_over_long_announcement_sends_nothing(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    runtime.event.organisers["discord"] = ("ORG1",)
    reply = await ask(runtime, f"announce {past('announcement')}", ORGANISER_IDENTITY, locale="en")
    assert not reply.ok and "The announcement has 2001 characters; at most 2000 are allowed." in reply.text
    assert await count(runtime, OutboxMessage) == 0


async def test_an_announcement_with_a_lone_surrogate_or_a_nul_sends_nothing(
    runtime_at: tuple[Runtime, FakeClock],
) -> None:
    # Neither has UTF-8 that a platform or PostgreSQL takes: every delivery failed into a dead letter.
    runtime, _ = runtime_at
    runtime.event.organisers["discord"] = ("ORG1",)
    for odd, code in (("\ud800", "U+D800"), ("\x00", "U+0000")):
        reply = await ask(runtime, f"announce Pizza {odd} im Foyer", ORGANISER_IDENTITY, locale="de")
        assert not reply.ok and f"ein Zeichen, das sich nicht speichern lässt ({code})" in reply.text
    assert await count(runtime, OutboxMessage) == 0


async def test_an_over_long_command_is_refused_before_it_runs(runtime_at: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = runtime_at
    reply = await ask(runtime, f"team create Luftretter {past('command')}", locale="en")
    assert not reply.ok and "A command has 2524 characters; at most 2500 are allowed." in reply.text
    assert await count(runtime, Team) == 0


def runtime_of(api: TestClient) -> Runtime:
    runtime: Runtime = api.app_state["runtime"]
    return runtime


def counted(api: TestClient, model: Any) -> int:
    return int(api.portal.call(count, runtime_of(api), model))  # type: ignore[union-attr]


def test_an_over_long_name_joins_nobody_to_the_channels(api: TestClient) -> None:
    reply = api.post(
        "/channels/join?lang=en", data={"name": past("display_name", "Ü")}, follow_redirects=False
    )
    assert reply.status_code == 400
    assert "The name has 61 characters; at most 60 are allowed." in reply.text
    assert counted(api, Participant) == 0


def test_an_over_long_chat_message_is_refused_and_not_kept(api: TestClient) -> None:
    joined = api.post("/channels/join?lang=en", data={"name": "Alice"}, follow_redirects=False)
    assert joined.status_code == 303
    bot_channel = joined.headers["location"].split("channel=")[1].split("&")[0]
    before = counted(api, ChannelMessage)
    reply = api.post(f"/channels/{bot_channel}/messages?lang=en", data={"text": past("message")})
    assert reply.status_code == 400
    assert reply.text == "The message has 2001 characters; at most 2000 are allowed."
    assert counted(api, ChannelMessage) == before


def test_an_over_long_announcement_through_the_api_is_refused_with_422(api: TestClient) -> None:
    reply = api.post("/api/v1/announcements", json={"text": past("announcement")}, headers=ORGANISER)
    assert reply.status_code == 422
    assert reply.json() == {"error": "The announcement has 2001 characters; at most 2000 are allowed."}
    assert counted(api, OutboxMessage) == 0


def test_an_over_long_juror_name_through_the_api_adds_no_juror(api: TestClient) -> None:
    reply = api.post("/api/v1/jurors", json={"jurors": [{"name": "x" * 121}]}, headers=ORGANISER)
    assert reply.status_code == 422 and "longer than 120 characters" in reply.text
    assert api.get("/api/v1/jurors", headers=ORGANISER).json()["jurors"] == []
