"""How long each text a person types may be, in one table, and the one check every entry point
calls before it stores or sends the text: the bot's commands, the pages' forms, the JSON API.

A longer text is refused, never cut: the refusal names the field and its limit, and nothing
changes. Catalogue files and the API bodies that add to them (challenges, experts, jurors) report
every bad row at once, each in its own words, with the limits of CATALOGUES. Submission fields are not
here: the event file sets each one's `max_length`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hackserver.errors import FieldError


@dataclass(frozen=True)
class Limit:
    characters: int
    de: str  # the field, as the refusal names it
    en: str


LIMITS = {
    "command": Limit(2500, "Ein Befehl", "A command"),
    "team_name": Limit(40, "Der Teamname", "The team name"),
    "skill": Limit(40, "Eine Fähigkeit", "A skill"),
    "interest": Limit(40, "Ein Wunsch (wants)", "A wish (wants)"),
    "topic": Limit(40, "Das Thema", "The topic"),
    "question": Limit(300, "Die Frage", "The question"),
    "announcement": Limit(2000, "Die Ankündigung", "The announcement"),
    "message": Limit(2000, "Die Nachricht", "The message"),
    "display_name": Limit(60, "Der Name", "The name"),
    "comment": Limit(2000, "Der Kommentar", "The comment"),
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


class TooLong(FieldError):
    def __init__(self, kind: str, length: int, field: str | None = None) -> None:
        limit = LIMITS[kind]
        super().__init__(
            field or kind,
            "text.too_long",
            field_de=limit.de,
            field_en=limit.en,
            length=length,
            limit=limit.characters,
        )


def too_long(kind: str, text: str, field: str | None = None) -> TooLong | None:
    """The refusal for `text` in a field of this kind, or None when it fits."""
    return TooLong(kind, len(text), field) if len(text) > LIMITS[kind].characters else None


def bounded(kind: str, text: str, field: str | None = None) -> str:
    """The text itself when it fits its field; else raises TooLong."""
    if (refusal := too_long(kind, text, field)) is not None:
        raise refusal
    return text
