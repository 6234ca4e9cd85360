"""`hackserver simulate`: reads the target's secrets from the environment (the same variables the
server reads), casts the participants, runs the stages under a progress bar and reports."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from nacl.signing import SigningKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hackserver.foundation.errors import SettingsError
from hackserver.simulation.plan import cast
from hackserver.simulation.report import summary
from hackserver.simulation.stages import Simulation
from hackserver.simulation.wire import Failed, Tally, Wire

DISCORD_KEY = "SIMULATE_DISCORD_SIGNING_KEY"  # the private half of the server's DISCORD_PUBLIC_KEY


@dataclass(frozen=True)
class Options:
    url: str
    participants: int
    speed: float
    seed: int
    until: str
    kickoff_minutes: float
    connections: int
    wait: float = 60.0  # seconds to wait for a server that is still starting


def secrets_from_env() -> tuple[str | None, SigningKey | None, str]:
    slack = os.environ.get("SLACK_SIGNING_SECRET", "").strip() or None
    discord = os.environ.get(DISCORD_KEY, "").strip() or None
    token = os.environ.get("HACKSERVER_ORGANISER_TOKEN", "").strip()
    if not token:
        raise SettingsError("HACKSERVER_ORGANISER_TOKEN: the simulator needs the server's organiser token")
    key = None
    if discord is not None:
        try:
            key = SigningKey(bytes.fromhex(discord))
        except ValueError:
            raise SettingsError(
                f"{DISCORD_KEY}: expected 64 hex characters (an Ed25519 private key)"
            ) from None
        public = os.environ.get("DISCORD_PUBLIC_KEY", "").strip().lower()
        if public and public != key.verify_key.encode().hex():
            raise SettingsError(f"{DISCORD_KEY}: its public key is not DISCORD_PUBLIC_KEY")
    if slack is None and key is None:
        raise SettingsError(f"set SLACK_SIGNING_SECRET or {DISCORD_KEY} (or both): the server's chat secrets")
    return slack, key, token


async def simulate(options: Options, console: Console) -> dict[str, Any]:
    slack, discord, token = secrets_from_env()
    platforms = tuple(name for name, secret in (("slack", slack), ("discord", discord)) if secret)
    tally = Tally()
    # aiohttp, not httpx: httpx's pool does work per open connection on every request, which at a
    # few hundred connections cost the simulator more CPU than the server it drives.
    # Idle connections are dropped after 4 s, before uvicorn closes them at 5 s: aiohttp keeps them
    # 15 s, and a request sent just as the server closed its connection failed as "disconnected".
    connector = aiohttp.TCPConnector(limit=options.connections, keepalive_timeout=4.0)
    async with aiohttp.ClientSession(connector=connector) as client:
        await until_serving(client, options.url, options.wait)
        wire = Wire(
            options.url, client, tally, slack_secret=slack, discord_key=discord, organiser_token=token
        )
        try:
            max_team = (await wire.api("GET", "/api/v1/dashboard"))["team_limits"][1]
        except Failed as failure:
            raise SettingsError(f"--url {options.url}: {failure}") from None
        burst = options.kickoff_minutes * 60
        plan = cast(
            options.participants, options.seed, burst_seconds=burst, platforms=platforms, max_team=max_team
        )
        with bar(console) as progress:
            simulation = Simulation(
                wire, tally, plan, speed=options.speed, burst_seconds=burst, progress=progress
            )
            try:
                await simulation.run(options.until)
            except Failed as stopped:
                tally.fail("stopped", str(stopped))
    settings = {
        "participants": options.participants,
        "speed": options.speed,
        "seed": options.seed,
        "until": options.until,
        "kickoff_minutes": options.kickoff_minutes,
        "platforms": list(platforms),
    }
    return summary(simulation.counts, tally, simulation.checks, settings)


async def until_serving(client: aiohttp.ClientSession, url: str, within: float) -> None:
    """Waits for the server to say it is healthy: started together with it, the simulator begins
    when it can rather than failing at once."""
    deadline = time.monotonic() + within
    while True:
        try:
            async with client.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                if response.status == 200:
                    return
                said = f"/healthz answers HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            said = f"no answer ({type(error).__name__})"
        if time.monotonic() >= deadline:
            raise SettingsError(f"--url {url}: the server is not serving within {within:g} s: {said}")
        await asyncio.sleep(0.5)


@contextmanager
def bar(console: Console) -> Iterator[Any]:
    columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        current: list[Any] = []

        def advance(stage: str, steps: int) -> None:
            if stage:
                if current:
                    progress.update(current[-1], completed=progress.tasks[-1].total)
                current.append(progress.add_task(stage, total=steps))
            else:
                progress.advance(current[-1], steps)

        yield advance
