"""The built-in channels as a chat: joining, signed sessions and links, `/hack` typed in the bot
channel and answered live, who may read and post where, organisers, escaping, the posting limit.
Real uvicorn on loopback, httpx and websockets clients."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from bots import builtin
from hackserver.app import create_app
from hackserver.foundation import channels
from hackserver.foundation.i18n import say
from hackserver.foundation.models import Channel, ChannelMessage, Participant
from hackserver.foundation.settings import Settings
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity, identify
from hackserver.web.visitors import COOKIE
from tests.dbstate import migrate, settled_outbox
from tests.fakes import FakeClock
from tests.servers import runtime_of, serving

ORGANISER_TOKEN = "organiser-token-for-tests-0123"
RECEIVE_TIMEOUT = 5.0

ClientFactory = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def settings(database_url: str, event_file: Callable[..., Path], kickoff: datetime) -> Settings:
    settings = Settings(
        database_url=database_url, event_path=event_file(kickoff=kickoff), organiser_token=ORGANISER_TOKEN
    )
    if not settings.is_sqlite:  # the app migrates SQLite itself; PostgreSQL is migrated by a deploy step
        await migrate(database_url)
    return settings


@pytest.fixture
async def server(settings: Settings, kickoff: datetime, free_port: int) -> AsyncIterator[uvicorn.Server]:
    app = create_app(settings, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port) as server:
        yield server


@pytest.fixture
def browser_like(server: uvicorn.Server) -> ClientFactory:
    """A client with its own cookie jar: one person in one browser."""

    def make() -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10)

    return make


@pytest.fixture
async def alice(browser_like: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_like() as client:
        await join(client, "Alice")
        yield client


@pytest.fixture
async def bob(browser_like: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_like() as client:
        await join(client, "Bob")
        yield client


async def join(client: httpx.AsyncClient, name: str) -> httpx.Response:
    return await client.post("/channels/join?lang=en", data={"name": name})


async def bot_channel_of(client: httpx.AsyncClient) -> str:
    """The name of the client's own bot channel, as joining again tells it."""
    response = await client.post("/channels/join?lang=en", data={"name": "again"})
    location = httpx.URL(response.headers["location"])
    return location.params["channel"]


def ws_url(server: uvicorn.Server, channel: str = "announcements") -> str:
    return f"ws://127.0.0.1:{server.config.port}/ws/channels?channel={channel}&lang=en"


def as_cookie(client: httpx.AsyncClient) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}


async def receive_until(ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while not wanted(frame := json.loads(await ws.recv())):
            pass
    return frame


def a_reply(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["message"]["reply"] is not None


async def say_over(ws: ClientConnection, channel: str, text: str) -> None:
    await ws.send(json.dumps({"type": "say", "channel": channel, "text": text}))


async def messages_in(runtime: Runtime, channel: str) -> list[ChannelMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(ChannelMessage).join(Channel).where(Channel.name == channel).order_by(ChannelMessage.id)
        )
        return list(rows)


async def participants(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Participant)) or 0)


# -- joining and signing in ---------------------------------------------------------------------


