"""The simulator's side of the wire: signed Slack and Discord commands, the organiser API and the
pages behind private links, each request timed and each failure counted by what went wrong."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
from nacl.signing import SigningKey

from hackserver.simulation.plan import Person

SLACK_TEAM, DISCORD_GUILD, DISCORD_APP = "TSIMULATE", "100000000000000000", "100000000000000009"
COMMAND_TIMEOUT = 30.0
ORGANISER_TIMEOUT = 600.0  # the matching of 20,000 people is one request
# Where Slack would take a late reply; the simulator does not wait for those (see Reply.deferred),
# and a closed loopback port refuses them at once instead of loading the server with its own posts.
LATE_REPLIES = "http://127.0.0.1:9/simulated-late-replies"
LINK = re.compile(r"(?:https?://[^\s\"'<>|]+)?(/(?:submit|book|jury|expert)/[A-Za-z0-9._~-]+)")


class Failed(Exception):
    """A step that did not do what it should; its message is the kind it is counted under."""


@dataclass(frozen=True)
class Command:
    """`/hack <path> <options>`: written out for Slack, as a (sub-)command with options for Discord."""

    path: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()
    keywords: bool = False  # options written `name value` (profile), not just `value`

    @property
    def kind(self) -> str:
        return " ".join(self.path)

    def text(self) -> str:
        words = [*self.path]
        for name, value in self.options:
            words += [name, value] if self.keywords else [value]
        return " ".join(words)

    def interaction_data(self) -> dict[str, Any]:
        node: list[dict[str, Any]] = [{"type": 3, "name": k, "value": v} for k, v in self.options]
        for depth in range(len(self.path) - 1, -1, -1):
            sub: dict[str, Any] = {"type": 1 if depth == len(self.path) - 1 else 2, "name": self.path[depth]}
            if node:
                sub["options"] = node
            node = [sub]
        return {"id": DISCORD_APP, "name": "hack", "type": 1, "options": node}


@dataclass
class Tally:
    """Latencies (seconds) by kind of request, failures by kind with the first example of each."""

    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    late: list[float] = field(default_factory=list)  # how far behind its schedule each step began
    stages: dict[str, float] = field(default_factory=dict)  # wall-clock seconds each stage took
    deferred: Counter[str] = field(default_factory=Counter)  # commands acknowledged without their reply

    def fail(self, kind: str, detail: str) -> None:
        self.failures[kind] += 1
        self.examples.setdefault(kind, detail[:300])


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read whole."""

    status: int
    text: str


@dataclass(frozen=True)
class Reply:
    body: str  # the platform's whole answer, as JSON text

    @property
    def deferred(self) -> bool:
        """Acknowledged without the reply (Slack's "working on it", Discord's deferred answer): the
        command took longer than the platform waits, and its reply goes out later, which the
        simulator does not receive."""
        data = json.loads(self.body)
        return data.get("type") == 5 if "type" in data else "blocks" not in data

    def link(self, base: str) -> str | None:
        """The first private link in the reply, on the simulator's base URL (links may name the
        server's public address, which the simulator reaches on loopback)."""
        found = LINK.search(self.body.replace("\\/", "/"))
        return urljoin(base, found.group(1)) if found else None

    def fields(self) -> list[str]:
        """The values of the reply's fields (Slack section fields, Discord embed fields)."""
        data = json.loads(self.body)
        if "blocks" in data:
            return [f["text"].split("\n", 1)[-1] for block in data["blocks"] for f in block.get("fields", [])]
        embeds = data.get("data", {}).get("embeds", [])
        return [f["value"] for embed in embeds for f in embed.get("fields", [])]


