"""The exceptions hackserver raises on purpose.

HackserverError
├── SettingsError      a setting from the environment is unusable; start-up stops with its message
├── EventFileError     the event file is invalid; carries every problem as "field.path: reason"
└── DomainError        a request that the rules refuse; its message is meant for the person asking
    ├── NotFound
    ├── Conflict       competing writes, already exists, already done
    └── TooLate        a deadline or phase has passed

Edges (HTTP routes, chat adapters, the CLI) turn these into replies; nothing else reaches a user.
"""


class HackserverError(Exception):
    pass


class SettingsError(HackserverError):
    pass


class EventFileError(HackserverError):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class DomainError(HackserverError):
    pass


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class TooLate(DomainError):
    pass
