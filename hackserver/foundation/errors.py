"""The exceptions hackserver raises on purpose.

HackserverError
├── SettingsError      a setting from the environment is unusable; start-up stops with its message
├── EventFileError     the event file is invalid; carries every problem as "field.path: reason"
├── CommandError       the command line cannot do what it was asked (a file it cannot read or write,
│                      a database without the schema); one English line
└── Worded             named by a key of the message catalogue, so that each edge says it in its
    │                  reader's language (hackserver.foundation.i18n); str() is the English text
    ├── CatalogueError     a file to import (challenges, experts, jurors) cannot be read as a whole;
    │                      nothing is imported (a bad row is an import_problems.Problem instead)
    └── DomainError        a request that the rules refuse
        ├── NotFound
        ├── Conflict       competing writes, already exists, already done
        │   └── FieldError one field of a form is wrong: pages show it beside that field
        │       └── BadText    a typed text past its field's limit or with a NUL or lone surrogate
        │                      (hackserver.foundation.text_limits; 422 on the API)
        ├── TooLate        a deadline or phase has passed
        └── Unreadable     a typed value that is not what it should be (a duration, a local time);
                           also a ValueError, so that a reader of files (the event file's loader)
                           says str()

Edges (HTTP routes, chat adapters, the CLI) turn these into replies; nothing else reaches a user.
"""

from hackserver.foundation.i18n import say


class HackserverError(Exception):
    pass


class SettingsError(HackserverError):
    pass


class EventFileError(HackserverError):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class CommandError(HackserverError):
    pass


class Worded(HackserverError):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(say("en", key, **params))
        self.key, self.params = key, params

    def say(self, language: str) -> str:
        return say(language, self.key, **self.params)


class CatalogueError(Worded):
    pass


class DomainError(Worded):
    pass


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class TooLate(DomainError):
    pass


class FieldError(Conflict):
    def __init__(self, field: str, key: str, **params: object) -> None:
        super().__init__(key, **params)
        self.field = field


class Unreadable(DomainError, ValueError):
    pass
