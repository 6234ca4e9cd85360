"""How long each text a person types may be, in one table, and the one check every entry point
calls before it stores or sends the text: the bot's commands, the pages' forms, the JSON API.

A longer text is refused, never cut: the refusal names the field and its limit, and nothing
changes. So is a text with a character no database or chat platform takes: a NUL (PostgreSQL
refuses it) or a lone surrogate such as JSON's "\\ud800" (it has no UTF-8, so every delivery fails). Catalogue files and the API bodies that add to them (challenges, experts, jurors) report
every bad row at once, each in its own words, with the limits of CATALOGUES. Submission fields are not
here: the event file sets each one's `max_length`.
"""

from __future__ import annotations

import re

from hackserver.foundation.errors import FieldError
from hackserver.foundation.i18n import Term

LIMITS = {  # characters; the catalogue names each field as "field.<kind>"
    "command": 2500,
    "team_name": 40,
    "skill": 40,
    "interest": 40,
    "topic": 40,
    "question": 300,
    "announcement": 2000,
    "message": 2000,
    "display_name": 60,
    "comment": 2000,
}
CATALOGUES = {  # characters, by catalogue and column; a list's columns bound each of its items
    "challenge": {
        "id": 40,
        "title": 200,
        "description": 5000,
        "category": 80,
        "owner": 200,
        "contact": 200,
        "tags": 40,
    },
    "expert": {"name": 120, "bio": 2000, "timezone": 64, "contact": 200, "join_url": 500, "topics": 40},
    "juror": {"name": 120, "organisation": 200},
}


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BadText(FieldError):
    code = "bad_text"


class TooLong(BadText):
    code = "too_long"

    def __init__(self, kind: str, length: int, field: str | None = None) -> None:
        super().__init__(
            field or kind, "text.too_long", what=Term(f"field.{kind}"), length=length, limit=LIMITS[kind]
        )


class Unstorable(BadText):
    code = "unstorable"

    def __init__(self, kind: str, character: str, field: str | None = None) -> None:
        super().__init__(
            field or kind, "text.unstorable", what=Term(f"field.{kind}"), character=f"U+{ord(character):04X}"
        )


def refused(kind: str, text: str, field: str | None = None) -> BadText | None:
    """The refusal for `text` in a field of this kind, or None when it fits and can be stored."""
    if (bad := _UNSTORABLE.search(text)) is not None:
        return Unstorable(kind, bad.group(), field)
    return TooLong(kind, len(text), field) if len(text) > LIMITS[kind] else None


def bounded(kind: str, text: str, field: str | None = None) -> str:
    """The text itself when it fits its field and can be stored; else raises BadText."""
    if (refusal := refused(kind, text, field)) is not None:
        raise refusal
    return text
