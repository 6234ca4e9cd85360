"""The challenge catalogue: reading CSV and JSON files (every bad row at once, with its row number),
importing by id on SQLite and PostgreSQL, the `challenges import` command, and search."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hackserver.challenges.catalogue import (
    ChallengeRow,
    Problem,
    import_catalogue,
    import_rows,
    parse_catalogue,
)
from hackserver.challenges.search import fold, search
from hackserver.foundation.errors import CatalogueError
from hackserver.foundation.models import Challenge, ChallengePreference, Team
from hackserver.runtime import Runtime
from tests import processes
from tests.fakes import FakeClock

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE_CATALOGUE = PROJECT / "config" / "challenges.example.csv"
EXAMPLE_EVENT = PROJECT / "config" / "event.example.toml"
HACKSERVER = Path(sys.executable).parent / "hackserver"
LANGUAGES = ("de", "en")
HEADER = "id,title,description,category,tags,owner,languages,max_teams,contact\n"
GOOD = HEADER + (
    "wvv-1,Müllvermeidung im Quartier,Weniger Abfall,Klima,müll;abfall,Stadt Lindenau,de,5,a@example.org\n"
    "wvv-2,Verkehrswende auf dem Land,Rufbusse,Mobilität,verkehr,Landkreis Obersee,de;en,,https://example.org\n"
)


def parse(text: str | bytes, filename: str = "challenges.csv") -> tuple[list[ChallengeRow], list[Problem]]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_catalogue(data, filename, LANGUAGES)


def problems_of(text: str, filename: str = "challenges.csv") -> list[str]:
    return [str(problem) for problem in parse(text, filename)[1]]


def whole_file_error(data: str | bytes, filename: str = "challenges.csv") -> str:
    with pytest.raises(CatalogueError) as caught:
        parse(data, filename)
    return str(caught.value)


# ------------------------------------------------------------------------------------------ reading


def test_a_good_file_gives_every_field() -> None:
    rows, problems = parse(GOOD)
    assert problems == []
    assert rows[1] == ChallengeRow(
        external_id="wvv-2",
        title="Verkehrswende auf dem Land",
        description="Rufbusse",
        category="Mobilität",
        tags=("verkehr",),
        owner_organisation="Landkreis Obersee",
        languages=("de", "en"),
        max_teams=None,
        contact="https://example.org",
        row=3,
    )


def test_a_byte_order_mark_is_tolerated() -> None:
    rows, problems = parse(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert problems == []
    assert [row.external_id for row in rows] == ["wvv-1", "wvv-2"]


def test_a_file_not_in_utf8_names_the_byte_offset() -> None:
    data = "id,title\n1,Müll\n".encode("latin-1")
    message = whole_file_error(data)
    assert message.startswith("not UTF-8: byte 0xfc at byte offset 12 (line 2)")


def test_a_missing_required_column_is_named() -> None:
    assert whole_file_error("id,description\n1,Text\n").startswith("missing column: title")


def test_unknown_columns_are_named() -> None:
    message = whole_file_error("id,title,budget,Priorität\n1,Titel,100,hoch\n")
    assert message.startswith("unknown columns: budget, priorität")


def test_duplicate_ids_name_both_rows_whatever_their_case() -> None:
    message = whole_file_error("id,title\nC-7,Eins\nC-8,Zwei\nc-7,Drei\n")
    assert message == "duplicate id: C-7 in rows 2 and 4"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf \n\n", "the file is empty"),
        (HEADER.encode(), "the file has no challenges, only a header"),
        (b"[]", "the file has no challenges, only []"),
    ],
)
def test_an_empty_file_is_refused(data: bytes, message: str) -> None:
    assert whole_file_error(data, "challenges.json" if data == b"[]" else "challenges.csv") == message


def test_a_whole_file_problem_is_said_in_german_too() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse("id,budget,Priorität\n1,100,hoch\n")
    assert caught.value.say("de") == (
        "fehlende Spalte: title; unbekannte Spalten: budget, priorität (die Spalten sind id, title, "
        "description, category, tags, owner, languages, max_teams, contact)"
    )


def test_duplicate_ids_in_three_rows_are_said_in_german_too() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse("id,title\nC-7,Eins\nc-7,Zwei\nC-7,Drei\nC-8,Vier\nC-8,Fünf\n")
    assert str(caught.value) == "duplicate ids: C-7 in rows 2, 3 and 4; C-8 in rows 5 and 6"
    assert caught.value.say("de") == "doppelte Ids: C-7 in den Zeilen 2, 3 und 4; C-8 in den Zeilen 5 und 6"


def test_a_rows_problem_is_said_in_german_with_its_row_number() -> None:
    (problem,) = parse(HEADER + "wvv-1,Titel,,,,,,viele,\n")[1]
    assert problem.say("de") == (
        "Zeile 2: max_teams: erwartet wird eine ganze Zahl von 1 bis 10000 oder leer für keine Grenze, "
        "nicht 'viele'"
    )


def test_a_header_separated_by_semicolons_is_named() -> None:
    message = whole_file_error("id;title\n1;Eins\n")
    assert message.startswith("the header row is not comma-separated (it seems to use ';')")


def test_a_file_neither_csv_nor_json_is_refused() -> None:
    assert whole_file_error(GOOD, "challenges.xlsx") == "expected a .csv or .json file"


def test_every_bad_row_is_reported_at_once_with_its_spreadsheet_row_number() -> None:
    text = HEADER + (f"1,Gut,,,,,,,\n2,{'x' * 201},,,,,,,\n3,Gut,,,,,,null,\n4,Gut,,,,,fr,,\n5,,,,,,,,\n")
    assert problems_of(text) == [
        "row 3: title: longer than 200 characters (it has 201)",
        "row 4: max_teams: expected a whole number from 1 to 10000, or empty for no limit, got 'null'",
        "row 5: languages: fr is not a language of this event (de, en)",
        "row 6: title: required",
    ]


def test_a_cell_over_several_lines_counts_as_one_row() -> None:
    text = 'id,title,description\n1,Eins,"erste Zeile\nzweite Zeile"\n2,,\n'
    assert problems_of(text) == ["row 3: title: required"]


def test_only_the_good_rows_are_returned() -> None:
    rows, _ = parse("id,title,max_teams\n1,Eins,3\n2,Zwei,0\n3,Drei,\n")
    assert [row.external_id for row in rows] == ["1", "3"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("id", 40), ("description", 5000), ("category", 80), ("owner", 200), ("contact", 200)],
)
def test_over_long_text_is_reported(field: str, limit: int) -> None:
    values = {"id": "c-1", "title": "Titel", field: "a" * (limit - 15) + "@example.org" + "x" * 4}
    text = f"{','.join(values)}\n{','.join(values.values())}\n"
    assert f"row 2: {field}: longer than {limit} characters (it has {limit + 1})" in problems_of(text)


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "drei", "100000"])
def test_max_teams_must_be_a_positive_whole_number(value: str) -> None:
    assert problems_of(f"id,title,max_teams\n1,Titel,{value}\n") == [
        f"row 2: max_teams: expected a whole number from 1 to 10000, or empty for no limit, got '{value}'"
    ]


def test_an_empty_max_teams_means_unlimited() -> None:
    rows, _ = parse("id,title,max_teams\n1,Titel, \n")
    assert rows[0].max_teams is None


def test_a_language_the_event_does_not_use_is_named() -> None:
    assert problems_of("id,title,languages\n1,Titel,de;fr\n") == [
        "row 2: languages: fr is not a language of this event (de, en)"
    ]


def test_a_language_that_is_not_a_code_is_named() -> None:
    assert problems_of("id,title,languages\n1,Titel,Deutsch\n") == [
        "row 2: languages: 'deutsch' is not a two-letter language code like de"
    ]


def test_tags_are_split_on_semicolons_and_commas() -> None:
    rows, _ = parse('id,title,tags\n1,Titel,"Müll; Abfall,Kreislauf;;müll"\n')
    assert rows[0].tags == ("Müll", "Abfall", "Kreislauf")


def test_more_than_twenty_tags_are_refused() -> None:
    tags = ";".join(f"tag{n}" for n in range(21))
    assert problems_of(f"id,title,tags\n1,Titel,{tags}\n") == ["row 2: tags: 21 tags, at most 20"]


@pytest.mark.parametrize("contact", ["Anna anrufen", "anna@", "ftp://example.org", "www.example.org"])
def test_a_contact_must_look_like_an_email_or_a_web_address(contact: str) -> None:
    problems = problems_of(f"id,title,contact\n1,Titel,{contact}\n")
    assert problems == [f"row 2: contact: expected an e-mail address or an http(s) URL, got '{contact}'"]


def test_an_id_with_other_characters_is_refused() -> None:
    assert problems_of("id,title\nC 7,Titel\n") == ["row 2: id: 'C 7' may only have letters, digits, - and _"]


def test_a_row_with_more_cells_than_the_header_is_reported() -> None:
    problems = problems_of("id,title\n1,Müll, Abfall und Wertstoffe\n")
    assert problems == ["row 2: 3 cells, but the header has 2 (quote cells with commas in them)"]


def test_json_items_are_counted_from_one() -> None:
    items = [{"id": "a", "title": "Eins", "tags": ["x"]}, {"id": "b", "title": "", "max_teams": 0}]
    problems = problems_of(json.dumps(items), "challenges.json")
    assert problems == [
        "item 2: title: required",
        "item 2: max_teams: expected a whole number from 1 to 10000, or empty for no limit, got 0",
    ]


def test_json_takes_lists_of_tags_and_languages() -> None:
    items = [{"id": 7, "title": "Sieben", "tags": ["Müll", "Abfall"], "languages": ["en"], "max_teams": 4}]
    rows, problems = parse(json.dumps(items), "challenges.json")
    assert problems == []
    assert (rows[0].external_id, rows[0].tags, rows[0].languages, rows[0].max_teams) == (
        "7",
        ("Müll", "Abfall"),
        ("en",),
        4,
    )


def test_unknown_json_fields_are_named_with_their_item() -> None:
    items = [{"id": "a", "title": "Eins"}, {"id": "b", "title": "Zwei", "budget": 5}]
    assert whole_file_error(json.dumps(items), "c.json").startswith("unknown field: budget (item 2)")


def test_json_that_is_not_a_list_is_refused() -> None:
    assert whole_file_error('{"id": "a"}', "c.json").startswith("expected a JSON list of challenges")


def test_the_example_catalogue_reads_without_problems() -> None:
    rows, problems = parse(EXAMPLE_CATALOGUE.read_bytes(), EXAMPLE_CATALOGUE.name)
    assert problems == []
    assert 40 <= len(rows) <= 60


# ------------------------------------------------------------------------------------------ importing


@pytest.fixture
async def runtime(
    database_url: str, event_file: Callable[..., Path], kickoff: datetime, make_runtime: Callable[..., Any]
) -> AsyncIterator[Runtime]:
    async with make_runtime(
        database_url, event_file(kickoff=kickoff), FakeClock(kickoff - timedelta(days=3))
    ) as rt:
        yield rt


async def stored(runtime: Runtime) -> list[tuple[Any, ...]]:
    async with runtime.sessions() as session:
        challenges = await session.scalars(select(Challenge).order_by(Challenge.id))
        return [
            (
                c.id,
                c.external_id,
                c.title,
                c.description,
                c.category,
                c.tags,
                c.owner_organisation,
                c.languages,
                c.max_teams,
                c.contact,
            )
            for c in challenges
        ]


BAD_FILES = {
    "bad encoding": HEADER.encode() + "wvv-1,Müll\n".encode("latin-1"),
    "missing column": b"id,description\nwvv-1,Text\n",
    "unknown column": b"id,title,budget\nwvv-1,Neu,100\n",
    "duplicate id": (HEADER + "wvv-1,Neu,,,,,,,\nwvv-3,Drei,,,,,,,\nWVV-1,Noch mal,,,,,,,\n").encode(),
    "over-long text": (HEADER + "wvv-1,Neu,,,,,,,\nwvv-3," + "t" * 201 + ",,,,,,,\n").encode(),
    "bad max_teams": (HEADER + "wvv-1,Neu,,,,,,,\nwvv-3,Drei,,,,,,viele,\n").encode(),
    "bad language": (HEADER + "wvv-1,Neu,,,,,,,\nwvv-3,Drei,,,,,fr,,\n").encode(),
}


@pytest.mark.parametrize("kind", BAD_FILES)
async def test_a_bad_file_leaves_the_database_untouched(runtime: Runtime, kind: str) -> None:
    await import_catalogue(runtime, GOOD.encode(), "challenges.csv")
    before = await stored(runtime)
    try:
        imported = await import_catalogue(runtime, BAD_FILES[kind], "challenges.csv")
    except CatalogueError:
        pass
    else:
        assert imported.result is None
        assert imported.problems
    assert await stored(runtime) == before


async def test_bad_rows_are_all_reported_and_nothing_is_imported(runtime: Runtime) -> None:
    text = HEADER + "n-1,Neu,,,,,,,\nn-2,,,,,,,0,\nn-3,Drei,,,,,fr,,\n"
    imported = await import_catalogue(runtime, text.encode(), "challenges.csv")
    assert [str(problem) for problem in imported.problems] == [
        "row 3: title: required",
        "row 3: max_teams: expected a whole number from 1 to 10000, or empty for no limit, got '0'",
        "row 4: languages: fr is not a language of this event (de, en)",
    ]
    assert await stored(runtime) == []


async def test_skip_bad_imports_the_good_rows(runtime: Runtime) -> None:
    text = HEADER + "n-1,Neu,,,,,,,\nn-2,,,,,,,,\nn-3,Drei,,,,,,,\n"
    imported = await import_catalogue(runtime, text.encode(), "challenges.csv", skip_bad=True)
    assert imported.result is not None
    assert (imported.result.added, imported.result.skipped) == (2, 1)
    assert [row[1] for row in await stored(runtime)] == ["n-1", "n-3"]


async def test_a_reimport_updates_by_id_in_place_and_keeps_the_teams_choices(runtime: Runtime) -> None:
    await import_catalogue(runtime, GOOD.encode(), "challenges.csv")
    async with runtime.transaction() as tx:
        challenge = await tx.session.scalar(select(Challenge).where(Challenge.external_id == "wvv-1"))
        assert challenge is not None
        team = Team(event_id=runtime.event_id, name="Luftretter", name_key="luftretter", join_code="LUFT23")
        tx.session.add(team)
        await tx.session.flush()
        tx.session.add(ChallengePreference(team_id=team.id, challenge_id=challenge.id, rank=0))
    changed = GOOD.replace("Müllvermeidung im Quartier", "Müllvermeidung in der Stadt")
    imported = await import_catalogue(runtime, changed.encode(), "challenges.csv")
    assert imported.result is not None
    assert (imported.result.updated, imported.result.unchanged) == (1, 1)
    after = {row[1]: row for row in await stored(runtime)}
    assert after["wvv-1"][:3] == (challenge.id, "wvv-1", "Müllvermeidung in der Stadt")
    async with runtime.sessions() as session:
        preference = await session.scalar(select(ChallengePreference))
    assert preference is not None and preference.challenge_id == challenge.id


async def test_a_reimport_matches_ids_whatever_their_case(runtime: Runtime) -> None:
    await import_catalogue(runtime, GOOD.encode(), "challenges.csv")
    before = {row[1]: row[0] for row in await stored(runtime)}
    imported = await import_catalogue(runtime, GOOD.replace("wvv-2", "WVV-2").encode(), "challenges.csv")
    assert imported.result is not None and imported.result.added == 0
    assert {row[1]: row[0] for row in await stored(runtime)} == {
        "wvv-1": before["wvv-1"],
        "WVV-2": before["wvv-2"],
    }


async def test_a_reimport_keeps_challenges_missing_from_the_file_and_counts_them(runtime: Runtime) -> None:
    await import_catalogue(runtime, GOOD.encode(), "challenges.csv")
    only_first = GOOD.rsplit("wvv-2", 1)[0]
    imported = await import_catalogue(runtime, only_first.encode(), "challenges.csv")
    assert imported.result is not None
    assert (imported.result.unchanged, imported.result.not_in_file) == (1, 1)
    assert [row[1] for row in await stored(runtime)] == ["wvv-1", "wvv-2"]


async def test_an_import_tells_the_bus_its_counts(runtime: Runtime) -> None:
    rows, _ = parse(GOOD)
    async with runtime.bus.subscribe() as events:
        await import_rows(runtime, rows, skipped=3)
        event = await asyncio.wait_for(events.get(), timeout=5)
    assert event.kind == "challenges.imported"
    assert event.data == {"added": 2, "updated": 0, "unchanged": 0, "skipped": 3, "not_in_file": 0}


async def test_the_example_catalogue_imports_cleanly(runtime: Runtime) -> None:
    imported = await import_catalogue(runtime, EXAMPLE_CATALOGUE.read_bytes(), EXAMPLE_CATALOGUE.name)
    assert imported.problems == []
    assert imported.result is not None
    assert imported.result.added == len(await stored(runtime)) >= 40


async def test_the_example_catalogue_fits_the_example_event() -> None:
    from hackserver.foundation.event import load_event

    rows, problems = parse_catalogue(
        EXAMPLE_CATALOGUE.read_bytes(), EXAMPLE_CATALOGUE.name, load_event(EXAMPLE_EVENT).languages
    )
    assert problems == []
    assert {language for row in rows for language in row.languages} == {"de", "en"}


# ------------------------------------------------------------------------------------------ the command


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    own = ("HACKSERVER_", "SLACK_", "DISCORD_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(own) and k not in ("PORT", "PYTHONPATH")}
    return clean | {
        "HACKSERVER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hs.db'}",
        "HACKSERVER_EVENT": str(EXAMPLE_EVENT),
    }


def hackserver(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return processes.run([str(HACKSERVER), *args], env=env, cwd=cwd, text=True, timeout=60)


def test_the_command_imports_a_file_and_prints_one_summary_line(env: dict[str, str], tmp_path: Path) -> None:
    result = hackserver("challenges", "import", str(EXAMPLE_CATALOGUE), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{EXAMPLE_CATALOGUE}: challenges: 51 added, 0 updated, 0 unchanged, 0 skipped"
    ]


def test_the_command_reports_every_bad_row_and_exits_non_zero(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,Eins,,,,,,,\n2,,,,,,,,\n3,Drei,,,,,,0,\n", encoding="utf-8")
    result = hackserver("challenges", "import", str(bad), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"hackserver: {bad}: row 3: title: required",
        f"hackserver: {bad}: row 4: max_teams: expected a whole number from 1 to 10000, or empty for no limit, got '0'",
        f"hackserver: {bad}: 2 bad rows, nothing imported (fix them, or import the good rows with --skip-bad)",
    ]


def test_the_command_with_skip_bad_imports_the_rest(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,Eins,,,,,,,\n2,,,,,,,,\n", encoding="utf-8")
    result = hackserver("challenges", "import", "--skip-bad", str(bad), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"hackserver: {bad}: row 3: title: required"]
    assert result.stdout.splitlines() == [f"{bad}: challenges: 1 added, 0 updated, 0 unchanged, 1 skipped"]


def test_the_command_names_a_whole_file_problem_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,titel\n1,Eins\n", encoding="utf-8")
    result = hackserver("challenges", "import", str(bad), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"hackserver: {bad}: missing column: title; unknown column: titel (the columns are id, title,"
        " description, category, tags, owner, languages, max_teams, contact)"
    ]


def test_a_large_import_outside_a_terminal_prints_no_progress_bar(
    env: dict[str, str], tmp_path: Path
) -> None:
    large = tmp_path / "large.csv"
    large.write_text(HEADER + "".join(f"c-{n},Challenge {n},,,,,,,\n" for n in range(450)), encoding="utf-8")
    result = hackserver("challenges", "import", str(large), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == f"{large}: challenges: 450 added, 0 updated, 0 unchanged, 0 skipped\n"


# ------------------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class Item:
    external_id: str
    title: str
    description: str = ""
    category: str | None = None
    tags: list[str] = field(default_factory=list)


def ids(found: list[Item]) -> list[str]:
    return [item.external_id for item in found]


def test_a_title_match_ranks_above_a_tag_match_above_a_description_match() -> None:
    items = [
        Item("d", "Sauberer Park", description="Weniger Müll im Park"),
        Item("t", "Sauberer Fluss", tags=["müll"]),
        Item("c", "Saubere Straße", category="Müll und Abfall"),
        Item("a", "Müll trennen"),
    ]
    found = ids(search(items, "müll"))
    assert found[0] == "a"
    assert set(found[1:3]) == {"t", "c"}
    assert found[3] == "d"


def test_matching_more_of_the_words_ranks_higher() -> None:
    items = [
        Item("1", "Verkehr in der Stadt"),
        Item("2", "Daten", description="Verkehr und Luftqualität"),
    ]
    assert ids(search(items, "verkehr luftqualität")) == ["2", "1"]


@pytest.mark.parametrize("words", ["Müll", "MÜLL", "muell", "mull", "müllVERMEIDUNG"])
def test_umlauts_and_case_are_folded_either_way(words: str) -> None:
    items = [Item("1", "Müllvermeidung im Quartier"), Item("2", "Mobilität")]
    assert ids(search(items, words)) == ["1"]


def test_an_umlaut_finds_its_spelled_out_form() -> None:
    assert ids(search([Item("1", "Muelltrennung"), Item("2", "Mobilität")], "Müll")) == ["1"]


@pytest.mark.parametrize(("words", "title"), [("strasse", "Straßenbahn"), ("Straße", "Strassenfest")])
def test_sharp_s_and_ss_are_one(words: str, title: str) -> None:
    assert ids(search([Item("1", title), Item("2", "Radweg")], words)) == ["1"]


def test_a_word_of_three_letters_finds_words_that_start_with_it() -> None:
    assert ids(search([Item("1", "Verkehrswende"), Item("2", "Wärmeplanung")], "verkehr")) == ["1"]


def test_a_word_of_two_letters_must_match_whole() -> None:
    assert search([Item("1", "Verkehrswende")], "ve") == []


def test_english_text_is_found_too() -> None:
    items = [Item("1", "Safe routes to school"), Item("2", "Schulweg sichern")]
    assert ids(search(items, "Routes")) == ["1"]


def test_no_words_give_every_challenge_ordered_by_id() -> None:
    items = [Item("c-10", "Zehn"), Item("c-2", "Zwei"), Item("b-1", "Eins")]
    assert ids(search(items, "  ", limit=None)) == ["b-1", "c-2", "c-10"]


def test_the_limit_cuts_the_list() -> None:
    items = [Item(f"c-{n}", f"Daten {n}") for n in range(30)]
    assert len(search(items, "daten", limit=5)) == 5


def test_an_id_typed_whole_comes_first() -> None:
    items = [Item("1", "Termine", description="12 Termine"), Item("12", "Wohngeld")]
    assert ids(search(items, "12")) == ["12", "1"]


def test_orm_challenges_can_be_searched() -> None:
    rows = [
        Challenge(external_id="7", title="Hitzeschutz für Ältere"),
        Challenge(external_id="8", title="Radweg"),
    ]
    assert [c.external_id for c in search(rows, "altere")] == ["7"]


def test_fold_makes_spellings_alike() -> None:
    assert {fold("Müll"), fold("MUELL"), fold("mull")} == {"mull"}
    assert fold("Straße") == fold("STRASSE")
