"""Discord: interactions signed as Discord signs them, `/hack` sub-commands and options run through the
same command layer, deferred answers for slow work, the command definition, and delivery to a fake
Discord API under 429s, 5xx, lost answers and per-channel buckets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from nacl.signing import SigningKey
from sqlalchemy import func, select

from bots import discord, discord_command, discord_render
from bots.commands import Bot, Invocation
from bots.core import COMMANDS, Context, Reply, command
from bots.discord_delivery import DiscordSender
from hackserver.app import create_app
from hackserver.foundation import outbox
from hackserver.foundation.models import HandledRequest, OutboxMessage, Participant
from hackserver.foundation.ratelimit import MemoryLimit
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity
from tests import processes
from tests.conftest import EXAMPLE_EVENT
from tests.dbstate import migrate, queue_messages, settled_outbox
from tests.fake_discord import FakeDiscord
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

SIGNING_KEY = SigningKey(bytes(range(32)))
PUBLIC_KEY = SIGNING_KEY.verify_key.encode().hex()
APP_ID = "1176000000000000001"
TOKEN = "bot-token"
GUILD = "290926798626357999"
NELLY = "80351110224678912"
ACK_LIMIT = 3.0  # Discord's
BIN = Path(sys.executable).parent


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(body: str, *, key: SigningKey = SIGNING_KEY, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Discord sends them: Ed25519 over the timestamp followed by the raw body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Signature-Ed25519": key.sign((ts + body).encode()).signature.hex(),
        "X-Signature-Timestamp": ts,
    }


def interaction(
    *path: str,
    options: dict[str, str] | None = None,
    id: str = "1199000000000000001",
    user: str = NELLY,
    locale: str = "en-US",
    token: str = "aW50ZXJhY3Rpb246MTE5OTAwMDAwMDAwMDAwMDAwMQ",
) -> dict[str, Any]:
    """An APPLICATION_COMMAND interaction for `/hack <path...> option:value...` from a guild member,
    shaped as Discord sends it: the leaf sub-command (type 1) inside its group (type 2)."""
    node: list[dict[str, Any]] = [{"type": 3, "name": k, "value": v} for k, v in (options or {}).items()]
    for depth in range(len(path) - 1, -1, -1):
        sub: dict[str, Any] = {"type": 1 if depth == len(path) - 1 else 2, "name": path[depth]}
        if node:
            sub["options"] = node
        node = [sub]
    return {
        "type": 2,
        "id": id,
        "application_id": APP_ID,
        "token": token,
        "version": 1,
        "guild_id": GUILD,
        "channel_id": "290926798999357250",
        "member": {
            "user": {
                "id": user,
                "username": "nelly",
                "global_name": "Nelly",
                "discriminator": "0",
                "avatar": None,
            },
            "roles": [],
            "nick": None,
            "joined_at": "2027-03-01T10:00:00.000000+00:00",
            "permissions": "2248473465835073",
            "deaf": False,
            "mute": False,
            "flags": 0,
        },
        "locale": locale,
        "guild_locale": "de",
        "app_permissions": "2248473465835073",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD},
        "context": 0,
        "data": {"id": "1176000000000000777", "name": "hack", "type": 1, "options": node},
    }


async def counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Participant, HandledRequest, OutboxMessage)
        }


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=TOKEN)
    async with serving(fake.app, port()) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


@pytest.fixture
async def settings(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, fake_discord: FakeDiscord
) -> Settings:
    settings = Settings(
        database_url=database_url,
        event_path=event_file(kickoff=kickoff),
        discord_application_id=APP_ID,
        discord_public_key=PUBLIC_KEY,
        discord_bot_token=TOKEN,
        discord_api_url=fake_discord.url,
    )
    if not settings.is_sqlite:  # the app migrates SQLite itself; PostgreSQL is migrated by a deploy step
        await migrate(database_url)
    return settings


@pytest.fixture
async def server(settings: Settings, kickoff: datetime) -> AsyncIterator[uvicorn.Server]:
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, port()) as server:
        yield server


@pytest.fixture
async def client(server: uvicorn.Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
        yield client


async def post(client: httpx.AsyncClient, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(
        "/discord/interactions",
        content=body,
        headers={"Content-Type": "application/json", **(signed(body) if headers is None else headers)},
    )


async def ask(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = await post(client, json.dumps(payload))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def command_layer(server: uvicorn.Server, text: str, user: str = NELLY) -> Reply:
    reply = await Bot(runtime_of(server)).handle(
        Invocation(Identity("discord", discord.WORKSPACE, user, "Nelly"), text, locale="en-US")
    )
    assert reply is not None
    return reply


def shown(message: dict[str, Any]) -> tuple[str | None, str, list[tuple[str, str]]]:
    """(title, text, fields) as a Discord client shows the message."""
    if "embeds" not in message:
        return None, message["content"], []
    [embed] = message["embeds"]
    fields = [(f["name"], f["value"]) for f in embed.get("fields", [])]
    description = embed.get("description", "")
    headline = message["content"]  # the title, or the first line of a long text
    return None if description.startswith(headline) else headline, description, fields


# -- requests from Discord --------------------------------------------------------------------


async def test_a_signed_ping_is_answered_with_pong(client: httpx.AsyncClient) -> None:
    response = await post(client, json.dumps({"type": 1, "id": "1", "application_id": APP_ID, "version": 1}))
    assert (response.status_code, response.json()) == (200, {"type": 1})


async def test_a_signed_body_nested_thousands_deep_is_a_bad_request_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, '{"type": 1, "data": ' + "[" * 5000 + "]" * 5000 + "}")
    assert (response.status_code, response.json()) == (400, {"error": "expected a JSON body"})


def _wrong_signature(body: str) -> tuple[str, dict[str, str]]:
    return body, signed(body, key=SigningKey(bytes(32)))


def _stale(body: str) -> tuple[str, dict[str, str]]:
    return body, signed(body, timestamp=int(time.time()) - 6 * 60)


def _changed_after_signing(body: str) -> tuple[str, dict[str, str]]:
    return body.replace('"status"', '"stats"'), signed(body)


def _no_signature(body: str) -> tuple[str, dict[str, str]]:
    return body, {"X-Signature-Timestamp": signed(body)["X-Signature-Timestamp"]}


def _no_timestamp(body: str) -> tuple[str, dict[str, str]]:
    return body, {"X-Signature-Ed25519": signed(body)["X-Signature-Ed25519"]}


@pytest.mark.parametrize(
    "forge", [_wrong_signature, _stale, _changed_after_signing, _no_signature, _no_timestamp]
)
async def test_a_request_not_signed_by_discord_is_refused_with_401_and_changes_nothing(
    client: httpx.AsyncClient,
    server: uvicorn.Server,
    forge: Callable[[str], tuple[str, dict[str, str]]],
) -> None:
    before = await counts(runtime_of(server))
    body, headers = forge(json.dumps(interaction("status")))
    response = await post(client, body, headers)
    assert response.status_code == 401 and "signature" in response.json()["error"]
    assert await counts(runtime_of(server)) == before


async def test_status_answers_with_the_command_layers_reply_for_the_asker_only(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    answer = await ask(client, interaction("status"))
    expected = await command_layer(server, "status")
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert shown(answer["data"]) == (expected.title, expected.text, expected.fields)


async def test_profile_options_run_as_the_profile_grammar(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    answer = await ask(
        client, interaction("profile", options={"tz": "Europe/Berlin", "skills": "JS, python"})
    )
    expected = await command_layer(server, "profile skills JS, python tz Europe/Berlin", user="other")
    assert shown(answer["data"]) == (expected.title, expected.text, expected.fields)
    async with runtime_of(server).sessions() as session:
        nelly = (
            await session.scalars(select(Participant).where(Participant.display_name == "Nelly"))
        ).first()
    assert (
        nelly is not None and nelly.skills == ["javascript", "python"] and nelly.timezone == "Europe/Berlin"
    )


async def test_a_sub_command_in_a_group_runs_as_its_grammar(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    answer = await ask(client, interaction("team", "join", options={"code": "NOPE99"}))
    expected = await command_layer(server, "team join NOPE99")
    assert answer["data"]["content"] == expected.text and "`NOPE99`" in expected.text


async def test_the_interactions_locale_chooses_the_language(client: httpx.AsyncClient) -> None:
    answer = await ask(client, interaction("help", locale="de"))
    assert shown(answer["data"])[0] == "So funktioniert /hack"


@pytest.fixture
def counted_command() -> Iterator[list[str]]:
    calls: list[str] = []

    async def counted(ctx: Context, args: str) -> Reply:
        calls.append(args)
        return Reply("Counted.")

    command("counted")(counted)
    yield calls
    COMMANDS.pop("counted", None)


async def test_a_repeated_interaction_id_runs_once(
    client: httpx.AsyncClient, counted_command: list[str]
) -> None:
    payload = json.dumps(interaction("counted"))
    first = await post(client, payload)
    again = await post(client, payload)
    assert first.json()["data"]["content"] == "Counted."
    assert again.status_code == 409
    assert counted_command == [""]


async def test_past_the_command_limit_an_interaction_is_told_to_slow_down(
    server: uvicorn.Server, client: httpx.AsyncClient, counted_command: list[str]
) -> None:
    runtime_of(server).command_limit = MemoryLimit(1, 60)
    await ask(client, interaction("counted", id="1199000000000000011"))
    refused = await ask(client, interaction("counted", id="1199000000000000012"))
    assert "1 commands in 60 seconds" in shown(refused["data"])[1]
    assert counted_command == [""]


@pytest.fixture
def slow_command(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(discord, "ACK_BUDGET", 0.5)

    async def slowly(ctx: Context, args: str) -> Reply:
        await asyncio.sleep(1.2)
        return Reply("Done, slowly.", title="Slow", links=[("Book", "https://example.org/book/abc")])

    command("slowly")(slowly)
    yield "slowly"
    COMMANDS.pop("slowly", None)


async def test_a_slow_command_is_deferred_and_its_reply_edited_in_later(
    client: httpx.AsyncClient, fake_discord: FakeDiscord, slow_command: str
) -> None:
    started = time.perf_counter()
    answer = await ask(client, interaction(slow_command, token="late-token"))
    assert time.perf_counter() - started < ACK_LIMIT
    assert answer == {"type": 5, "data": {"flags": 64}}
    async with asyncio.timeout(5):
        while not fake_discord.edits.get("late-token"):  # noqa: ASYNC110 -- it arrives over HTTP
            await asyncio.sleep(0.05)
    [late] = fake_discord.edits["late-token"]
    assert shown(late) == ("Slow", "Done, slowly.", [])
    assert late["components"][0]["components"][0]["url"] == "https://example.org/book/abc"


async def test_without_a_public_key_the_endpoint_says_discord_is_not_enabled(
    sqlite_url: str, event_file: Callable[..., Path], kickoff: datetime
) -> None:
    settings = Settings(database_url=sqlite_url, event_path=event_file(kickoff=kickoff))
    async with (
        serving(create_app(settings, clock=FakeClock(kickoff), run_clock=False), port()) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}") as client,
    ):
        response = await post(client, json.dumps({"type": 1}))
    assert response.status_code == 404 and "DISCORD_PUBLIC_KEY" in response.json()["error"]


# -- from interactions to grammar, and replies to messages ------------------------------------


def test_options_are_written_in_the_grammars_order_whatever_order_discord_sends() -> None:
    payload = interaction("profile", options={"tz": "Europe/Berlin", "langs": "de,en", "skills": "go"})
    invocation = discord.to_invocation(payload)
    assert invocation is not None and invocation.text == "profile skills go langs de,en tz Europe/Berlin"


def direct_message(payload: dict[str, Any]) -> dict[str, Any]:
    """The same interaction sent from a direct message with the bot: no guild, the user at the top."""
    payload = {k: v for k, v in payload.items() if k not in ("guild_id", "member", "guild_locale")}
    return payload | {"user": {"id": NELLY, "username": "nelly", "global_name": None}, "context": 1}


def test_a_direct_message_names_the_same_account_as_a_guild() -> None:
    in_guild, in_dm = (
        discord.to_invocation(p) for p in (interaction("status"), direct_message(interaction("status")))
    )
    assert in_guild is not None and in_dm is not None
    assert in_guild.identity == Identity("discord", "", NELLY, "Nelly")
    assert (in_dm.identity, in_dm.request_key) == (
        Identity("discord", "", NELLY, "nelly"),
        "1199000000000000001",
    )


async def test_a_team_made_in_the_guild_is_the_askers_in_a_direct_message(
    client: httpx.AsyncClient, server: uvicorn.Server
) -> None:
    await ask(client, interaction("team", "create", options={"name": "Luftretter"}))
    answer = await ask(client, direct_message(interaction("team", "info", id="1199000000000000002")))
    assert "Luftretter" in str(shown(answer["data"]))
    async with runtime_of(server).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Participant)) == 1


def test_a_public_reply_is_seen_by_the_channel_and_links_are_link_buttons() -> None:
    reply = Reply(
        "Pick a slot", title="Experts", fields=[("Free", "3")], links=[("Book", "https://x.test/b")]
    )
    private, public = (
        discord_render.interaction_response(reply),
        discord_render.interaction_response(
            Reply(reply.text, reply.title, reply.fields, reply.links, public=True)
        ),
    )
    assert private["data"]["flags"] == 64 and "flags" not in public["data"]
    [row] = public["data"]["components"]
    assert row == {
        "type": 1,
        "components": [{"type": 2, "style": 5, "label": "Book", "url": "https://x.test/b"}],
    }


def test_the_definition_offers_every_sub_command_in_english_and_german() -> None:
    definition = discord_command.command_definition()
    offered = {
        f"{o['name']} {sub['name']}" if o["type"] == 2 else o["name"]: sub
        for o in definition["options"]
        for sub in (o["options"] if o["type"] == 2 else [o])
    }
    assert set(offered) == set(COMMANDS)
    assert offered["team create"]["options"][0] | {"description_localizations": None} == {
        "type": 3,
        "name": "name",
        "description": "your team's name",
        "description_localizations": None,
        "required": True,
    }
    assert offered["team create"]["description_localizations"] == {"de": "ein Team gründen"}


def test_the_definition_keeps_within_discords_limits() -> None:
    name = re.compile(r"^[-_\w]{1,32}$")

    def check(option: dict[str, Any]) -> None:
        assert name.match(option["name"]) and option["name"] == option["name"].lower()
        assert 1 <= len(option["description"]) <= 100
        assert all(1 <= len(d) <= 100 for d in option["description_localizations"].values())
        children = option.get("options", [])
        assert len(children) <= 25
        required = [child.get("required", False) for child in children]
        assert required == sorted(required, reverse=True)  # required options come first
        for child in children:
            check(child)

    check(discord_command.command_definition())
    assert len(json.dumps(discord_command.command_definition())) < 8000


# -- delivery to Discord ----------------------------------------------------------------------


@pytest.fixture
async def runtime(
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_discord: FakeDiscord,
) -> AsyncIterator[Runtime]:
    async with make_runtime(database_url, event_file(kickoff=kickoff), FakeClock(kickoff)) as runtime:
        sender = DiscordSender(TOKEN, fake_discord.url)
        runtime.senders["discord"] = sender
        yield runtime
        await sender.aclose()


async def test_delivery_under_429_and_500_loses_nothing_and_duplicates_nothing(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    channels = [str(1000 + n) for n in range(10)]
    fake_discord.fail_next(3)
    fake_discord.rate_limit_next(2, retry_after=0.3)
    await queue_messages(runtime, "discord", channels)
    rows = await settled_outbox(runtime)
    assert {row.status for row in rows} == {"delivered"}
    assert Counter(post.channel for post in fake_discord.posts) == Counter(channels)
    assert sorted(p.content for p in fake_discord.posts) == sorted(
        f"**Orga**\nMessage {n}" for n in range(10)
    )
    assert Counter(attempt.status for attempt in fake_discord.attempts) == {200: 10, 500: 3, 429: 2}


async def test_a_post_whose_answer_was_lost_is_not_posted_again(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.lose_answers = 1
    await queue_messages(runtime, "discord", ["2000"])
    [row] = await settled_outbox(runtime)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert [attempt.status for attempt in fake_discord.attempts] == [502, 200]
    assert len(fake_discord.posts) == 1


async def test_retry_after_from_a_429_is_waited_out_within_the_send(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.rate_limit_next(1, retry_after=1.0)
    await queue_messages(runtime, "discord", ["3000"])
    [row] = await settled_outbox(runtime)
    refused, accepted = fake_discord.attempts
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.at - refused.at >= 0.95
    assert (row.status, row.attempts) == ("delivered", 1)


async def test_a_global_rate_limit_pauses_every_channel(runtime: Runtime, fake_discord: FakeDiscord) -> None:
    fake_discord.rate_limit_next(1, retry_after=1.0, everything=True)
    await queue_messages(runtime, "discord", ["4000"])
    async with asyncio.timeout(5):
        while not fake_discord.attempts:  # noqa: ASYNC110 -- it arrives over HTTP
            await asyncio.sleep(0.01)
    refused = fake_discord.attempts[0]
    async with runtime.transaction() as tx:
        await outbox.add(tx, "test:other", "discord", "4001", {"author": "Orga", "texts": {"en": "Other"}})
    await settled_outbox(runtime)
    [other] = fake_discord.posts_to("4001")
    assert refused.status == 429 and other.at - refused.at >= 0.95


async def test_a_full_bucket_is_paced_by_its_headers_not_by_429s(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.limit, fake_discord.window = 3, 1.0
    await queue_messages(runtime, "discord", ["5000"] * 8)
    rows = await settled_outbox(runtime)
    posts = fake_discord.posts_to("5000")
    assert len(posts) == 8 and {row.attempts for row in rows} == {1}
    assert fake_discord.throttled == 0
    assert posts[-1].at - posts[0].at >= 1.9  # three windows for eight posts


async def test_a_missing_channel_goes_dead_at_once_with_discords_error(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.refuse("6000", 404, "Unknown Channel", 10003)
    await queue_messages(runtime, "discord", ["6000"])
    [row] = await settled_outbox(runtime)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error is not None and "Unknown Channel (10003)" in row.last_error
    assert fake_discord.posts == []


async def test_an_announcement_is_one_message_in_every_language(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    await queue_messages(
        runtime, "discord", ["7000"], {"de": "Pizza ist da, @everyone", "en": "Pizza is here"}
    )
    await settled_outbox(runtime)
    [post] = fake_discord.posts
    assert post.content == "**Orga**\n🇩🇪 DE: Pizza ist da, @everyone\n🇬🇧 EN: Pizza is here"
    assert post.body["allowed_mentions"] == {"parse": []}


async def test_a_webhook_channel_is_posted_to_without_the_bot_token(
    runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    runtime.settings = Settings(database_url=runtime.settings.database_url, discord_api_url=fake_discord.url)
    hook = f"{fake_discord.url}/api/webhooks/8000/hook-token"
    runtime.event.channels["discord"] = {"announcements": hook}
    sender = discord.sender(runtime)
    assert isinstance(sender, DiscordSender)
    runtime.senders["discord"] = sender
    await queue_messages(runtime, "discord", [hook])
    [row] = await settled_outbox(runtime)
    await sender.aclose()
    [post] = fake_discord.posts
    assert row.status == "delivered" and post.channel == "webhook:8000" and post.authorization is None


# -- registering the command ------------------------------------------------------------------


async def hackserver(*args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "hackserver"),
        *args,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")},
            "HACKSERVER_EVENT": str(EXAMPLE_EVENT),
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        processes.end_group(process.pid)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_register_commands_puts_every_sub_command(fake_discord: FakeDiscord) -> None:
    code, out, err = await hackserver(
        "discord",
        "register-commands",
        DISCORD_APPLICATION_ID=APP_ID,
        DISCORD_BOT_TOKEN=TOKEN,
        DISCORD_API_URL=fake_discord.url,
    )
    assert (code, err) == (0, "")
    assert out.strip() == f"registered /hack with {len(COMMANDS)} sub-commands for application {APP_ID}"
    [hack] = fake_discord.commands[APP_ID]
    offered = {f"{o['name']} {s['name']}" for o in hack["options"] if o["type"] == 2 for s in o["options"]}
    offered |= {o["name"] for o in hack["options"] if o["type"] == 1}
    assert hack["name"] == "hack" and offered == set(COMMANDS)


async def test_register_commands_refused_by_discord_fails_in_one_line(fake_discord: FakeDiscord) -> None:
    code, out, err = await hackserver(
        "discord",
        "register-commands",
        DISCORD_APPLICATION_ID=APP_ID,
        DISCORD_BOT_TOKEN="not-the-token",
        DISCORD_API_URL=fake_discord.url,
    )
    assert (code, out) == (2, "")
    assert err == "hackserver: Discord refused the command definition: HTTP 401 401: Unauthorized (0)\n"
    assert fake_discord.commands == {}


async def test_register_commands_without_a_token_says_which_setting(fake_discord: FakeDiscord) -> None:
    code, _, err = await hackserver("discord", "register-commands", DISCORD_APPLICATION_ID=APP_ID)
    assert code == 2 and err.startswith("hackserver: DISCORD_BOT_TOKEN") and err.count("\n") == 1
