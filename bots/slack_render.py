"""Replies and announcements as Slack messages: Block Kit with a plain-text fallback, escaped as
Slack wants its text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bots.core import Reply, in_language


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, size: int) -> str:
    """At most `size` characters of an escaped text, never ending inside an entity (`&amp;`)."""
    if len(text) <= size:
        return text
    head = text[:size]
    entity = head.rfind("&", size - 4)  # the longest, "&amp;", is 5 characters
    return head[:entity] if entity != -1 and ";" not in head[entity:] else head


def render(reply: Reply) -> dict[str, Any]:
    """A reply as a Slack message: Block Kit, with a plain `text` for notifications and old clients."""
    blocks: list[dict[str, Any]] = []
    if reply.title:
        blocks.append(
            {"type": "header", "text": {"type": "plain_text", "text": reply.title[:150], "emoji": True}}
        )
    for chunk in _chunks(escape(reply.text), 3000):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    for start in range(0, len(reply.fields), 10):
        fields = reply.fields[start : start + 10]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": cut(f"*{escape(k)}*\n{escape(v)}", 2000)} for k, v in fields
                ],
            }
        )
    # Slack refuses a whole message whose button has a relative URL; those stay in the text below.
    absolute = [link for link in reply.links if link[1].startswith(("https://", "http://"))]
    if absolute:
        buttons = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": label[:75], "emoji": True},
                "url": url[:3000],
                "action_id": f"link-{n}",
            }
            for n, (label, url) in enumerate(absolute[:25])
        ]
        blocks.append({"type": "actions", "elements": buttons})
    lines = [reply.title or "", reply.text, *(f"{k}: {v}" for k, v in reply.fields)]
    lines += [f"{label}: {url}" for label, url in reply.links]
    return {
        "response_type": "in_channel" if reply.public else "ephemeral",
        "text": cut(escape("\n".join(line for line in lines if line)), 3000),
        "blocks": blocks[:50],
    }


def render_announcement(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An announcement in every language it was written in, one section each."""
    texts: dict[str, str] = payload["texts"]
    several = len(texts) > 1
    lines = [escape(in_language(lang, text)) if several else escape(text) for lang, text in texts.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(line, 3000)}} for line in lines[:45]
    ]
    if payload.get("author"):
        blocks.append(
            {"type": "context", "elements": [{"type": "plain_text", "text": str(payload["author"])[:150]}]}
        )
    return {"text": cut("\n".join(lines), 3000), "blocks": blocks}


def _chunks(text: str, size: int) -> list[str]:
    chunks: list[str] = []
    while text:
        end = text.rfind("\n", 0, size) if len(text) > size else len(text)
        chunk = text[:end] if end > 0 else cut(text, size)
        chunks.append(chunk)
        text = text[len(chunk) :].lstrip("\n")
    return chunks
