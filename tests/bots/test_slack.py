"""Slack: signed requests as Slack builds them, Block Kit answers within 3 s, retries run once,
Socket Mode, and delivery to a fake Slack Web API under 429s, 5xx and per-channel pacing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from bots import slack, slack_render
from bots.core import COMMANDS, Context, Reply, command
from bots.slack_delivery import ChannelPacer, SlackSender, marker
from hackserver.app import create_app
from hackserver.foundation import outbox
from hackserver.foundation.models import (
    AuditEntry,
    HandledRequest,
    HelpTicket,
    OutboxMessage,
    Participant,
    PlatformIdentity,
    Team,
)
from hackserver.foundation.outbox import DeliveryFailed, Outgoing
from hackserver.foundation.ratelimit import MemoryLimit
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from tests.dbstate import migrate, queue_messages, settled_outbox
from tests.fake_slack import FakeSlack, FakeSocketMode, Post
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
ACK_LIMIT = 3.0  # Slack's


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Slack sends them: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={signature}"}


def command_body(
    text: str, *, user: str = "U1", trigger: str = "13345224609.738474920.8088", **extra: str
) -> str:
    fields = {
        "token": "unused",
        "team_id": "T1",
        "team_domain": "sprint",
        "channel_id": "C1",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/hack",
        "text": text,
        "api_app_id": "A1",
        "response_url": "https://hooks.slack.com/commands/T1/1/none",
        "trigger_id": trigger,
        **extra,
    }
    return urlencode(fields)


def event_body(text: str, *, event_id: str = "Ev1", user: str = "U1", **event: Any) -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "api_app_id": "A1",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": "D1",
                "user": user,
                "text": text,
                **event,
            },
        }
    )


async def counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Participant, HandledRequest, OutboxMessage, AuditEntry)
        }


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    async with serving(fake.app, port()) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


def api_url(fake: FakeSlack) -> str:
    return f"{fake.url}/api/"


@pytest.fixture
async def settings(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, fake_slack: FakeSlack
) -> Settings:
    settings = Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        slack_signing_secret=SECRET,
        slack_bot_token=TOKEN,
        slack_api_url=api_url(fake_slack),
    )
    if not settings.is_sqlite:  # the app migrates SQLite itself; PostgreSQL is migrated by a deploy step
        await migrate(database_url)
    return settings


@pytest.fixture
async def server(settings: Settings, kickoff: datetime) -> AsyncIterator[uvicorn.Server]:
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, port()) as server:
        runtime_of(server).event.organisers["slack"] = ("UORG",)
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


async def post_command(client: httpx.AsyncClient, body: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/slack/commands",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body), **headers},
    )


async def post_event(client: httpx.AsyncClient, body: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **signed(body), **headers}
    )


# -- requests from Slack ----------------------------------------------------------------------


async def test_help_is_answered_in_block_kit_within_3_seconds(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    response = await post_command(client, command_body("help"))
    assert time.perf_counter() - started < ACK_LIMIT
    assert response.status_code == 200
    message = response.json()
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "So funktioniert /hack", "emoji": True},
    }
    assert "`team create &lt;Name&gt;`" in message["blocks"][1]["text"]["text"]  # mrkdwn, escaped
    assert "team create &lt;Name&gt;" in message["text"]  # the fallback for notifications


async def test_status_is_answered_with_phase_and_team_as_block_kit_fields(client: httpx.AsyncClient) -> None:
    response = await post_command(client, command_body("status"))
    blocks = response.json()["blocks"]
    assert blocks[0]["text"]["text"] == "Test Sprint: Kickoff"
    assert blocks[1]["text"]["text"].startswith("Hacking in 40 min")
    assert blocks[2]["fields"][0]["text"].startswith("*Team*\n")


async def test_a_team_formed_by_slash_commands_gets_its_slack_channel_with_both_members(
    client: httpx.AsyncClient, server: uvicorn.Server, fake_slack: FakeSlack
) -> None:
    created = (await post_command(client, command_body("team create Luftretter", user="UA1"))).json()
    code = created["text"].split("`")[1]  # "… Beitrittscode: `K7QX2P` …"
    joined = await post_command(client, command_body(f"team join {code}", user="UA2"))
    assert "Luftretter" in joined.json()["text"]
    duplicate = (await post_command(client, command_body("team create luftretter", user="UA3"))).json()
    assert "Luftretter" in duplicate["text"] and "vergeben" in duplicate["text"]
    await settled_outbox(runtime_of(server))
    channel = fake_slack.channel(f"team-luftretter-{code.lower()}")
    assert channel.members >= {"UA1", "UA2"} and len(fake_slack.called("conversations.create")) == 1
    texts = [post.text for post in fake_slack.posts_to(channel.id)]
    assert any(code in text and "ua1" in text for text in texts)  # the welcome, with the join code
    assert any("ua2" in text for text in texts[1:])  # then who joined


async def test_slacks_escaping_is_decoded_on_the_way_in_and_applied_once_on_the_way_out(
    client: httpx.AsyncClient, server: uvicorn.Server, fake_slack: FakeSlack
) -> None:
    created = (await post_command(client, command_body("team create R&amp;D Labs", user="UA1"))).json()
    assert "R&amp;D Labs" in created["text"] and "&amp;amp;" not in json.dumps(created)
    await post_event(
        client,
        event_body("help-request law A &amp; B when x &lt; 5? See <https://x.org/a?b=1&amp;c=2>", user="UA1"),
    )
    await settled_outbox(runtime_of(server))
    async with runtime_of(server).sessions() as session:
        assert [t.name for t in await session.scalars(select(Team))] == ["R&D Labs"]
        (ticket,) = await session.scalars(select(HelpTicket))
    assert ticket.question == "A & B when x < 5? See https://x.org/a?b=1&c=2"


@pytest.mark.parametrize(
    ("slack_sent", "typed"),
    [
        ("<#C024BE7LR|general> &amp; <!here>", "#general & @here"),
        ("<mailto:ada@example.org|ada@example.org>", "ada@example.org"),
        ("&amp;lt; stays", "&lt; stays"),  # someone typed "&lt;"
        ("a <https://example.org|example.org> link", "a https://example.org link"),
    ],
)
def test_slack_text_reads_as_it_was_typed(slack_sent: str, typed: str) -> None:
    assert slack.decoded(slack_sent) == typed


@pytest.mark.parametrize("tail", ["&", "<", ">"])
def test_a_long_text_is_not_cut_inside_an_entity(tail: str) -> None:
    for filler in range(2990, 3000):  # the cut falls on every position of the entity
        message = slack_render.render(Reply("x" * filler + tail * 3))
        for text in [
            message["text"],
            *(b["text"]["text"] for b in message["blocks"] if b["type"] == "section"),
        ]:
            assert len(text) <= 3000 and text.count("&") == text.count(";"), text[-8:]


async def test_a_display_name_reaches_the_pages_without_bidi_overrides_or_nul(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    # U+202E turns "Mallory" around on the jury page; a NUL is refused by PostgreSQL on every command.
    body = command_body("status", user="UBIDI", user_name="\u202eMal\u200blory\u2066\x00 \ufeffX")
    assert (await post_command(client, body)).status_code == 200
    again = body.replace("trigger_id=13345224609", "trigger_id=23345224609")
    assert (await post_command(client, again)).json()["blocks"][0]["text"]["text"] == "Test Sprint: Kickoff"
    async with runtime_of(server).sessions() as session:
        names = (await session.execute(select(Participant.display_name, PlatformIdentity.user_name).join(
            PlatformIdentity).where(PlatformIdentity.user_id == "UBIDI"))).all()  # fmt: skip
    assert [tuple(n) for n in names] == [("Mallory X", "Mallory X")]


def _wrong_signature(body: str) -> tuple[str, dict[str, str]]:
    return body, signed(body, secret="not-the-secret")


def _stale(body: str) -> tuple[str, dict[str, str]]:
    return body, signed(body, timestamp=int(time.time()) - 6 * 60)


def _changed_after_signing(body: str) -> tuple[str, dict[str, str]]:
    return body.replace("announce", "announce+changed"), signed(body)


def _no_signature(body: str) -> tuple[str, dict[str, str]]:
    return body, {k: v for k, v in signed(body).items() if k != "X-Slack-Signature"}


def _no_timestamp(body: str) -> tuple[str, dict[str, str]]:
    return body, {k: v for k, v in signed(body).items() if k != "X-Slack-Request-Timestamp"}


@pytest.mark.parametrize(
    "forge", [_wrong_signature, _stale, _changed_after_signing, _no_signature, _no_timestamp]
)
async def test_a_request_not_signed_by_slack_is_refused_with_401_and_changes_nothing(
    server: uvicorn.Server,
    client: httpx.AsyncClient,
    forge: Callable[[str], tuple[str, dict[str, str]]],
) -> None:
    body, headers = forge(command_body("announce Free pizza", user="UORG"))
    response = await client.post(
        "/slack/commands",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing Slack signature"}
    assert await counts(runtime_of(server)) == dict.fromkeys(
        ("Participant", "HandledRequest", "OutboxMessage", "AuditEntry"), 0
    )


async def test_a_retried_command_that_was_handled_does_not_run_again(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    body = command_body("announce Free pizza", user="UORG")
    first = await post_command(client, body)
    assert first.status_code == 200 and first.json()["blocks"]
    before = await counts(runtime_of(server))
    retry = await post_command(
        client, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retry.status_code == 200 and retry.content == b""
    assert await counts(runtime_of(server)) == before
    assert before["AuditEntry"] == 1


async def test_a_command_sent_again_without_a_retry_header_does_not_run_again(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    body = command_body("announce Free pizza", user="UORG")
    first = await post_command(client, body)
    assert first.status_code == 200 and first.json()["blocks"]
    before = await counts(runtime_of(server))
    replay = await post_command(client, body)  # the same signed request, within its 5 minutes
    assert replay.status_code == 200 and replay.content == b""
    assert await counts(runtime_of(server)) == before
    assert before["AuditEntry"] == 1


async def test_a_retry_header_does_not_pass_the_command_limit(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    runtime_of(server).command_limit = MemoryLimit(1, 60)
    assert (await post_command(client, command_body("status", trigger="1.1.1"))).json()["blocks"]
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    refused = await post_command(client, command_body("team create Owls", trigger="2.2.2"), **retry)
    assert "1 Befehle in 60 Sekunden" in refused.text, refused.text
    assert (await counts(runtime_of(server)))["HandledRequest"] == 0


@pytest.mark.parametrize("sign", [False, True])
async def test_slacks_certificate_check_is_answered_and_runs_nothing(
    server: uvicorn.Server, client: httpx.AsyncClient, sign: bool
) -> None:
    body = urlencode({"ssl_check": "1", "token": "gIkuvaNzQIHg97ATvDxqgjtO"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **(signed(body) if sign else {})}
    response = await client.post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200 and response.content == b""
    assert await counts(runtime_of(server)) == dict.fromkeys(
        ("Participant", "HandledRequest", "OutboxMessage", "AuditEntry"), 0
    )


async def test_a_block_actions_payload_carrying_a_large_message_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}} for _ in range(100)]
    payload = {"type": "block_actions", "user": {"id": "U1"}, "message": {"blocks": blocks}, "actions": []}
    body = urlencode({"payload": json.dumps(payload)})
    assert len(body) > 300_000  # Slack sends the whole message with a button click
    response = await client.post(
        "/slack/interactions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )
    assert response.status_code == 200


async def test_a_large_event_is_accepted_and_a_large_command_is_not(client: httpx.AsyncClient) -> None:
    event = event_body("status", files=[{"name": "x" * 1000} for _ in range(200)])
    assert (await post_event(client, event)).status_code == 200
    command = command_body("team create " + "x" * 70_000)
    assert (await post_command(client, command)).status_code == 413


async def test_url_verification_answers_the_challenge(client: httpx.AsyncClient) -> None:
    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await post_event(client, body)
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_a_direct_message_is_answered_in_the_dm_through_the_outbox(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    response = await post_event(client, event_body("status"))
    assert response.status_code == 200
    rows = await settled_outbox(runtime_of(server))
    assert [(row.platform, row.channel, row.status) for row in rows] == [("slack", "D1", "delivered")]
    [post] = fake_slack.posts
    assert post.channel == "D1" and post.user is None
    assert post.blocks[0]["text"]["text"] == "Test Sprint: Kickoff"


async def test_a_mention_in_a_channel_is_answered_to_the_asker_only(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    body = event_body("<@UBOT> help", type="app_mention", channel="C9", channel_type="channel")
    await post_event(client, body)
    await settled_outbox(runtime_of(server))
    [post] = fake_slack.posts
    assert (post.channel, post.user) == ("C9", "U1")
    assert post.blocks[0]["text"]["text"] == "So funktioniert /hack"


async def test_a_retried_event_that_was_handled_is_answered_once(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    await post_event(client, event_body("status"))
    await post_event(
        client, event_body("status"), **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    rows = await settled_outbox(runtime_of(server))
    assert len(rows) == 1 and len(fake_slack.posts) == 1


async def test_someone_who_writes_to_the_bot_is_named_as_slack_shows_them_asked_once(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    fake_slack.people["UADA"] = {"display_name": "Ada", "real_name": "Ada Lovelace"}
    fake_slack.people["UBOB"] = {"display_name": "", "real_name": "Bob Jones"}
    for n, user in enumerate(["UADA", "UADA", "UBOB"]):
        await post_event(client, event_body("status", event_id=f"Ev{n}", user=user))
    await settled_outbox(runtime_of(server))
    async with runtime_of(server).sessions() as session:
        names = sorted(p.display_name for p in await session.scalars(select(Participant)))
    assert names == ["Ada", "Bob Jones"]  # not U-ids
    assert [call.args["user"] for call in fake_slack.called("users.info")] == ["UADA", "UBOB"]


async def test_while_slack_says_to_wait_the_id_stands_in_for_the_name_and_slack_is_not_asked(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    fake_slack.people["UADA"] = {"display_name": "Ada"}
    fake_slack.people["UBOB"] = {"display_name": "Bob"}
    fake_slack.users_limited = 1
    await post_event(client, event_body("status", event_id="Ev1", user="UADA"))
    await post_event(client, event_body("status", event_id="Ev2", user="UBOB"))
    rows = await settled_outbox(runtime_of(server))
    assert [row.status for row in rows] == ["delivered", "delivered"]  # answered all the same
    async with runtime_of(server).sessions() as session:
        names = sorted(p.display_name for p in await session.scalars(select(Participant)))
    assert names == ["UADA", "UBOB"]
    assert len(fake_slack.called("users.info")) == 1  # its Retry-After (30 s) is respected


async def test_an_event_sent_again_without_a_retry_header_is_answered_once(
    server: uvicorn.Server, client: httpx.AsyncClient
) -> None:
    body = event_body("announce Free pizza", user="UORG")
    await post_event(client, body)
    await post_event(client, body)
    await settled_outbox(runtime_of(server))
    assert (await counts(runtime_of(server)))["AuditEntry"] == 1


async def test_an_event_told_to_slow_down_is_answered_when_slack_retries_it_later(
    server: uvicorn.Server, client: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    runtime = runtime_of(server)
    runtime.command_limit = MemoryLimit(1, 60)
    await post_event(client, event_body("status", event_id="Ev1"))
    await post_event(client, event_body("status", event_id="Ev2"))  # over the limit: slow down
    await settled_outbox(runtime)
    runtime.command_limit = MemoryLimit(10, 60)  # a later window
    await post_event(client, event_body("status", event_id="Ev2"), **{"X-Slack-Retry-Num": "1"})
    rows = await settled_outbox(runtime)
    assert [row.status for row in rows] == ["delivered"] * 3  # the retry's answer was not lost
    assert "1 Befehle in 60 Sekunden" in json.dumps(fake_slack.posts[1].blocks)
    assert fake_slack.posts[2].blocks[0]["text"]["text"] == "Test Sprint: Kickoff"


@pytest.mark.parametrize(
    "event", [{"bot_id": "B2", "user": "U2"}, {"user": "UBOT"}, {"subtype": "message_changed"}]
)
async def test_messages_from_bots_and_edits_are_not_answered(
    server: uvicorn.Server, client: httpx.AsyncClient, event: dict[str, str]
) -> None:
    response = await post_event(client, event_body("status", **event))
    assert response.status_code == 200
    assert await counts(runtime_of(server)) == dict.fromkeys(
        ("Participant", "HandledRequest", "OutboxMessage", "AuditEntry"), 0
    )


async def test_a_link_button_click_is_acknowledged(client: httpx.AsyncClient) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "actions": [{"action_id": "link-0", "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await client.post(
        "/slack/interactions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )
    assert response.status_code == 200


async def test_without_a_signing_secret_the_endpoints_say_slack_is_not_enabled(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    settings = Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff))
    async with serving(create_app(settings, clock=FakeClock(kickoff), run_clock=False), port()) as server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}") as client:
            body = command_body("help")
            response = await post_command(client, body)
    assert response.status_code == 404
    assert "SLACK_SIGNING_SECRET" in response.json()["error"]


@pytest.fixture
def slow_command() -> Iterator[str]:
    async def slowly(ctx: Context, args: str) -> Reply:
        await asyncio.sleep(slack.ACK_BUDGET + 0.7)
        return Reply("Done, slowly.", title="Slow")

    command("slowly")(slowly)
    yield "slowly"
    COMMANDS.pop("slowly", None)


async def test_a_slow_command_is_acknowledged_at_once_and_answered_through_response_url(
    client: httpx.AsyncClient, fake_slack: FakeSlack, slow_command: str
) -> None:
    body = command_body(slow_command, response_url=f"{fake_slack.url}/hooks/late")
    started = time.perf_counter()
    response = await post_command(client, body)
    assert time.perf_counter() - started < ACK_LIMIT
    assert response.json() == {"response_type": "ephemeral", "text": "Bin dran …"}
    async with asyncio.timeout(5):
        while not fake_slack.hooks["late"]:  # noqa: ASYNC110 -- it arrives over HTTP, from another task
            await asyncio.sleep(0.05)
    [late] = fake_slack.hooks["late"]
    assert late["blocks"][0]["text"]["text"] == "Slow" and late["text"] == "Slow\nDone, slowly."


# -- who a Slack person is ---------------------------------------------------------------------


async def in_workspace(
    client: httpx.AsyncClient, text: str, team: str, trigger: str, **grid: str
) -> dict[str, Any]:
    body = command_body(text, user="W0GRID1", trigger=trigger, team_id=team, **grid)
    answer: dict[str, Any] = (await post_command(client, body)).json()
    return answer


async def accounts(server: uvicorn.Server) -> list[tuple[str, int]]:
    async with runtime_of(server).sessions() as session:
        rows = await session.execute(select(PlatformIdentity.workspace, PlatformIdentity.participant_id))
        return sorted(tuple(row) for row in rows)  # type: ignore[misc]


async def test_an_enterprise_grid_user_is_one_participant_in_every_workspace_of_the_org(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    grid = {"enterprise_id": "E0GRID", "enterprise_name": "Bund"}
    await in_workspace(client, "team create Luftretter", "T0BERLIN", "1.1.1", **grid)
    answer = await in_workspace(client, "team info", "T0HAMBURG", "1.1.2", **grid)
    assert "Luftretter" in answer["text"]
    [(workspace, _)] = await accounts(server)
    assert workspace == "E0GRID"


async def test_a_grid_users_direct_message_from_another_workspace_is_the_same_participant(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    await in_workspace(client, "status", "T0BERLIN", "1.1.1", enterprise_id="E0GRID")
    envelope = json.loads(event_body("status", user="W0GRID1"))
    envelope["team_id"] = "T0HAMBURG"
    envelope["authorizations"] = [{"enterprise_id": "E0GRID", "team_id": "T0HAMBURG", "user_id": "UBOT"}]
    assert (await post_event(client, json.dumps(envelope))).status_code == 200
    await settled_outbox(runtime_of(server))
    assert [workspace for workspace, _ in await accounts(server)] == ["E0GRID"]


async def test_the_same_user_id_in_two_workspaces_outside_a_grid_is_two_participants(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    await in_workspace(client, "team create Luftretter", "T0BERLIN", "1.1.1")
    answer = await in_workspace(client, "team info", "T0HAMBURG", "1.1.2")
    assert "Luftretter" not in answer["text"]
    assert [workspace for workspace, _ in await accounts(server)] == ["T0BERLIN", "T0HAMBURG"]


async def test_an_account_keyed_by_its_workspace_before_is_keyed_by_the_org_when_slack_names_it(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    await in_workspace(client, "team create Luftretter", "T0BERLIN", "1.1.1")  # as Slack sent it before
    [(_, participant)] = await accounts(server)
    answer = await in_workspace(client, "team info", "T0BERLIN", "1.1.2", enterprise_id="E0GRID")
    assert "Luftretter" in answer["text"]
    assert await accounts(server) == [("E0GRID", participant)]


# -- Socket Mode ------------------------------------------------------------------------------


async def test_a_slack_taking_5_seconds_a_call_does_not_slow_acknowledgements(
    client: httpx.AsyncClient, server: uvicorn.Server, fake_slack: FakeSlack
) -> None:
    fake_slack.delay = 5.0  # every channel made and every message posted takes 5 s

    async def timed(text: str, user: str) -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        reply = await post_command(client, command_body(text, user=user, trigger=f"trigger-{user}"))
        return time.perf_counter() - started, reply

    created = await asyncio.gather(*(timed(f"team create Drill {n}", f"UD{n}") for n in range(10)))
    asked = await asyncio.gather(*(timed("status", f"UD{n}") for n in range(10)))
    for seconds, reply in created + asked:
        assert reply.status_code == 200 and seconds < ACK_LIMIT, (seconds, reply.text)
    assert all("Drill" in reply.json()["text"] for _, reply in created)
    rows = await settled_outbox(runtime_of(server), within=90)
    slack_rows = [row for row in rows if row.platform == "slack"]
    assert len(slack_rows) == 10 and all(row.status == "delivered" for row in slack_rows)
    assert len(fake_slack.called("conversations.create")) == 10  # each team's channel, once


async def test_socket_mode_answers_a_slash_command_in_its_acknowledgement(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime, fake_slack: FakeSlack
) -> None:
    settings = Settings(
        database_url=sqlite_url,
        event_path=event_file(kickoff=kickoff),
        slack_bot_token=TOKEN,
        slack_app_token="xapp-1-A1-test",
        slack_api_url=api_url(fake_slack),
    )
    async with FakeSocketMode() as socket_mode:
        fake_slack.socket_url = socket_mode.url
        async with serving(create_app(settings, clock=FakeClock(kickoff), run_clock=False), port()):
            await asyncio.wait_for(socket_mode.connected.wait(), 10)
            form = dict(parse_qsl(command_body("help")))
            await socket_mode.send(
                {
                    "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
                    "type": "slash_commands",
                    "payload": {**form, "text": "help"},
                    "accepts_response_payload": True,
                }
            )
            ack = await asyncio.wait_for(socket_mode.acks.get(), ACK_LIMIT)
    assert ack["envelope_id"] == "57d6a792-4d35-4d0b-b6aa-3361493e1caf"
    assert ack["payload"]["blocks"][0]["text"]["text"] == "So funktioniert /hack"


# -- delivery to Slack ------------------------------------------------------------------------


@pytest.fixture
async def runtime(
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
) -> AsyncIterator[Runtime]:
    async with make_runtime(database_url, event_file(kickoff=kickoff), FakeClock(kickoff)) as runtime:
        runtime.settings = replace(runtime.settings, slack_bot_token=TOKEN, slack_api_url=api_url(fake_slack))
        sender = slack.sender(runtime)
        assert sender is not None
        runtime.senders["slack"] = sender
        yield runtime


async def test_delivery_under_429_and_500_loses_nothing_and_duplicates_nothing(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channels = [f"C{n}" for n in range(10)]
    fake_slack.fail_next(3)
    fake_slack.rate_limit_next("C2", 2, retry_after=1)
    await queue_messages(runtime, "slack", channels)
    rows = await settled_outbox(runtime)
    assert {row.status for row in rows} == {"delivered"}
    assert Counter(post.channel for post in fake_slack.posts) == Counter(channels)
    assert sorted(post.text for post in fake_slack.posts) == sorted(f"Message {n}" for n in range(10))
    assert Counter(attempt.status for attempt in fake_slack.attempts) == {200: 10, 500: 3, 429: 2}
    assert fake_slack.called("conversations.history") == []  # a failed attempt is known not to have posted


async def lapsed(runtime: Runtime, channel: str) -> int:
    """A row whose process died three minutes ago while posting it; its lease has run out."""
    now = datetime.now(UTC)
    async with runtime.transaction() as tx:
        row = OutboxMessage(
            key=f"lapsed:{channel}",
            platform="slack",
            channel=channel,
            payload={"author": "Orga", "texts": {"en": "Lunch is served"}},
            status="sending",
            next_attempt_at=now - timedelta(minutes=1),
            attempted_at=now - timedelta(minutes=3),
        )
        tx.session.add(row)
        await tx.session.flush()
        return row.id


async def status_of(runtime: Runtime, message_id: int) -> str:
    async with runtime.sessions() as session:
        return str(await session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id)))


async def test_a_lapsed_row_missing_from_the_channels_history_is_posted_with_its_id(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = fake_slack.add_channel("general").id
    message_id = await lapsed(runtime, channel)
    await outbox.deliver(runtime, message_id)
    [post] = fake_slack.posts
    assert post.metadata == {"event_type": "hackserver_outbox", "event_payload": {"outbox_id": message_id}}
    [looked] = fake_slack.called("conversations.history")
    assert looked.args["channel"] == channel and looked.args["include_all_metadata"] in ("1", "true")
    assert await status_of(runtime, message_id) == "delivered"


async def test_a_lapsed_row_found_in_the_channels_history_is_delivered_without_posting_again(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = fake_slack.add_channel("general").id
    message_id = await lapsed(runtime, channel)
    posted = Post(
        channel, f"{time.time() - 170:.6f}", "Lunch is served", [], 0.0, metadata=marker(message_id)
    )
    fake_slack.posts.append(posted)  # the dead process's post reached Slack
    await outbox.deliver(runtime, message_id)
    assert fake_slack.posts == [posted] and fake_slack.attempts == []
    assert await status_of(runtime, message_id) == "delivered"


async def test_a_lapsed_row_is_posted_when_the_history_cannot_be_read(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = fake_slack.add_channel("general").id
    message_id = await lapsed(runtime, channel)
    fake_slack.fail_next(1)  # conversations.history answers 500
    await outbox.deliver(runtime, message_id)
    assert [call.method for call in fake_slack.calls] == ["conversations.history"]
    assert len(fake_slack.posts) == 1 and await status_of(runtime, message_id) == "delivered"


async def test_retry_after_is_honoured(runtime: Runtime, fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit_next("C1", 1, retry_after=1)
    await queue_messages(runtime, "slack", ["C1"])
    [row] = await settled_outbox(runtime)
    refused, accepted = fake_slack.attempts
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.at - refused.at >= 0.95
    assert (row.status, row.attempts) == ("delivered", 2)


async def test_a_permanent_error_goes_dead_at_once_with_slacks_error(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.refuse("CGONE", "channel_not_found")
    await queue_messages(runtime, "slack", ["CGONE"])
    [row] = await settled_outbox(runtime)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error is not None and "channel_not_found" in row.last_error
    assert fake_slack.posts == []


async def test_a_busy_channel_is_paced_while_other_channels_go_out_at_once(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    others = [f"C{n}" for n in range(50)]
    started = time.monotonic()
    await queue_messages(runtime, "slack", ["CBUSY"] * 6 + others)
    await settled_outbox(runtime)
    busy = [post.at for post in fake_slack.posts_to("CBUSY")]
    assert len(busy) == 6 and max(busy) - started >= 4.9  # one a second
    assert max(post.at for post in fake_slack.posts if post.channel != "CBUSY") - started < 1.5
    assert len(fake_slack.posts) == 56 and fake_slack.throttled == 0


async def test_a_proxys_error_page_instead_of_slacks_answer_is_tried_again_not_dead() -> None:
    async def gateway(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        page = b"<html><body>502 Bad Gateway</body></html>"
        await send(
            {"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": page})

    async with serving(gateway, port()) as server:
        sender = SlackSender(TOKEN, f"http://127.0.0.1:{server.config.port}/api/")
        message = Outgoing(1, "k", "slack", "C1", {"author": "hq", "texts": {"en": "hello"}})
        try:
            with pytest.raises(DeliveryFailed) as failed:
                await sender.send(message)
        finally:
            await sender.aclose()
    assert not failed.value.permanent and "HTTP 502" in str(failed.value)


async def test_a_channels_next_post_waits_from_slacks_answer_to_the_last_not_from_its_sending() -> None:
    pacer = ChannelPacer(rate=10.0)  # 0.1 s apart, to keep the test short
    sent: list[float] = []
    answered: list[float] = []

    async def post(answer_takes: float) -> None:
        async with pacer.turn("C1"):
            sent.append(time.monotonic())
            await asyncio.sleep(answer_takes)  # a post queued for a connection, or a slow Slack
            answered.append(time.monotonic())

    await asyncio.gather(post(0.3), post(0.0), post(0.0))
    assert [b - a >= 0.1 for a, b in zip(answered, sent[1:], strict=False)] == [True, True]


async def test_an_announcement_is_one_message_in_every_language(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    await queue_messages(runtime, "slack", ["CANN"], {"de": "Pizza ist da", "en": "Pizza is here"})
    await settled_outbox(runtime)
    [post] = fake_slack.posts
    assert post.text == "🇩🇪 DE: Pizza ist da\n🇬🇧 EN: Pizza is here"
    assert [block["type"] for block in post.blocks] == ["section", "section", "context"]


# -- rendering --------------------------------------------------------------------------------


def test_a_reply_renders_as_header_section_fields_and_link_buttons() -> None:
    reply = Reply(
        "Book a slot",
        title="Experts",
        fields=[("Free", "3")],
        links=[("Book", "https://x.test/b")],
        public=True,
    )
    message = slack_render.render(reply)
    assert message["response_type"] == "in_channel"
    assert [block["type"] for block in message["blocks"]] == ["header", "section", "section", "actions"]
    assert message["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*Free*\n3"}]
    button = message["blocks"][3]["elements"][0]
    assert (button["url"], button["text"]["text"]) == ("https://x.test/b", "Book")


def test_text_from_a_participant_cannot_mention_the_whole_channel() -> None:
    message = slack_render.render(Reply("I don't know `<!channel>`"))
    assert message["blocks"][0]["text"]["text"] == "I don't know `&lt;!channel&gt;`"


def test_a_commands_request_key_is_its_trigger_and_what_it_says() -> None:
    form = dict(parse_qsl(command_body("status")))
    first = slack.to_invocation(form)
    assert first.request_key is not None and first.request_key == slack.to_invocation(form).request_key
    assert slack.to_invocation({**form, "text": "help"}).request_key != first.request_key
