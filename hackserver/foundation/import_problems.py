"""One bad row of a file being imported (a challenge catalogue, an expert or a juror CSV) or of a body
sent to the API: where it stood, which field, and why. The why is a text of the message catalogue
("import.…"), so that a console page says it in its reader's language while the command line and the
API say str(), the English text."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from hackserver.foundation.i18n import say


@dataclass(frozen=True)
class Problem:
    row: int  # spreadsheet row (header = 1) or JSON item (from 1)
    field: str | None  # None: the row as a whole
    key: str
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)
    unit: str = "row"  # "item" in JSON files, "header" the header row, "body" one API body (no number)

    @property
    def reason(self) -> str:
        return say("en", self.key, **self.params)

    def say(self, language: str) -> str:
        """ "row 3: id: required", "Zeile 3: id: fehlt"."""
        where = [] if self.unit == "body" else [say(language, f"import.at_{self.unit}", row=self.row)]
        return ": ".join(
            [*where, *([self.field] if self.field else []), say(language, self.key, **self.params)]
        )

    def __str__(self) -> str:
        return self.say("en")


@dataclass
class Report:
    """Where the checks of one row put its problems: `fail("title", "import.required")`."""

    problems: list[Problem]
    row: int
    unit: str = "row"

    def __call__(self, field: str | None, key: str, /, **params: object) -> None:
        self.problems.append(Problem(self.row, field, key, params, self.unit))
