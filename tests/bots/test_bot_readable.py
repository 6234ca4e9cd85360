"""Bot messages stay readable for screen readers and in notifications: every Slack message carries a
plain `text` next to its blocks, every Discord embed a plain `content`, nothing is said only by an
emoji or a colour. Real replies of the command layer, through the real renderers."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bots import discord_render, slack_render, webhook
from bots.commands import Reply
from hackserver.runtime import Runtime
from tests.bots.test_bot_commands import ALICE, ORGANISER, ask
from tests.fakes import FakeClock
from tests.office import expert, publish

# One of each kind of answer: help, status, a profile, a team, lists, links, refusals, usage help.
ASKED = [
    "help",
    "status",
    "profile skills python, ux langs en tz Europe/Berlin",
    "profile",
    "team create Luftretter",
    "team info",
    "teams open",
    "challenges",
    "experts",
    "submit",
    "match me",
    "team join NOPE99",
    "profile skills",
    "challenge pick",
    "dance",
]
ANNOUNCED = {"texts": {"de": "Pizza ist da", "en": "Pizza is here"}, "author": "Orga"}
LONG = {"texts": {"de": "Lang. " * 300, "en": "Long. " * 300}, "author": "Orga"}


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # rendering does not depend on the database


@pytest.fixture
async def replies(runtime_at: tuple[Runtime, FakeClock]) -> list[Reply]:
    runtime, clock = runtime_at
    anna = await expert(runtime)
    await publish(runtime, anna.id, clock.now() + timedelta(hours=30))
    runtime.event.organisers["discord"] = ("ORG1",)
    answers = [await ask(runtime, text, ALICE, locale=locale) for locale in ("en", "de") for text in ASKED]
    return [*answers, await ask(runtime, "stats", ORGANISER)]


def without_symbols(text: str) -> str:
    """The text with every emoji, flag and other pictograph taken out."""
    return "".join(c for c in text if unicodedata.category(c) not in ("So", "Sk", "Cf"))


def words_of(text: str) -> set[str]:
    return set(re.findall(r"\w{2,}", without_symbols(text)))


def keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner)


def said(reply: Reply) -> str:
    return "\n".join([reply.title or "", reply.text, *(f"{k} {v}" for k, v in reply.fields)])


async def test_every_slack_reply_has_a_text_fallback_with_all_of_its_words(replies: list[Reply]) -> None:
    for reply in replies:
        message = slack_render.render(reply)
        assert message["blocks"], reply
        fallback = message["text"]
        assert words_of(fallback), f"the fallback says nothing without its emoji: {fallback!r}"
        missing = words_of(slack_render.escape(said(reply))) - words_of(fallback)
        assert not missing, f"only in the blocks, not in the text: {missing}"
        for label, url in reply.links:
            assert f"{slack_render.escape(label)}: {slack_render.escape(url)}" in fallback


async def test_every_discord_embed_has_content_that_says_what_it_is(replies: list[Reply]) -> None:
    embedded = 0
    for reply in replies:
        message = discord_render.render(reply)
        content = message["content"]
        assert words_of(content), f"the content says nothing without its emoji: {content!r}"
        if "embeds" in message:
            embedded += 1
            assert content == (reply.title or reply.text.split("\n", 1)[0])[:2000]
            assert reply.title is None or "title" not in message["embeds"][0]  # said once, as content
    assert embedded >= 5, "too few embeds to say anything about them"


def test_a_long_announcement_in_embeds_has_content_too() -> None:
    message = discord_render.render_announcement(LONG)
    assert message["embeds"] and message["content"] == "**Orga**"


@pytest.mark.parametrize("payload", [ANNOUNCED, LONG])
def test_each_language_of_an_announcement_is_named_in_words_not_only_by_a_flag(
    payload: dict[str, Any],
) -> None:
    slack_text = slack_render.render_announcement(payload)["text"]
    discord_message = discord_render.render_announcement(payload)
    discord_text = discord_message["content"] + "".join(
        e["description"] for e in discord_message.get("embeds", [])
    )
    for shown in (slack_text, discord_text, webhook.render_announcement(payload)):
        assert "DE: Lang" in shown or "DE: Pizza ist da" in shown
        assert "EN: Long" in shown or "EN: Pizza is here" in shown


async def test_no_message_carries_a_colour(replies: list[Reply]) -> None:
    rendered = [slack_render.render(r) for r in replies] + [discord_render.render(r) for r in replies]
    rendered += [slack_render.render_announcement(ANNOUNCED), discord_render.render_announcement(LONG)]
    for message in rendered:
        assert not {"color", "attachments"} & set(keys(message)), json.dumps(message)[:300]
