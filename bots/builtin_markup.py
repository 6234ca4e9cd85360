"""Chat texts as the built-in channels show them: the markup the bot writes for every platform
(`*bold*`, `` `code` ``, links written out) as HTML. Everything else is escaped, and only web
links become links: http(s) and this server's own paths, never `javascript:` and the like."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

CODE = re.compile(r"`([^`\n]+)`")
# As Slack reads it: the stars hug the words they mark, so "5 * 3 * 2" and "a*b*c" stay as written.
BOLD = re.compile(r"(?<![\w*])\*([^*\s]|[^*\s][^*\n]*[^*\s])\*(?![\w*])")
# Our own links are relative when HACKSERVER_PUBLIC_URL is unset: a path of two parts at least
# (so `/hack help` is no link, nor `//elsewhere`, which a browser would read as another host).
LINK = re.compile(r"https?://[^\s<>\"'`]+|(?<!\S)/[\w.-]+/[^\s<>\"'`]+")
TRAILING = ".,;:!?)]}»”’"  # punctuation after a link ends the sentence, not the link


@lru_cache(maxsize=4096)  # an announcement is shown to every viewer: rendered once
def to_html(text: str) -> Markup:
    parts: list[str] = []
    at = 0
    for code in CODE.finditer(text):
        parts += [_bold(text[at : code.start()]), Markup("<code>%s</code>") % code[1]]
        at = code.end()
    parts.append(_bold(text[at:]))
    return Markup("").join(parts)


def _bold(text: str) -> Markup:
    parts: list[str] = []
    at = 0
    for bold in BOLD.finditer(text):
        parts += [_links(text[at : bold.start()]), Markup("<strong>%s</strong>") % _links(bold[1])]
        at = bold.end()
    parts.append(_links(text[at:]))
    return Markup("").join(parts)


def _links(text: str) -> Markup:
    parts: list[str] = []
    at = 0
    for link in LINK.finditer(text):
        url = link[0].rstrip(TRAILING)
        parts += [
            escape(text[at : link.start()]),
            Markup('<a href="%s" rel="noopener noreferrer">%s</a>') % (url, url),
        ]
        at = link.start() + len(url)
    parts.append(escape(text[at:]))
    return Markup("").join(parts)
