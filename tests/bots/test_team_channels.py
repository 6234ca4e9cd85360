"""Team channels: an outbox row with `channel_members` names a team's channel, which is made on Slack
or Discord unless it exists, with those members in it, before the message is posted into it. Driven
through the outbox and its embedded jobs against fake Slack and Discord APIs on loopback."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bots import discord, slack
from bots.discord_delivery import DiscordSender
from hackserver.foundation import outbox
from hackserver.foundation.errors import EventFileError
from hackserver.foundation.event import parse_event
from hackserver.foundation.models import OutboxMessage
from hackserver.runtime import Runtime
from tests.dbstate import settled_outbox
from tests.fake_discord import FakeDiscord
from tests.fake_slack import BOT, FakeSlack
from tests.fakes import FakeClock, event_toml
from tests.servers import serving

SLACK_TOKEN = "xoxb-test-token"
DISCORD_TOKEN = "bot-token"
APP_ID = "1176000000000000001"  # the Discord bot's user id too
GUILD = "290926798626357999"
ANNA, BEN, CARLA = "80351110224678912", "80351110224678913", "80351110224678914"
VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY = 1 << 10, 1 << 11, 1 << 16
TEAM_MEMBER = str(VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY)


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def team_messages(
    runtime: Runtime, platform: str, channel: str, members: list[str], *texts: str
) -> None:
    """One outbox row for the team channel for each text, written in one transaction."""
    async with runtime.transaction() as tx:
        for text in texts:
            payload = {"author": "Orga", "texts": {"en": text}, "channel_members": members}
            await outbox.add(tx, f"team:{channel}:{text}", platform, channel, payload)


def delivered(rows: list[OutboxMessage]) -> list[tuple[str, int]]:
    return [(row.status, row.attempts) for row in rows]


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=SLACK_TOKEN)
    async with serving(fake.app, port()) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


@pytest.fixture
async def slack_runtime(
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
) -> AsyncIterator[Runtime]:
    async with make_runtime(database_url, event_file(kickoff=kickoff), FakeClock(kickoff)) as runtime:
        runtime.settings = replace(
            runtime.settings, slack_bot_token=SLACK_TOKEN, slack_api_url=f"{fake_slack.url}/api/"
        )
        sender = slack.sender(runtime)
        assert sender is not None
        runtime.senders["slack"] = sender
        yield runtime
        await sender.aclose()


async def test_a_new_slack_team_channel_is_made_once_with_its_members_and_gets_the_messages(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    # Two rows for a channel that does not exist yet, sent at the same time.
    await team_messages(slack_runtime, "slack", "team-12-luftretter", ["U1", "U2"], "Hello", "Welcome")
    rows = await settled_outbox(slack_runtime)
    assert delivered(rows) == [("delivered", 1), ("delivered", 1)]
    assert len(fake_slack.called("conversations.create")) == 1
    channel = fake_slack.channel("team-12-luftretter")
    assert channel.is_private and channel.members == {BOT, "U1", "U2"}  # only the team reads it
    posts = fake_slack.posts_to(channel.id)
    assert sorted(post.text for post in posts) == ["Hello", "Welcome"]
    assert {post.channel for post in fake_slack.posts} == {channel.id}  # posted by id, not by name


async def test_slack_team_channels_are_public_when_the_event_file_says_so(
    database_url: str,
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    event_path = tmp_path / "event.toml"
    event_path.write_text(event_toml(kickoff) + '[channels.slack]\nteam_channels = "public"\n')
    async with make_runtime(database_url, event_path, FakeClock(kickoff)) as runtime:
        runtime.settings = replace(
            runtime.settings, slack_bot_token=SLACK_TOKEN, slack_api_url=f"{fake_slack.url}/api/"
        )
        sender = slack.sender(runtime)
        assert sender is not None
        runtime.senders["slack"] = sender
        try:
            await team_messages(runtime, "slack", "team-open-house", ["U1"], "Hello")
            await settled_outbox(runtime)
        finally:
            await sender.aclose()
    assert not fake_slack.channel("team-open-house").is_private


async def test_a_later_row_for_a_slack_team_channel_reuses_it_and_invites_only_a_new_member(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    await team_messages(slack_runtime, "slack", "team-3-pegel", ["U1", "U2"], "First")
    await settled_outbox(slack_runtime)
    await team_messages(slack_runtime, "slack", "team-3-pegel", ["U1", "U2", "U3"], "Second")
    rows = await settled_outbox(slack_runtime)
    assert delivered(rows) == [("delivered", 1), ("delivered", 1)]
    channel = fake_slack.channel("team-3-pegel")
    assert len(fake_slack.called("conversations.create")) == 1
    assert [call.args["users"] for call in fake_slack.called("conversations.invite")] == ["U1,U2", "U3"]
    assert channel.members == {BOT, "U1", "U2", "U3"}
    assert [post.text for post in fake_slack.posts_to(channel.id)] == ["First", "Second"]


async def test_a_retry_after_a_lost_create_finds_the_slack_channel_by_listing_and_posts(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    for name in ("general", "random", "team-1-wasser", "team-2-schule", "team-4-bus"):
        fake_slack.add_channel(name)
    fake_slack.lose_creates = 1  # the channel is made, but the answer is lost
    await team_messages(slack_runtime, "slack", "team-5-luftretter", ["U1", "U2"], "Hello")
    [row] = await settled_outbox(slack_runtime)
    assert delivered([row]) == [("delivered", 2)]
    assert len(fake_slack.called("conversations.create")) == 2  # the retry's is refused: name_taken
    listed = fake_slack.called("conversations.list")
    assert len(listed) == 3 and [call.args.get("cursor", "") == "" for call in listed] == [True, False, False]
    assert listed[0].args["types"] == "public_channel,private_channel"
    channel = fake_slack.channel("team-5-luftretter")  # one channel of that name, not two
    assert channel.members == {BOT, "U1", "U2"}
    assert [post.text for post in fake_slack.posts_to(channel.id)] == ["Hello"]


async def test_members_already_in_the_slack_channel_do_not_keep_the_others_out(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = fake_slack.add_channel("team-7-mobil", {BOT, "U1"})  # U1 is in already
    await team_messages(slack_runtime, "slack", "team-7-mobil", ["U1", "U2", BOT], "Hello")
    [row] = await settled_outbox(slack_runtime)
    assert delivered([row]) == [("delivered", 1)]
    assert channel.members == {BOT, "U1", "U2"}
    assert [post.text for post in fake_slack.posts_to(channel.id)] == ["Hello"]


@pytest.mark.parametrize("joining", [[], ["U2"]], ids=["posting", "inviting"])
async def test_a_deleted_slack_team_channel_is_made_again(
    slack_runtime: Runtime, fake_slack: FakeSlack, joining: list[str]
) -> None:
    await team_messages(slack_runtime, "slack", "team-8-gruen", ["U1"], "First")
    await settled_outbox(slack_runtime)
    gone = fake_slack.channel("team-8-gruen")
    del fake_slack.channels[gone.id]
    fake_slack.refuse(gone.id, "channel_not_found")
    await team_messages(slack_runtime, "slack", "team-8-gruen", ["U1", *joining], "Second")
    rows = await settled_outbox(slack_runtime)
    assert delivered(rows) == [("delivered", 1), ("delivered", 2)]
    again = fake_slack.channel("team-8-gruen")
    assert again.id != gone.id and again.members == {BOT, "U1", *joining}
    assert [post.text for post in fake_slack.posts_to(again.id)] == ["Second"]


async def test_a_slack_name_taken_by_an_archived_channel_is_dead_with_the_reason(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("team-9-alt", archived=True)
    await team_messages(slack_runtime, "slack", "team-9-alt", ["U1"], "Hello")
    [row] = await settled_outbox(slack_runtime)
    assert delivered([row]) == [("dead", 1)]
    assert row.last_error is not None and "'team-9-alt' is taken" in row.last_error
    assert fake_slack.posts == []


# -- Discord ----------------------------------------------------------------------------------


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=DISCORD_TOKEN, bot_id=APP_ID, guilds={GUILD})
    async with serving(fake.app, port()) as server:
        fake.url = f"http://127.0.0.1:{server.config.port}"
        yield fake


@pytest.fixture
async def discord_runtime(
    database_url: str,
    event_file: Callable[..., Path],
    kickoff: datetime,
    make_runtime: Callable[..., Any],
    fake_discord: FakeDiscord,
) -> AsyncIterator[Runtime]:
    path = event_file(kickoff=kickoff)
    with path.open("a", encoding="utf-8") as file:
        file.write(f'[channels.discord]\nguild = "{GUILD}"\n')
    async with make_runtime(database_url, path, FakeClock(kickoff)) as runtime:
        runtime.settings = replace(
            runtime.settings,
            discord_bot_token=DISCORD_TOKEN,
            discord_api_url=fake_discord.url,
            discord_application_id=APP_ID,
        )
        sender = discord.sender(runtime)
        assert isinstance(sender, DiscordSender)
        runtime.senders["discord"] = sender
        yield runtime
        await runtime.senders["discord"].aclose()


def overwrites(channel: dict[str, Any]) -> dict[str, tuple[int, str, str]]:
    return {o["id"]: (o["type"], o["allow"], o["deny"]) for o in channel["permission_overwrites"]}


async def test_a_new_discord_team_channel_is_made_once_private_to_its_members_and_the_bot(
    discord_runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.slow_creates = 0.3  # long enough for the second row to look while the first makes it
    await team_messages(discord_runtime, "discord", "team-12-luftretter", [ANNA, BEN], "Hello", "Welcome")
    rows = await settled_outbox(discord_runtime)
    assert delivered(rows) == [("delivered", 1), ("delivered", 1)]
    [channel] = fake_discord.channels_named("team-12-luftretter")
    assert channel["type"] == 0 and channel["guild_id"] == GUILD
    assert overwrites(channel) == {
        GUILD: (0, "0", str(VIEW_CHANNEL)),  # @everyone may not see it
        APP_ID: (1, TEAM_MEMBER, "0"),
        ANNA: (1, TEAM_MEMBER, "0"),
        BEN: (1, TEAM_MEMBER, "0"),
    }
    assert not fake_discord.can_see(channel, CARLA) and fake_discord.can_see(channel, ANNA)
    assert [a.route for a in fake_discord.attempts].count("GET users/@me") == 1  # asked once, kept
    posts = fake_discord.posts_to(channel["id"])
    assert sorted(post.content for post in posts) == ["**Orga**\nHello", "**Orga**\nWelcome"]


async def test_an_existing_discord_team_channel_is_reused_and_a_new_member_let_in(
    discord_runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    fake_discord.add_channel(GUILD, "team-5-pegel", kind=2)  # a voice channel of that name, made first
    private = [
        {"id": GUILD, "type": 0, "deny": str(VIEW_CHANNEL)},
        {"id": APP_ID, "type": 1, "allow": TEAM_MEMBER},
        {"id": ANNA, "type": 1, "allow": TEAM_MEMBER},
    ]
    channel = fake_discord.add_channel(GUILD, "team-5-pegel", private)
    await team_messages(discord_runtime, "discord", "team-5-pegel", [ANNA, BEN], "Hello")
    [row] = await settled_outbox(discord_runtime)
    assert delivered([row]) == [("delivered", 1)]
    assert len(fake_discord.channels_named("team-5-pegel")) == 2  # nothing made
    assert overwrites(channel)[BEN] == overwrites(channel)[ANNA] == (1, TEAM_MEMBER, "0")
    assert [a.route for a in fake_discord.attempts if a.route.startswith("PUT")] == [
        f"PUT channel:{channel['id']}/permissions"  # for Ben only
    ]
    assert [post.content for post in fake_discord.posts_to(channel["id"])] == ["**Orga**\nHello"]


@pytest.mark.parametrize("joining", [[], [BEN]], ids=["posting", "letting-a-member-in"])
async def test_a_deleted_discord_team_channel_is_made_again(
    discord_runtime: Runtime, fake_discord: FakeDiscord, joining: list[str]
) -> None:
    await team_messages(discord_runtime, "discord", "team-8-gruen", [ANNA], "First")
    await settled_outbox(discord_runtime)
    [gone] = fake_discord.channels_named("team-8-gruen")
    fake_discord.delete_channel(gone["id"])
    await team_messages(discord_runtime, "discord", "team-8-gruen", [ANNA, *joining], "Second")
    rows = await settled_outbox(discord_runtime)
    assert delivered(rows) == [("delivered", 1), ("delivered", 2)]
    [again] = fake_discord.channels_named("team-8-gruen")
    assert again["id"] != gone["id"] and set(overwrites(again)) == {GUILD, APP_ID, ANNA, *joining}
    assert [post.content for post in fake_discord.posts_to(again["id"])] == ["**Orga**\nSecond"]


@pytest.mark.parametrize("application_id", [None, APP_ID], ids=["without-an-application-id", "an-older-app"])
async def test_the_bot_user_is_asked_of_discord_not_taken_for_the_application_id(
    discord_runtime: Runtime, fake_discord: FakeDiscord, application_id: str | None
) -> None:
    fake_discord.bot_id = "1176000000000000999"  # an application older than 2016: another id
    await discord_runtime.senders["discord"].aclose()
    discord_runtime.settings = replace(discord_runtime.settings, discord_application_id=application_id)
    sender = discord.sender(discord_runtime)
    assert sender is not None
    discord_runtime.senders["discord"] = sender
    await team_messages(discord_runtime, "discord", "team-2-bus", [ANNA], "Hello")
    [row] = await settled_outbox(discord_runtime)
    assert delivered([row]) == [("delivered", 1)]
    [channel] = fake_discord.channels_named("team-2-bus")
    assert set(overwrites(channel)) == {GUILD, "1176000000000000999", ANNA}


async def test_without_a_guild_a_discord_team_row_is_dead_naming_the_setting(
    discord_runtime: Runtime, fake_discord: FakeDiscord
) -> None:
    await discord_runtime.senders["discord"].aclose()
    del discord_runtime.event.channels["discord"]["guild"]
    sender = discord.sender(discord_runtime)
    assert sender is not None
    discord_runtime.senders["discord"] = sender
    await team_messages(discord_runtime, "discord", "team-12-luftretter", [ANNA], "Hello")
    [row] = await settled_outbox(discord_runtime)
    assert delivered([row]) == [("dead", 1)]
    assert row.last_error is not None and "[channels.discord] guild" in row.last_error
    assert fake_discord.attempts == [] and fake_discord.guild_channels == {}


# -- the event file ---------------------------------------------------------------------------


def parsed(channels: dict[str, Any]) -> dict[str, dict[str, str]]:
    raw = tomllib.loads(event_toml(datetime.fromisoformat("2027-03-19T18:00:00+01:00")))
    return parse_event(raw | {"channels": channels}).channels


def test_the_event_file_names_the_discord_guild_for_team_channels() -> None:
    channels = parsed({"discord": {"announcements": "100000000000000001", "guild": f" {GUILD} "}})
    assert channels["discord"] == {"announcements": "100000000000000001", "guild": GUILD}


@pytest.mark.parametrize(
    ("channels", "problem"),
    [
        ({"discord": {"guild": "Civic Sprint"}}, "channels.discord.guild: expected the guild id in quotes"),
        (
            {"discord": {"guild": 290926798626357999}},
            "channels.discord.guild: expected the guild id in quotes",
        ),
        ({"slack": {"guild": GUILD}}, "channels.slack.guild: unknown field"),
        (
            {"slack": {"team_channels": "secret"}},
            'channels.slack.team_channels: expected "private" or "public"',
        ),
        ({"discord": {"team_channels": "public"}}, "channels.discord.team_channels: unknown field"),
    ],
    ids=["not-an-id", "a-number", "not-on-slack", "slack-visibility", "visibility-not-on-discord"],
)
def test_a_wrong_guild_is_reported(channels: dict[str, Any], problem: str) -> None:
    with pytest.raises(EventFileError) as caught:
        parsed(channels)
    assert [p for p in caught.value.problems if p.startswith(problem)], caught.value.problems
