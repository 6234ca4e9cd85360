"""The simulator's report counts, by platform, the commands a server only acknowledged ("working on
it" on Slack, a deferred answer on Discord), whose reply was to come later."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

import aiohttp
import pytest
from nacl.signing import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hackserver.simulation.plan import MATCH, Person
from hackserver.simulation.report import summary
from hackserver.simulation.wire import Command, Failed, Tally, Wire
from tests.servers import serving


def person(index: int, platform: str) -> Person:
    user = f"USIM{index:04d}" if platform == "slack" else str(9 * 10**17 + index)
    return Person(
        index, platform, user, f"sim-{index}", ("python",), ("en",), "Europe/Berlin", 0.0, 5.0, MATCH, None, 0
    )


def server() -> Starlette:
    """Slack: `status` is answered, anything else only acknowledged; Discord: only acknowledged."""

    async def slack(request: Request) -> JSONResponse:
        if parse_qs((await request.body()).decode())["text"] == ["status"]:
            return JSONResponse({"response_type": "ephemeral", "blocks": [], "text": "ok"})
        return JSONResponse({"response_type": "ephemeral", "text": "Working on it…"})

    async def discord(request: Request) -> JSONResponse:
        return JSONResponse({"type": 5, "data": {"flags": 64}})

    return Starlette(
        routes=[
            Route("/slack/commands", slack, methods=["POST"]),
            Route("/discord/interactions", discord, methods=["POST"]),
        ]
    )


async def test_deferred_acknowledgements_are_counted_by_platform(free_port: int) -> None:
    tally = Tally()
    async with serving(server(), free_port), aiohttp.ClientSession() as client:
        wire = Wire(
            f"http://127.0.0.1:{free_port}",
            client,
            tally,
            slack_secret="secret",
            discord_key=SigningKey(bytes(range(32))),
            organiser_token="token",
        )
        await wire.command(person(1, "slack"), Command(("status",)))
        for number, (platform, words) in enumerate(
            [("slack", ("match", "me")), ("slack", ("team", "info")), ("discord", ("status",))], start=2
        ):
            with pytest.raises(Failed, match="only acknowledged"):
                await wire.command(person(number, platform), Command(words))

    report = summary(Counter(), tally, [], {})
    assert report["deferred"] == {"discord": 1, "slack": 2}
    assert report["latency_ms"]["slack command"]["requests"] == 3


def test_a_report_without_deferred_acknowledgements_says_none() -> None:
    assert summary(Counter(), Tally(), [], {})["deferred"] == {}