async def test_joining_creates_one_participant_and_sets_an_httponly_lax_cookie(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    async with browser_like() as client:
        first = await join(client, "Alice")
        await join(client, "Alice")
    assert first.status_code == 303
    assert httpx.URL(first.headers["location"]).params["channel"].startswith("bot-")
    cookie = first.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert await participants(runtime_of(server)) == 1


async def test_the_page_greets_a_joined_participant_with_their_bot_channel(alice: httpx.AsyncClient) -> None:
    page = (await alice.get("/channels?lang=en")).text
    assert "Alice" in page
    assert ">@hackbot</a>" in page
    assert 'id="join"' not in page


async def test_without_a_session_the_page_shows_announcements_and_the_join_form(
    browser_like: ClientFactory,
) -> None:
    async with browser_like() as client:
        page = (await client.get("/channels?lang=en")).text
    assert 'id="join"' in page
    assert ">@hackbot</a>" not in page
    assert 'id="composer"' not in page


async def test_a_personal_link_signs_in_and_leaves_the_address_bar(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    runtime = runtime_of(server)
    identity = Identity("slack", "T1", "U1", "Uma")
    async with runtime.transaction() as tx:
        await identify(tx, identity)
    async with browser_like() as client:
        response = await client.get(builtin.sign_in_path(runtime.links.secret, identity) + "&lang=en")
        page = (await client.get(response.headers["location"])).text
    assert response.status_code == 303
    assert "as=" not in response.headers["location"]
    assert "Uma" in page
    assert ">@hackbot</a>" in page


async def test_a_personal_link_handed_out_in_a_discord_guild_before_0016_still_signs_in(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    runtime = runtime_of(server)
    async with runtime.transaction() as tx:  # keyed by the user id alone since 0016
        await identify(tx, Identity("discord", "", "80351110224678912", "Nelly"))
    link = builtin.sign_in_path(
        runtime.links.secret, Identity("discord", "290926798626357999", "80351110224678912", "Nelly")
    )
    async with browser_like() as client:
        response = await client.get(link + "&lang=en")
        page = (await client.get(response.headers["location"])).text
    assert response.status_code == 303 and "Nelly" in page


async def uma_link(server: uvicorn.Server) -> str:
    """The personal sign-in link of Uma, a participant from Slack."""
    runtime = runtime_of(server)
    identity = Identity("slack", "T1", "U1", "Uma")
    async with runtime.transaction() as tx:
        await identify(tx, identity)
    return builtin.sign_in_path(runtime.links.secret, identity) + "&lang=en"


def switch_form(page: str) -> dict[str, str]:
    """The fields of the form that switches person, as the question page has them."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    return {name: html.unescape(value) for name, value in fields.items()}


def same_site(server: uvicorn.Server) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{server.config.port}"}


async def test_someone_elses_link_asks_first_and_leaves_the_session_as_it_was(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    cookie = alice.cookies[COOKIE]
    link = await uma_link(server)
    german = await alice.get(link.replace("lang=en", "lang=de"))
    response = await alice.get(link)
    assert response.status_code == 200
    assert COOKIE not in response.cookies
    assert "You are signed in as Alice. Sign in as Uma instead?" in response.text
    assert "Du bist als Alice angemeldet. Stattdessen als Uma anmelden?" in german.text
    assert response.headers["referrer-policy"] == "same-origin"  # the page's address holds the token
    assert alice.cookies[COOKIE] == cookie
    assert '<strong id="me">Alice</strong>' in (await alice.get("/channels?lang=en")).text


async def test_switching_person_is_the_question_pages_form(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    question = (await alice.get(await uma_link(server))).text
    switched = await alice.post(
        "/channels/switch?lang=en", data=switch_form(question), headers=same_site(server)
    )
    assert switched.status_code == 303
    assert "as=" not in switched.headers["location"]
    assert '<strong id="me">Uma</strong>' in (await alice.get("/channels?lang=en")).text


async def test_a_switch_without_the_pages_key_or_from_another_site_is_refused(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    link = await uma_link(server)
    fields = switch_form((await alice.get(link)).text)
    forged = await alice.post("/channels/switch?lang=en", data={"as": fields["as"]})
    elsewhere = await alice.post(
        "/channels/switch?lang=en", data=fields, headers={"Origin": "https://evil.example"}
    )
    assert (forged.status_code, elsewhere.status_code) == (403, 403)
    assert COOKIE not in forged.cookies and COOKIE not in elsewhere.cookies
    assert '<strong id="me">Alice</strong>' in (await alice.get("/channels?lang=en")).text


async def test_ones_own_link_while_signed_in_goes_on_without_a_question(alice: httpx.AsyncClient) -> None:
    page = (await alice.get("/channels?lang=en")).text
    link = re.search(r'id="personal-link" readonly value="([^"]*)"', page)
    assert link is not None
    response = await alice.get(html.unescape(link.group(1)) + "&lang=en")
    assert response.status_code == 303 and "as=" not in response.headers["location"]
    assert '<strong id="me">Alice</strong>' in (await alice.get(response.headers["location"])).text


async def test_the_personal_link_never_names_the_host_a_request_gave(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    page = (await alice.get("/channels?lang=en", headers={"host": "evil.example"})).text
    link = re.search(r'id="personal-link" readonly value="([^"]*)"', page)
    assert link is not None and link.group(1).startswith("/channels?as=")  # no public address set: a path


async def test_the_personal_link_starts_with_the_public_address(
    settings: Settings, kickoff: datetime, free_port: int
) -> None:
    public = replace(settings, public_url="https://hack.example.org")
    app = create_app(public, clock=FakeClock(kickoff + timedelta(minutes=20)), run_clock=False)
    async with serving(app, free_port), httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}") as client:
        await join(client, "Alice")
        page = (await client.get("/channels?lang=en", headers={"host": "evil.example"})).text
    assert 'value="https://hack.example.org/channels?as=' in page and "evil.example" not in page


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    runtime = runtime_of(server)
    async with browser_like() as client:
        await join(client, "Alice")
        cookie = client.cookies[COOKIE]
        page = (await client.get("/channels?lang=en")).text
        link = re.search(r'id="personal-link" readonly value="([^"]*)"', page)
        assert link is not None
        assert (await client.post("/channels/leave?lang=en")).status_code == 303
    async with browser_like() as thief:  # the cookie as it was, copied before the sign-out
        thief.cookies.set(COOKIE, cookie)
        page = (await thief.get("/channels?lang=en")).text
        assert 'id="join"' in page and "Alice" not in page
        assert (await thief.post("/channels/leave?lang=en")).status_code == 303  # changes nothing
    async with browser_like() as client:  # the personal link signs in again, with a new session
        await client.get(html.unescape(link.group(1)) + "&lang=en")
        assert "Alice" in (await client.get("/channels?lang=en")).text
        builtin_session = builtin.read(runtime.links.secret, client.cookies[COOKIE])
        assert builtin_session is not None and builtin_session.generation == 1


async def test_an_expired_link_is_refused(server: uvicorn.Server, browser_like: ClientFactory) -> None:
    runtime = runtime_of(server)
    async with browser_like() as client:
        await join(client, "Alice")
        token = builtin.read(runtime.links.secret, client.cookies[COOKIE])
        assert token is not None

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - builtin.SESSION_AGE - 60

    expired = URLSafeTimedSerializer(runtime.links.secret, salt=builtin.SALT, signer=LongAgo).dumps(
        [token.platform, token.workspace, token.user_id, ""]
    )
    async with browser_like() as stranger:
        response = await stranger.get("/channels", params={"as": expired, "lang": "en"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "This link is invalid or has expired." in response.text


async def test_a_forged_session_cookie_is_refused(
    server: uvicorn.Server, alice: httpx.AsyncClient, browser_like: ClientFactory
) -> None:
    channel = await bot_channel_of(alice)
    token = builtin.read(runtime_of(server).links.secret, alice.cookies[COOKIE])
    assert token is not None
    forged = builtin.sign("not-the-server-secret-" * 3, token)
    async with browser_like() as mallory:
        mallory.cookies.set(COOKIE, forged)
        response = await mallory.get("/channels", params={"channel": channel})
        page = (await mallory.get("/channels")).text
    assert response.status_code == 404
    assert 'id="join"' in page


async def test_organiser_sign_in_with_a_wrong_token_is_refused(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    async with browser_like() as client:
        response = await client.post("/channels/organiser?lang=en", data={"token": ORGANISER_TOKEN + "x"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "That organiser token is not right." in response.text
    assert await participants(runtime_of(server)) == 0


# -- the bot channel ------------------------------------------------------------------------------


async def test_help_typed_in_the_bot_channel_is_answered_live_and_kept(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        await receive_until(ws, lambda f: f["type"] == "phase")
        await say_over(ws, channel, "/hack help")
        frame = await receive_until(ws, a_reply)
    assert frame["channel"] == channel
    assert frame["message"]["author"] == builtin.BOT_NAME
    assert frame["message"]["reply"]["title"] == say("en", "help.title")
    kept = await messages_in(runtime_of(server), channel)
    assert (kept[0].author, kept[0].text) == ("Alice", "/hack help")
    assert kept[1].reply is not None and kept[1].reply["title"] == say("en", "help.title")


async def test_the_conversation_is_shown_again_after_a_reload(alice: httpx.AsyncClient) -> None:
    channel = await bot_channel_of(alice)
    await alice.post(f"/channels/{channel}/messages?lang=en", data={"text": "status"})
    page = (await alice.get("/channels", params={"channel": channel, "lang": "en"})).text
    assert "Test Sprint: Kickoff" in page  # the status reply's title
    assert '<table class="fields">' in page


async def test_another_participant_cannot_read_someones_bot_channel(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    await alice.post(f"/channels/{channel}/messages", data={"text": "profile skills secret-sauce"})
    response = await bob.get("/channels", params={"channel": channel})
    assert response.status_code == 404
    assert "secret-sauce" not in response.text


async def test_another_participant_cannot_post_to_someones_bot_channel(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    response = await bob.post(f"/channels/{channel}/messages", data={"text": "help"})
    assert response.status_code == 404
    assert await messages_in(runtime_of(server), channel) == []


async def test_another_participant_cannot_open_someones_bot_channel_over_the_websocket(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server, channel), additional_headers=as_cookie(bob)):
            pass
    assert refused.value.response.status_code == 403


async def test_another_participant_cannot_post_to_someones_bot_channel_over_the_websocket(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    async with connect(ws_url(server), additional_headers=as_cookie(bob)) as ws:
        await say_over(ws, channel, "help")
        frame = await receive_until(ws, lambda f: f["type"] == "error")
    assert frame["error"] == "not_found"
    assert await messages_in(runtime_of(server), channel) == []


async def test_someones_bot_conversation_is_not_pushed_to_other_viewers(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    seen: list[dict[str, Any]] = []
    async with (
        connect(ws_url(server), additional_headers=as_cookie(bob)) as watching,
        connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as asking,
    ):
        await receive_until(watching, lambda f: f["type"] == "phase")
        await say_over(asking, channel, "help")
        await receive_until(asking, a_reply)
        runtime = runtime_of(server)
        async with runtime.transaction() as tx:  # the bus keeps order: this comes after Alice's
            await channels.post(tx, runtime.event_id, "announcements", author="Orga", text="marker")
        await receive_until(watching, lambda f: seen.append(f) or f.get("channel") == "announcements")
    assert [f["channel"] for f in seen if f["type"] == "message"] == ["announcements"]


async def test_a_participant_is_refused_the_organiser_commands(alice: httpx.AsyncClient) -> None:
    channel = await bot_channel_of(alice)
    await alice.post(f"/channels/{channel}/messages?lang=en", data={"text": "announce hello"})
    page = (await alice.get("/channels", params={"channel": channel, "lang": "en"})).text
    assert "is for organisers only" in page


async def test_an_organiser_announcement_reaches_announcements_live(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    async with browser_like() as organiser, browser_like() as anyone:
        signed_in = await organiser.post("/channels/organiser?lang=en", data={"token": ORGANISER_TOKEN})
        channel = httpx.URL(signed_in.headers["location"]).params["channel"]
        async with (
            connect(ws_url(server)) as watching,
            connect(ws_url(server, channel), additional_headers=as_cookie(organiser)) as asking,
        ):
            await receive_until(watching, lambda f: f["type"] == "phase")
            await say_over(asking, channel, "/hack announce hello everybody")
            frame = await receive_until(watching, lambda f: f["type"] == "message")
        page = (await anyone.get("/channels?lang=en")).text
    assert frame["channel"] == "announcements"
    assert frame["message"]["text"] == "hello everybody"
    assert "hello everybody" in page


async def test_markup_shows_as_html_live_and_after_a_reload_and_all_else_is_escaped(
    server: uvicorn.Server, browser_like: ClientFactory
) -> None:
    text = "*Dr. Anna Schäfer* at https://meet.example.org/x, `/hack experts` <script>alert(1)</script>"
    async with browser_like() as organiser, browser_like() as anyone:
        signed_in = await organiser.post("/channels/organiser?lang=en", data={"token": ORGANISER_TOKEN})
        channel = httpx.URL(signed_in.headers["location"]).params["channel"]
        async with (
            connect(ws_url(server)) as watching,
            connect(ws_url(server, channel), additional_headers=as_cookie(organiser)) as asking,
        ):
            await receive_until(watching, lambda f: f["type"] == "phase")
            await say_over(asking, channel, f"/hack announce {text}")
            frame = await receive_until(watching, lambda f: f["type"] == "message")
        page = (await anyone.get("/channels?lang=en")).text
    shown = (
        '<strong>Dr. Anna Schäfer</strong> at <a href="https://meet.example.org/x" rel="noopener noreferrer">'
        "https://meet.example.org/x</a>, <code>/hack experts</code> &lt;script&gt;alert(1)&lt;/script&gt;"
    )
    assert shown in frame["html"]
    assert shown in page
    assert "<script>alert" not in page


async def test_an_organiser_signing_in_again_is_one_account_and_no_registration(
    browser_like: ClientFactory,
) -> None:
    auth = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}
    channels_of = []
    for _ in range(2):  # another browser, or the cookie gone: the same organiser signs in again
        async with browser_like() as organiser:
            signed_in = await organiser.post(
                "/channels/organiser?lang=en", data={"token": ORGANISER_TOKEN, "name": "Orga"}
            )
            channels_of.append(httpx.URL(signed_in.headers["location"]).params["channel"])
            channel = channels_of[-1]
            await organiser.post(f"/channels/{channel}/messages?lang=en", data={"text": "stats"})
            page = (await organiser.get("/channels", params={"channel": channel, "lang": "en"})).text
            assert re.search(r"Participants</th><td[^>]*>0<", page)
    assert channels_of[0] == channels_of[1]
    async with browser_like() as alice:
        await join(alice, "Alice")
        counts = (await alice.get("/api/v1/dashboard", headers=auth)).json()["counts"]
        listed = (await alice.get("/api/v1/participants", headers=auth)).json()["participants"]
    assert counts["registrations"] == 1 and [p["name"] for p in listed] == ["Alice"]


async def test_html_in_a_display_name_and_a_command_is_escaped(browser_like: ClientFactory) -> None:
    async with browser_like() as client:
        await join(client, '<img src=x onerror="alert(1)">')
        channel = await bot_channel_of(client)
        await client.post(f"/channels/{channel}/messages", data={"text": "<script>alert(2)</script>"})
        page = (await client.get("/channels", params={"channel": channel})).text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "<script>alert(2)" not in page


async def test_typing_faster_than_five_a_second_is_refused(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        for n in range(20):
            await say_over(ws, channel, f"flood {n}")
        frame = await receive_until(ws, lambda f: f["type"] == "error")
    assert frame["error"] == "too_fast"


async def test_an_over_long_message_over_the_websocket_is_refused_and_not_kept(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    before = len(await messages_in(runtime_of(server), channel))
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        await say_over(ws, channel, "x" * 2001)
        frame = await receive_until(ws, lambda f: f["type"] == "error")
    assert frame["error"] == "too_long"
    assert frame["message"] == "The message has 2001 characters; at most 2000 are allowed."
    assert len(await messages_in(runtime_of(server), channel)) == before
    assert len(await messages_in(runtime_of(server), channel)) < 2 * 20


async def test_a_lone_surrogate_or_a_nul_is_refused_at_the_door_and_the_socket_stays_open(
    server: uvicorn.Server, alice: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    before = len(await messages_in(runtime_of(server), channel))
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        await say_over(ws, channel, "announce Pizza \ud800 im Foyer")
        frame = await receive_until(ws, lambda f: f["type"] == "error")
        assert frame["error"] == "unstorable"
        assert frame["message"] == (
            "The message contains a character that cannot be stored (U+D800); please remove it and try again."
        )
        await ws.send(json.dumps({"type": "say", "channel": "\ud800", "text": "hello"}))
        frame = await receive_until(ws, lambda f: f["type"] == "error")
        assert frame["error"] == "not_found"  # echoed back, and the socket still works
    refused = await alice.post(f"/channels/{channel}/messages", data={"text": "team create Null\x00Team"})
    assert refused.status_code == 400 and "(U+0000)" in refused.text
    assert len(await messages_in(runtime_of(server), channel)) == before


async def test_a_team_formed_in_the_bot_channel_gets_a_channel_its_members_alone_see(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(alice)
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        await receive_until(ws, lambda f: f["type"] == "phase")
        await say_over(ws, channel, "/hack team create Night Owls")
        created = (await receive_until(ws, a_reply))["message"]["reply"]
    code = dict(created["fields"])["Join code"]
    team_channel = dict(created["fields"])["Team channel"]
    assert "#Night Owls" in (await alice.get("/channels")).text
    assert "#Night Owls" not in (await bob.get("/channels")).text
    assert (await bob.get("/channels", params={"channel": team_channel})).status_code == 404
    await bob.post(
        f"/channels/{await bot_channel_of(bob)}/messages?lang=en", data={"text": f"team join {code}"}
    )
    await settled_outbox(runtime_of(server))
    page = await bob.get("/channels", params={"channel": team_channel, "lang": "en"})
    assert page.status_code == 200 and "Bob joined" in page.text  # the team channel says who came


# -- who reads a team channel, while connected -------------------------------------------------


async def team_of_two(alice: httpx.AsyncClient, bob: httpx.AsyncClient) -> str:
    """Alice creates a team and Bob joins it, in their bot channels; the team channel's name."""
    created = await alice.post(
        f"/channels/{await bot_channel_of(alice)}/messages?lang=en", data={"text": "team create Night Owls"}
    )
    assert created.status_code == 303
    page = (await alice.get("/channels", params={"channel": await bot_channel_of(alice)})).text
    found = re.search(r"(team-night-owls-[a-z0-9]+)", page)
    assert found is not None
    team_channel = found.group(1)
    code = team_channel.rsplit("-", 1)[1].upper()
    await bob.post(
        f"/channels/{await bot_channel_of(bob)}/messages?lang=en", data={"text": f"team join {code}"}
    )
    return team_channel


async def test_a_member_who_leaves_no_longer_receives_the_team_channel_on_an_open_socket(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    team_channel = await team_of_two(alice, bob)
    channel = await bot_channel_of(alice)
    seen: list[dict[str, Any]] = []
    async with connect(ws_url(server, channel), additional_headers=as_cookie(alice)) as ws:
        await receive_until(ws, lambda f: f["type"] == "phase")
        await bob.post(f"/channels/{team_channel}/messages?lang=en", data={"text": "before"})
        await receive_until(ws, lambda f: f.get("channel") == team_channel)
        await say_over(ws, channel, "/hack team leave")
        await receive_until(ws, a_reply)
        await bob.post(f"/channels/{team_channel}/messages?lang=en", data={"text": "after"})
        await say_over(ws, channel, "/hack help")  # the bus keeps order: this comes after Bob's
        await receive_until(ws, lambda f: seen.append(f) or a_reply(f))
    assert [f for f in seen if f.get("channel") == team_channel] == []


async def test_someone_who_joins_a_team_receives_its_channel_on_an_open_socket(
    server: uvicorn.Server, alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    channel = await bot_channel_of(bob)
    async with connect(ws_url(server, channel), additional_headers=as_cookie(bob)) as ws:
        await receive_until(ws, lambda f: f["type"] == "phase")
        team_channel = await team_of_two(alice, bob)
        await alice.post(f"/channels/{team_channel}/messages?lang=en", data={"text": "welcome, Bob"})
        frame = await receive_until(
            ws, lambda f: f.get("channel") == team_channel and f["message"]["author"] == "Alice"
        )
    assert frame["message"]["text"] == "welcome, Bob"
