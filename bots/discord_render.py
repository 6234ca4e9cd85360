"""Replies and announcements as Discord messages: content, embeds and link buttons, and never a
mention of anyone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bots.core import Reply, in_language

EPHEMERAL = 1 << 6
NO_MENTIONS: dict[str, list[str]] = {
    "parse": []
}  # text from participants never pings @everyone or anyone else


def render(reply: Reply) -> dict[str, Any]:
    """A reply as a Discord message: plain content when it is short text, else its headline as content
    and the rest in an embed; links as link buttons."""
    message: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if reply.title or reply.fields or len(reply.text) > 2000:
        # The headline is plain content, so notifications, screen readers and clients that hide
        # embeds still say what the message is.
        message["content"] = _cut(reply.title or reply.text.split("\n", 1)[0], 2000)
        embed: dict[str, Any] = {}
        if reply.text:
            embed["description"] = reply.text[:4096]
        if reply.fields:
            embed["fields"] = [
                {"name": k[:256] or "\u200b", "value": v[:1024] or "\u200b", "inline": True}
                for k, v in reply.fields[:25]
            ]
        if embed:
            message["embeds"] = [embed]
    else:
        message["content"] = reply.text
    links = [link for link in reply.links if link[1].startswith(("https://", "http://"))][:25]
    if links:
        message["components"] = [
            {
                "type": 1,  # an action row of up to 5 buttons
                "components": [
                    {"type": 2, "style": 5, "label": label[:80], "url": url[:512]}
                    for label, url in links[row : row + 5]
                ],
            }
            for row in range(0, len(links), 5)
        ]
    return message


def interaction_response(reply: Reply) -> dict[str, Any]:
    data = render(reply)
    if not reply.public:
        data["flags"] = EPHEMERAL
    return {"type": 4, "data": data}  # CHANNEL_MESSAGE_WITH_SOURCE


def render_announcement(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An announcement in every language it was written in: one line each, or one embed each
    when that is too long for a message."""
    texts: dict[str, str] = payload["texts"]
    several = len(texts) > 1
    lines = [in_language(lang, text) if several else text for lang, text in texts.items()]
    author = str(payload.get("author") or "")
    content = "\n".join([f"**{author}**", *lines] if author else lines)
    if len(content) <= 2000:
        return {"content": content, "allowed_mentions": NO_MENTIONS}
    embeds: list[dict[str, Any]] = [{"description": line[:4096]} for line in lines[:10]]
    headline = f"**{_cut(author, 1996)}**" if author else _cut(lines[0], 2000)
    return {"content": headline, "embeds": embeds, "allowed_mentions": NO_MENTIONS}


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
