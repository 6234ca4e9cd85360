"""The forms of a page, read as a browser would: each form's action and its named controls."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Control:
    tag: str  # input, textarea, select or button
    name: str
    type: str = ""
    value: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)  # a select's option values


@dataclass
class Form:
    action: str
    controls: list[Control] = field(default_factory=list)

    def named(self, name: str) -> list[Control]:
        return [control for control in self.controls if control.name == name]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.select: Control | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(found.get("action", "")))
        elif tag == "option" and self.select is not None:
            self.select.options.append(found.get("value", ""))
        elif tag in ("input", "textarea", "select", "button") and self.forms and found.get("name"):
            control = Control(tag, found["name"], found.get("type", ""), found.get("value", ""), found)
            self.forms[-1].controls.append(control)
            if tag == "select":
                self.select = control

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def forms(html: str) -> list[Form]:
    reader = _Reader()
    reader.feed(html)
    return reader.forms
