"""The event file's `[submission]` form and `[jury]` rubric: what teams hand in and how it is scored."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

KINDS = ("text", "textarea", "url")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELD_LENGTH = 20_000


@dataclass(frozen=True)
class FormField:
    id: str
    kind: str  # text | textarea | url (http/https, checked for form only)
    labels: dict[str, str]  # language -> label
    max_length: int
    required: bool = True

    def label(self, language: str) -> str:
        return self.labels.get(language) or next(iter(self.labels.values()))


@dataclass(frozen=True)
class SubmissionForm:
    fields: tuple[FormField, ...]
    grace: timedelta = timedelta(0)  # saves after the deadline still accepted for this long


@dataclass(frozen=True)
class Criterion:
    id: str
    weight: float
    labels: dict[str, str]

    def label(self, language: str) -> str:
        return self.labels.get(language) or next(iter(self.labels.values()))


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    jurors_per_submission: int = 3
    scale: tuple[int, int] = (1, 10)  # the lowest and highest score a juror gives per criterion


def _labels(en: str, de: str) -> dict[str, str]:
    return {"de": de, "en": en}


DEFAULT_FORM = SubmissionForm(
    (
        FormField("title", "text", _labels("Title", "Titel"), 120),
        FormField("summary", "textarea", _labels("Short description", "Kurzbeschreibung"), 500),
        FormField("problem", "textarea", _labels("The problem", "Das Problem"), 3000),
        FormField("solution", "textarea", _labels("The solution", "Die Lösung"), 5000),
        FormField("repository", "url", _labels("Repository URL", "Repository-URL"), 500),
        FormField("video", "url", _labels("Demo video URL", "Demo-Video-URL"), 500, required=False),
    )
)
DEFAULT_RUBRIC = Rubric(
    (
        Criterion("impact", 2.0, _labels("Impact", "Wirkung")),
        Criterion("feasibility", 1.0, _labels("Feasibility", "Umsetzbarkeit")),
        Criterion("quality", 1.0, _labels("Quality of the prototype", "Qualität des Prototyps")),
    )
)


@dataclass
class FormsParser:
    """Parses the two tables into `problems` ("field.path: reason"), like the rest of the event file."""

    fail: Callable[[str, str], None]
    languages: tuple[str, ...]
    parse_duration: Callable[[str], timedelta]
    known: dict[str, set[str]] = field(
        default_factory=lambda: {
            "submission": {"grace", "fields"},
            "field": {"id", "kind", "label", "max_length", "required"},
            "jury": {"jurors_per_submission", "scale", "criteria"},
            "criterion": {"id", "weight", "label"},
        }
    )

    def table(self, raw: Any, path: str, known: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(path, "expected a table")
            return {}
        for key in sorted(raw.keys() - self.known[known]):
            self.fail(f"{path}.{key}", "unknown field")
        return raw

    def labels(self, raw: Any, path: str) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.fail(path, f"expected a label in each language, like {{ {', '.join(self.languages)} }}")
            return {}
        result = {}
        for language in self.languages:
            text = raw.get(language)
            if not isinstance(text, str) or not text.strip():
                self.fail(f"{path}.{language}", "missing translation")
            elif len(text) > 200:
                self.fail(f"{path}.{language}", "longer than 200 characters")
            else:
                result[language] = text.strip()
        return result

    def ident(self, raw: dict[str, Any], path: str, seen: set[str]) -> str:
        value = raw.get("id")
        if not isinstance(value, str) or not _ID.match(value):
            self.fail(f"{path}.id", "expected a lowercase name like repository_url (letters, digits, _)")
            return ""
        if value in seen:
            self.fail(f"{path}.id", "used twice")
        seen.add(value)
        return value

    def submission(self, raw: Any) -> SubmissionForm:
        if raw is None:
            return DEFAULT_FORM
        raw = self.table(raw, "submission", "submission")
        grace = timedelta(0)
        if "grace" in raw:
            try:
                grace = self.parse_duration(str(raw["grace"]))
            except ValueError as error:
                self.fail("submission.grace", str(error))
            if grace > timedelta(hours=1):
                self.fail("submission.grace", "at most 1h: the deadline is meant to hold")
        items = raw.get("fields")
        if items is None:
            return SubmissionForm(DEFAULT_FORM.fields, grace)
        if not isinstance(items, list) or not items:
            self.fail("submission.fields", "expected a list of [[submission.fields]] tables")
            return DEFAULT_FORM
        fields: list[FormField] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            path = f"submission.fields[{index}]"
            item = self.table(item, path, "field")
            ident = self.ident(item, path, seen)
            path = f"submission.fields[{ident or index}]"
            kind = item.get("kind", "text")
            if kind not in KINDS:
                self.fail(f"{path}.kind", f"expected one of {', '.join(KINDS)}")
            length = item.get("max_length", 500 if kind != "textarea" else 3000)
            if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_FIELD_LENGTH:
                self.fail(f"{path}.max_length", f"expected a whole number from 1 to {MAX_FIELD_LENGTH}")
                length = 1
            required = item.get("required", True)
            if not isinstance(required, bool):
                self.fail(f"{path}.required", "expected true or false")
            labels = self.labels(item.get("label"), f"{path}.label")
            fields.append(FormField(ident, str(kind), labels, length, required is not False))
        if not any(f.required for f in fields):
            self.fail("submission.fields", "at least one field must be required")
        return SubmissionForm(tuple(fields), grace)

    def jury(self, raw: Any) -> Rubric:
        if raw is None:
            return DEFAULT_RUBRIC
        raw = self.table(raw, "jury", "jury")
        k = raw.get("jurors_per_submission", DEFAULT_RUBRIC.jurors_per_submission)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
            self.fail("jury.jurors_per_submission", "expected a whole number from 1 to 20")
            k = 1
        scale = raw.get("scale", list(DEFAULT_RUBRIC.scale))
        if (
            not isinstance(scale, list)
            or len(scale) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale)
            or not 0 <= scale[0] < scale[1] <= 100
        ):
            self.fail("jury.scale", "expected the lowest and highest score, like [1, 10]")
            scale = list(DEFAULT_RUBRIC.scale)
        items = raw.get("criteria")
        if items is None:
            return Rubric(DEFAULT_RUBRIC.criteria, k, (scale[0], scale[1]))
        if not isinstance(items, list) or not items:
            self.fail("jury.criteria", "expected a list of [[jury.criteria]] tables")
            return DEFAULT_RUBRIC
        criteria: list[Criterion] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            path = f"jury.criteria[{index}]"
            item = self.table(item, path, "criterion")
            ident = self.ident(item, path, seen)
            path = f"jury.criteria[{ident or index}]"
            weight = item.get("weight", 1)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
                self.fail(f"{path}.weight", "expected a number above 0 and at most 100")
                weight = 1
            criteria.append(Criterion(ident, float(weight), self.labels(item.get("label"), f"{path}.label")))
        return Rubric(tuple(criteria), k, (scale[0], scale[1]))
