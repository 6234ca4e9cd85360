"""The `/hack` application command as Discord sees it, built from the command registry: its
definition (sub-commands, groups such as `team create`, string options, descriptions in every
language of the message catalogue), and an invocation's sub-command and options written back as
the grammar's text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bots.commands  # noqa: F401 -- importing the commands registers them
from bots.core import COMMANDS
from hackserver.foundation.event import PHASES
from hackserver.foundation.i18n import FALLBACK, languages, say

SUB_COMMAND, SUB_COMMAND_GROUP, STRING = 1, 2, 3  # application command option types


@dataclass(frozen=True)
class Option:
    name: str
    required: bool = False
    keyword: bool = False  # written `name value` in the grammar, not just `value`
    choices: tuple[str, ...] = ()
    key: str = ""  # its description's key in the catalogue, if not discord.option.<command>.<name>

    def definition(self, command: str) -> dict[str, Any]:
        described = _described(self.name, self.key or f"discord.option.{command}.{self.name}")
        option: dict[str, Any] = {"type": STRING, **described, "required": self.required}
        if self.choices:
            option["choices"] = [{"name": choice, "value": choice} for choice in self.choices[:25]]
        return option


# A sub-command's options, in the order its grammar writes them (Discord wants required ones first).
OPTIONS: dict[str, tuple[Option, ...]] = {
    "profile": (
        Option(
            "skills",
            keyword=True,
        ),
        Option("langs", keyword=True),
        Option("tz", keyword=True),
        Option(
            "wants",
            keyword=True,
        ),
    ),
    "link": (Option("code"),),
    "team create": (Option("name", required=True),),
    "team join": (Option("code", required=True),),
    "teams open": (Option("skill"),),
    "challenges": (Option("search"),),
    "challenge pick": (
        Option(
            "ids",
            required=True,
        ),
    ),
    "experts": (Option("topic"),),
    "assignment run": (Option("seed"),),
    "extend": (
        Option("code", required=True),
        Option("by", required=True),
    ),
    "match run": (Option("seed"),),
    "help-request": (
        Option("topic", required=True),
        Option("question", required=True),
    ),
    "announce": (Option("text", required=True),),
    "phase": (
        Option("shift", keyword=True, choices=PHASES),
        Option("by"),
    ),
}


def options_of(name: str) -> tuple[Option, ...]:
    if name in OPTIONS:
        return OPTIONS[name]
    sub = COMMANDS.get(name)
    if sub is not None and sub.usage(FALLBACK) != name:  # a sub-command with arguments not in the table
        return (Option("args", key=f"grammar.{name}"),)
    return ()


def _described(name: str, key: str) -> dict[str, Any]:
    """Discord's description (English) and its translations, from the message catalogue."""
    localized = {lang: say(lang, key)[:100] for lang in languages() if lang != FALLBACK}
    return {"name": name, "description": say(FALLBACK, key)[:100], "description_localizations": localized}


def command_definition() -> dict[str, Any]:
    """The `/hack` command with a sub-command (or group and sub-command) for every registered one."""
    top: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for name in COMMANDS:
        *group, leaf = name.split(" ")
        option = {
            "type": SUB_COMMAND,
            **_described(leaf, f"cmd.{name}"),
            "options": [o.definition(name) for o in options_of(name)],
        }
        if not group:
            top.append(option)
            continue
        if group[0] not in groups:
            groups[group[0]] = {
                "type": SUB_COMMAND_GROUP,
                **_described(group[0], f"discord.group.{group[0]}"),
                "options": [],
            }
            top.append(groups[group[0]])
        groups[group[0]]["options"].append(option)
    return {
        "type": 1,  # a slash command
        **_described("hack", "discord.hack"),
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
    for option in OPTIONS.get(name, ()):  # the options of no table's entry follow in the order given
        if value := given.pop(option.name, ""):
            parts += [option.name, value] if option.keyword else [value]
    parts += [value for value in given.values() if value]
    return " ".join(part for part in parts if part)
