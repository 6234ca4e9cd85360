"""The event file's submission form and jury rubric: the example's, the defaults, and every mistake
reported with its field path."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hackserver.foundation.errors import EventFileError
from hackserver.foundation.event import load_event
from hackserver.foundation.event_forms import DEFAULT_FORM, DEFAULT_RUBRIC
from tests.fakes import event_toml

EXAMPLE_EVENT = Path(__file__).resolve().parents[2] / "config" / "event.example.toml"
KICKOFF = datetime(2027, 3, 19, 18, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "event.toml"
    path.write_text(event_toml(KICKOFF) + extra, encoding="utf-8")
    return load_event(path)


def problems(tmp_path: Path, extra: str) -> list[str]:
    with pytest.raises(EventFileError) as caught:
        load(tmp_path, extra)
    return caught.value.problems


def test_the_example_defines_the_form_and_the_rubric() -> None:
    event = load_event(EXAMPLE_EVENT)
    form = event.submission
    assert [f.id for f in form.fields] == ["title", "summary", "problem", "solution", "repository", "video"]
    assert form.grace == timedelta(0)
    assert [f.kind for f in form.fields if f.kind == "url"] == ["url", "url"]
    assert not form.fields[-1].required and form.fields[0].label("de") == "Titel"
    assert event.jury.jurors_per_submission == 3 and event.jury.scale == (1, 10)
    assert [(c.id, c.weight) for c in event.jury.criteria] == [
        ("impact", 2.0),
        ("feasibility", 1.5),
        ("prototype", 1.0),
    ]


def test_without_the_tables_the_defaults_apply(tmp_path: Path) -> None:
    event = load(tmp_path, "")
    assert event.submission == DEFAULT_FORM and event.jury == DEFAULT_RUBRIC  # type: ignore[attr-defined]


def test_grace_and_fields_can_be_set(tmp_path: Path) -> None:
    event = load(
        tmp_path,
        '[submission]\ngrace = "2m"\n[[submission.fields]]\nid = "pitch"\nkind = "textarea"\nmax_length = 99\n'
        'label = { de = "Pitch", en = "Pitch" }\n',
    )
    form = event.submission  # type: ignore[attr-defined]
    assert form.grace == timedelta(minutes=2) and [(f.id, f.max_length) for f in form.fields] == [
        ("pitch", 99)
    ]


def test_every_mistake_is_named_by_its_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        '[submission]\ngrace = "soon"\ncolour = 1\n'
        '[[submission.fields]]\nid = "Title!"\nkind = "picture"\nmax_length = 0\nlabel = { de = "Titel" }\n'
        '[[submission.fields]]\nid = "title"\nrequired = "yes"\nlabel = { de = "T", en = "T" }\n'
        "[jury]\njurors_per_submission = 0\nscale = [5, 1]\n"
        '[[jury.criteria]]\nid = "impact"\nweight = -1\nlabel = { de = "Wirkung", en = "Impact" }\n',
    )
    text = "\n".join(found)
    for expected in (
        "submission.grace: 'soon' is not a duration",
        "submission.colour: unknown field",
        "submission.fields[0].id: expected a lowercase name",
        "submission.fields[0].kind: expected one of text, textarea, url",
        "submission.fields[0].max_length: expected a whole number",
        "submission.fields[0].label.en: missing translation",
        "submission.fields[title].required: expected true or false",
        "jury.jurors_per_submission: expected a whole number from 1 to 20",
        "jury.scale: expected the lowest and highest score",
        "jury.criteria[impact].weight: expected a number above 0",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_a_grace_beyond_an_hour_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, '[submission]\ngrace = "2h"\n') == [
        "submission.grace: at most 1h: the deadline is meant to hold"
    ]