class Wire:
    def __init__(
        self,
        base_url: str,
        client: aiohttp.ClientSession,
        tally: Tally,
        *,
        slack_secret: str | None,
        discord_key: SigningKey | None,
        organiser_token: str,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.client, self.tally = client, tally
        self.slack_secret = slack_secret.encode() if slack_secret else None
        self.discord_key = discord_key
        self.organiser = {"Authorization": f"Bearer {organiser_token}"}
        self.serial = itertools.count(1)
        self.run = secrets.token_hex(4)
        self.snowflake = int(time.time() * 1000 - 1420070400000) << 22  # Discord ids grow with time

    async def command(self, person: Person, command: Command) -> Reply:
        if person.platform == "slack":
            url, content, headers = self.slack(person, command)
        else:
            url, content, headers = self.discord(person, command)
        response = await self.timed(
            f"{person.platform} command", "POST", url, content, headers, COMMAND_TIMEOUT
        )
        if response.status != 200:
            raise Failed(f"{person.platform} {command.kind}: HTTP {response.status}")
        reply = Reply(response.text)
        if reply.deferred:
            self.tally.deferred[person.platform] += 1
            raise Failed(f"{person.platform} {command.kind}: only acknowledged, the reply was to come later")
        return reply

    def slack(self, person: Person, command: Command) -> tuple[str, bytes, dict[str, str]]:
        n = next(self.serial)
        body = urlencode(
            {
                "team_id": SLACK_TEAM,
                "team_domain": "simulate",
                "channel_id": "CSIMULATE",
                "channel_name": "general",
                "user_id": person.user_id,
                "user_name": person.name,
                "command": "/hack",
                "text": command.text(),
                "api_app_id": "ASIMULATE",
                "response_url": LATE_REPLIES,
                "trigger_id": f"{n}.{self.run}.{secrets.token_hex(6)}",
            }
        ).encode()
        assert self.slack_secret is not None
        ts = str(int(time.time()))
        signature = hmac.new(self.slack_secret, f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={signature}",
        }
        return f"{self.base}/slack/commands", body, headers

    def discord(self, person: Person, command: Command) -> tuple[str, bytes, dict[str, str]]:
        user = {"id": person.user_id, "username": person.name, "global_name": person.name}
        interaction = {
            "type": 2,
            "id": str(self.snowflake + next(self.serial)),
            "application_id": DISCORD_APP,
            "token": secrets.token_urlsafe(24),
            "version": 1,
            "guild_id": DISCORD_GUILD,
            "channel_id": "100000000000000010",
            "member": {"user": user, "roles": [], "permissions": "0"},
            "locale": "de" if person.languages[0] == "de" else "en-GB",
            "data": command.interaction_data(),
        }
        body = json.dumps(interaction).encode()
        assert self.discord_key is not None
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Signature-Ed25519": self.discord_key.sign(ts.encode() + body).signature.hex(),
            "X-Signature-Timestamp": ts,
        }
        return f"{self.base}/discord/interactions", body, headers

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """An organiser API call; its JSON answer, or Failed naming the call and the server's reason."""
        content = None if body is None else json.dumps(body).encode()
        headers = self.organiser | ({"Content-Type": "application/json"} if content else {})
        kind = f"organiser {method} {path.split('?')[0]}"
        response = await self.timed(kind, method, f"{self.base}{path}", content, headers, ORGANISER_TIMEOUT)
        if response.status >= 300:
            try:
                reason = json.loads(response.text).get("error", "")
            except (ValueError, AttributeError):
                reason = response.text[:200]
            raise Failed(f"{method} {path.split('?')[0]}: HTTP {response.status} {reason}".strip())
        return json.loads(response.text)

    async def page(self, method: str, url: str, form: list[tuple[str, str]] | None = None) -> Answer:
        """A page behind a private link (GET), or a form sent to one (POST); redirects not followed."""
        content = None if form is None else urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if content else {}
        kind = f"page {urlsplit(url).path.split('/')[1]}"
        response = await self.timed(kind, method, url, content, headers, COMMAND_TIMEOUT)
        if response.status >= 400:
            raise Failed(f"{method} /{urlsplit(url).path.split('/')[1]}/…: HTTP {response.status}")
        return response

    async def timed(
        self, kind: str, method: str, url: str, content: bytes | None, headers: dict[str, str], limit: float
    ) -> Answer:
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=limit)
        try:
            async with self.client.request(
                method, url, data=content, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                answer = Answer(response.status, await response.text())
        except TimeoutError:
            raise Failed(f"{kind}: no answer within {limit:g} s") from None
        except aiohttp.ClientError as error:
            raise Failed(f"{kind}: {type(error).__name__}") from None
        self.tally.latencies[kind].append(time.perf_counter() - started)
        return answer
