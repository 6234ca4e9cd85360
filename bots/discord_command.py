"""The `/hack` application command as Discord sees it, built from the command registry: its
definition (sub-commands, groups such as `team create`, string options, English and German
descriptions), and an invocation's sub-command and options written back as the grammar's text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bots.commands  # noqa: F401 -- importing the commands registers them
from bots.core import COMMANDS
from hackserver.event import PHASES
from hackserver.messages import MESSAGES

SUB_COMMAND, SUB_COMMAND_GROUP, STRING = 1, 2, 3  # application command option types


@dataclass(frozen=True)
class Option:
    name: str
    en: str
    de: str
    required: bool = False
    keyword: bool = False  # written `name value` in the grammar, not just `value`
    choices: tuple[str, ...] = ()

    def definition(self) -> dict[str, Any]:
        option: dict[str, Any] = {
            "type": STRING,
            "name": self.name,
            "description": self.en[:100],
            "description_localizations": {"de": self.de[:100]},
            "required": self.required,
        }
        if self.choices:
            option["choices"] = [{"name": choice, "value": choice} for choice in self.choices[:25]]
        return option


# A sub-command's options, in the order its grammar writes them (Discord wants required ones first).
OPTIONS: dict[str, tuple[Option, ...]] = {
    "profile": (
        Option(
            "skills",
            "your skills, comma-separated, e.g. python,design",
            "deine Fähigkeiten mit Komma, z. B. python,design",
            keyword=True,
        ),
        Option("langs", "the languages you speak, e.g. de,en", "deine Sprachen, z. B. de,en", keyword=True),
        Option(
            "tz", "your time zone, e.g. Europe/Berlin", "deine Zeitzone, z. B. Europe/Berlin", keyword=True
        ),
        Option(
            "wants",
            "what you want to work on: topics or challenge ids",
            "woran du arbeiten willst: Themen oder Herausforderungs-IDs",
            keyword=True,
        ),
    ),
    "link": (Option("code", "the code from your other account", "der Code von deinem anderen Konto"),),
    "team create": (Option("name", "your team's name", "der Name deines Teams", required=True),),
    "team join": (Option("code", "the team's join code", "der Beitrittscode des Teams", required=True),),
    "teams open": (
        Option("skill", "only teams looking for this skill", "nur Teams, die diese Fähigkeit suchen"),
    ),
    "challenges": (Option("search", "words to search for", "Suchbegriffe"),),
    "challenge pick": (
        Option(
            "ids",
            "challenge ids by preference, e.g. 3 7 12",
            "IDs nach Vorliebe, z. B. 3 7 12",
            required=True,
        ),
    ),
    "experts": (Option("topic", "a topic, e.g. legal", "ein Thema, z. B. Recht"),),
    "assignment run": (
        Option("seed", "a number for a different draw", "eine Zahl für eine andere Auslosung"),
    ),
    "extend": (
        Option("code", "join code", "Beitrittscode", required=True),
        Option("by", "e.g. +15m", "z. B. +15m", required=True),
    ),
    "match run": (Option("seed", "a number for a different draw", "eine Zahl für eine andere Auslosung"),),
    "help-request": (
        Option("topic", "the topic of your question", "das Thema deiner Frage", required=True),
        Option("question", "your question", "deine Frage", required=True),
    ),
    "announce": (Option("text", "what everybody should read", "was alle lesen sollen", required=True),),
    "phase": (
        Option("shift", "the phase to move", "die Phase, die sich verschiebt", keyword=True, choices=PHASES),
        Option("by", "how far, e.g. +30m or -10m", "wie weit, z. B. +30m oder -10m"),
    ),
}
GROUPS = {
    "team": ("your team", "dein Team"),
    "teams": ("teams with free places", "Teams mit freien Plätzen"),
    "match": ("team matching", "Team-Matching"),
    "challenge": ("your team's challenges", "die Herausforderungen deines Teams"),
    "assignment": ("challenge assignment", "Zuteilung der Herausforderungen"),
}


def options_of(name: str) -> tuple[Option, ...]:
    if name in OPTIONS:
        return OPTIONS[name]
    sub = COMMANDS.get(name)
    if sub is not None and sub.usage.strip() != name:  # a sub-command with arguments not in the table
        return (Option("args", sub.usage, sub.usage),)
    return ()


def _described(name: str, en: str, de: str) -> dict[str, Any]:
    return {"name": name, "description": en[:100], "description_localizations": {"de": de[:100]}}


def command_definition() -> dict[str, Any]:
    """The `/hack` command with a sub-command (or group and sub-command) for every registered one."""
    top: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for name, sub in COMMANDS.items():
        texts = MESSAGES.get(f"cmd.{name}", {})
        *group, leaf = name.split(" ")
        option = {
            "type": SUB_COMMAND,
            **_described(leaf, texts.get("en", sub.usage), texts.get("de", sub.usage)),
            "options": [o.definition() for o in options_of(name)],
        }
        if not group:
            top.append(option)
            continue
        if group[0] not in groups:
            en, de = GROUPS.get(group[0], (group[0], group[0]))
            groups[group[0]] = {"type": SUB_COMMAND_GROUP, **_described(group[0], en, de), "options": []}
            top.append(groups[group[0]])
        groups[group[0]]["options"].append(option)
    return {
        "type": 1,  # a slash command
        **_described("hack", "Everything at the hackathon", "Alles rund um den Hackathon"),
        "options": top,
    }


def grammar(data: Mapping[str, Any]) -> str:
    """The text a person would type after /hack for a (sub-command, options) interaction."""
    words: list[str] = []
    options: Any = data.get("options") or []
    while isinstance(options, list) and options and isinstance(options[0], dict):
        if options[0].get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            break
        words.append(str(options[0].get("name", "")))
        options = options[0].get("options") or []
    name = " ".join(words)
    given = {
        str(o.get("name")): str(o.get("value", "")).strip()
        for o in options
        if isinstance(o, dict) and o.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP)
    }
    parts = [name]
    for option in options_of(name):
        if value := given.pop(option.name, ""):
            parts += [option.name, value] if option.keyword else [value]
    parts += [value for value in given.values() if value]
    return " ".join(part for part in parts if part)
