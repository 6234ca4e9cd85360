"""The command layer's machinery: invocations in, platform-neutral replies out.

Adapters build an `Invocation` from their payload, call `Bot.handle`, and render the `Reply`.
Sub-commands (bots/commands.py) register with `@command`; each runs in one database transaction.
A `@view` shows the asker's status (hackserver/status_cache.py) and needs no transaction while it
is kept in memory.
Nothing raises out of `handle`: bad input gets its usage, a refusal its reason, a bug an apology.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from hackserver.foundation import db, metrics
from hackserver.foundation.db import unreachable
from hackserver.foundation.errors import DomainError
from hackserver.foundation.i18n import Moment, say
from hackserver.foundation.models import HandledRequest, Participant
from hackserver.foundation.text_limits import LIMITS, refused
from hackserver.foundation.transaction import Transaction
from hackserver.runtime import Runtime
from hackserver.teams.participants import Identity, find, identify, register
from hackserver.teams.status import ParticipantStatus, of_identity, of_participant

log = logging.getLogger(__name__)
MAX_INPUT = LIMITS["command"]
FLAGS = {"de": "🇩🇪", "en": "🇬🇧", "fr": "🇫🇷", "es": "🇪🇸", "it": "🇮🇹", "nl": "🇳🇱", "pl": "🇵🇱", "tr": "🇹🇷"}


@dataclass(frozen=True)
class Invocation:
    identity: Identity
    text: str  # what followed `/hack`
    locale: str | None = None  # the platform's idea of the asker's language, e.g. "de-DE"
    request_key: str | None = None  # the platform's id for this request: it runs once, however often sent
    organiser: bool = False  # vouched for by the adapter (e.g. a built-in session with the token)


@dataclass
class Reply:
    text: str
    title: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, URL)
    public: bool = False  # seen by the whole channel, not only the asker
    ok: bool = True  # False for usage help and refusals

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "title": self.title,
            "fields": [list(f) for f in self.fields],
            "links": [list(link) for link in self.links],
            "public": self.public,
            "ok": self.ok,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Reply:
        return cls(
            raw["text"],
            raw.get("title"),
            [(k, v) for k, v in raw.get("fields", [])],
            [(k, v) for k, v in raw.get("links", [])],
            raw.get("public", False),
            raw.get("ok", True),
        )


@dataclass
class Context:
    runtime: Runtime
    tx: Transaction
    participant: Participant
    language: str
    organiser: bool

    def say(self, key: str, **params: object) -> str:
        return say(self.language, key, **params)


@dataclass
class ViewContext:
    runtime: Runtime
    status: ParticipantStatus
    now: datetime
    language: str
    phases: dict[str, datetime]

    def say(self, key: str, **params: object) -> str:
        return say(self.language, key, **params)


Handler = Callable[[Context, str], Awaitable[Reply]]
View = Callable[[ViewContext], Awaitable[Reply]]


@dataclass(frozen=True)
class SubCommand:
    name: str
    handler: Handler
    organiser_only: bool = False
    read_only: bool = False  # changes nothing: runs in a read transaction, without the write lock
    view: View | None = None  # shows the asker's status: answered from memory when it is kept

    def usage(self, language: str) -> str:
        """How to write it, its placeholders in the reader's language: "team create <Name>"."""
        return say(language, f"grammar.{self.name}")


COMMANDS: dict[str, SubCommand] = {}


def command(
    name: str, *, organiser_only: bool = False, read_only: bool = False
) -> Callable[[Handler], Handler]:
    """Registers a sub-command; its grammar is the catalogue's `grammar.<name>`."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = SubCommand(name, handler, organiser_only, read_only)
        return handler

    return register


def view(name: str) -> Callable[[View], View]:
    """A read-only sub-command that shows the asker's status and takes no arguments."""

    def register(show: View) -> View:
        async def in_transaction(ctx: Context, _args: str) -> Reply:
            status = await of_participant(ctx.tx.session, ctx.participant.id, ctx.tx.now)
            # The kept ones, else read on the transaction's own connection: waiting for another one
            # while holding this could starve a full pool.
            phases = ctx.runtime.phase_cache.kept() or await ctx.tx.phases()
            return await show(ViewContext(ctx.runtime, status, ctx.tx.now, ctx.language, phases))

        COMMANDS[name] = SubCommand(name, in_transaction, read_only=True, view=show)
        return show

    return register


class UsageError(Exception):
    """Raised by a handler when the arguments are malformed: the reply shows the usage."""


class Bot:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def language(self, chosen: str | None, locale: str | None) -> str:
        """The asker's chosen language if the event has it, else the platform's idea of it."""
        languages = self.runtime.event.languages
        for candidate in (chosen, (locale or "")[:2].lower()):
            if candidate in languages:
                return candidate
        return self.runtime.event.default_language

    def is_organiser(self, invocation: Invocation) -> bool:
        identity = invocation.identity
        return invocation.organiser or identity.user_id in self.runtime.event.organisers.get(
            identity.platform, ()
        )

    async def handle(self, invocation: Invocation) -> Reply | None:
        """The reply to one command; None when this request was already handled (a retry or a replay)."""
        started = time.perf_counter()
        reply, outcome = await self.reply_to(invocation)
        if reply is not None:  # a retry of a request handled already is not a command of its own
            metrics.COMMAND_SECONDS.labels(
                invocation.identity.platform, command_name(invocation.text), outcome
            ).observe(time.perf_counter() - started)
            self.runtime.commands.count(self.runtime.clock.now())
        return reply

    async def reply_to(self, invocation: Invocation) -> tuple[Reply | None, str]:
        """The reply and its outcome: ok, refused (bad input, a refusal, too many) or failed."""
        language = self.language(None, invocation.locale)
        identity, limit = invocation.identity, self.runtime.command_limit
        account = f"{identity.platform}:{identity.workspace}:{identity.user_id}"
        # Every request counts, however it says it was sent: a retry header is not signed.
        if not await limit.allow(account):
            return Reply(
                say(language, "slow_down", limit=limit.limit, seconds=int(limit.window)), ok=False
            ), "refused"
        if (refusal := refused("command", invocation.text)) is not None:  # before any work
            return Reply(say(language, "refused", reason=refusal.say(language)), ok=False), "refused"
        try:
            for attempt in range(3):
                try:
                    reply = await self.run(invocation)
                    return reply, "ok" if reply.ok else "refused"
                except IntegrityError:  # a competing write won; run again on fresh state
                    if attempt == 2:
                        raise
        except AlreadyHandled:
            return None, "ok"
        except Exception as error:
            if unreachable(error):  # nothing was changed: say so, not "something went wrong"
                log.warning("command %r: database unreachable: %s", invocation.text[:100], error)
                return Reply(say(language, "database_down"), ok=False), "failed"
            log.exception("command %r failed", invocation.text[:100])
            return Reply(say(language, "failed"), ok=False), "failed"
        raise AssertionError("unreachable")

    async def run(self, invocation: Invocation) -> Reply:
        sub = resolve(invocation.text)
        if sub is not None and sub.read_only:
            return await self.run_read_only(invocation, sub)
        try:
            async with self.runtime.transaction() as tx:
                participant = await self.arrive(tx, invocation)
                return await self.answer(tx, participant, invocation, undoable=True)
        except Refused as refused:
            # The refusal undid the command and, with it, the first contact and the request's key:
            # those are written again on their own. Refusals are rarer than commands that go
            # through, which so need no savepoint of their own.
            async with self.runtime.transaction() as tx:
                await self.arrive(tx, invocation)
            return refused.reply

    async def arrive(self, tx: Transaction, invocation: Invocation) -> Participant:
        """Claims the request's key (a request handled before, or being handled, goes no further) and
        finds the asker, made on their first contact."""
        if invocation.request_key is not None:
            first = await tx.session.scalar(
                db.insert_unless_there(tx.session, HandledRequest)
                .values(platform=invocation.identity.platform, key=invocation.request_key)
                .returning(HandledRequest.id)
            )
            if first is None:  # its first delivery ran (or is running): not again
                raise AlreadyHandled
        return await identify(tx, invocation.identity)

    async def run_read_only(self, invocation: Invocation, sub: SubCommand) -> Reply:
        """A command that changes nothing: its request key is kept outside the database, and it reads
        in a transaction of its own (a view, from memory when it can), unless this is the asker's
        first contact (which writes)."""
        key = f"{invocation.identity.platform}:{invocation.request_key}" if invocation.request_key else None
        claimed = key is not None and await self.runtime.handled.claim(key)
        if key is not None and not claimed:
            raise AlreadyHandled
        try:
            if sub.view is not None:
                now = self.runtime.clock.now()
                status = await self.runtime.status_cache.get(
                    invocation.identity, now, lambda: self.read_status(invocation.identity)
                )
                if status is not None:
                    language = self.language(status.language, invocation.locale)
                    phases = await self.runtime.cached_phases()
                    return await sub.view(ViewContext(self.runtime, status, now, language, phases))
            else:
                async with self.runtime.reading() as tx:
                    participant = await find(tx.session, invocation.identity)
                    if participant is not None:
                        return await self.answer(tx, participant, invocation, undoable=False)
            async with self.runtime.transaction() as tx:  # they were not found just now
                participant, made = await register(tx, invocation.identity)
                if sub.view is None or not made:
                    return await self.answer(tx, participant, invocation, undoable=False)
            # Made just now: in no team, nothing booked or handed in, so the view needs no reading,
            # and the write lock is not held while the reply is written.
            status = ParticipantStatus(
                participant.id, participant.language, participant.timezone, False, None
            )
            language = self.language(status.language, invocation.locale)
            phases = await self.runtime.cached_phases()
            return await sub.view(ViewContext(self.runtime, status, tx.now, language, phases))
        except BaseException:
            if claimed and key is not None:  # not handled after all: a retry may run it
                await self.runtime.handled.release(key)
            raise

    async def read_status(self, identity: Identity) -> ParticipantStatus | None:
        async with self.runtime.reading() as tx:
            return await of_identity(tx.session, identity, tx.now)

    async def answer(
        self, tx: Transaction, participant: Participant, invocation: Invocation, *, undoable: bool
    ) -> Reply:
        context = Context(
            self.runtime,
            tx,
            participant,
            self.language(participant.language, invocation.locale),
            self.is_organiser(invocation),
        )
        try:
            return await dispatch(context, invocation.text)
        except DomainError as refusal:
            reply = Reply(context.say("refused", reason=refusal.say(context.language)), ok=False)
            if undoable:  # the transaction is rolled back (a read-only command has nothing to undo)
                raise Refused(reply) from None
            return reply


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class AlreadyHandled(Exception):
    pass


def words_of(text: str) -> str:
    words = " ".join(text[:MAX_INPUT].split())
    return words[5:].strip() if words.lower().startswith("/hack") else words


def command_name(text: str) -> str:
    """The sub-command as the grammar names it, never what was typed: a label of the metrics."""
    sub = resolve(text)
    return sub.name if sub is not None else "unknown"


def resolve(text: str) -> SubCommand | None:
    tokens = words_of(text).split(" ")
    for length in (2, 1):
        if (sub := COMMANDS.get(" ".join(tokens[:length]).lower())) is not None:
            return sub
    return None


async def dispatch(ctx: Context, text: str) -> Reply:
    words = words_of(text)
    if not words:
        return Reply(ctx.say("empty"), ok=False)
    tokens = words.split(" ")
    for length in (2, 1):
        name = " ".join(tokens[:length]).lower()
        if name in COMMANDS:
            sub = COMMANDS[name]
            if sub.organiser_only and not ctx.organiser:
                return Reply(ctx.say("organisers_only", command=sub.name), ok=False)
            try:
                return await sub.handler(ctx, " ".join(tokens[length:]))
            except UsageError as problem:
                # Each on its own line: the problem ends with its own punctuation, in any language.
                said = [str(problem)] if str(problem) else []
                return Reply("\n".join([*said, ctx.say("usage", usage=sub.usage(ctx.language))]), ok=False)
    return unknown(ctx, tokens)


def unknown(ctx: Context, tokens: list[str]) -> Reply:
    word = tokens[0][:40]
    names = [n for n, c in COMMANDS.items() if ctx.organiser or not c.organiser_only]
    guess = difflib.get_close_matches(" ".join(tokens[:2]).lower(), names, n=1, cutoff=0.6)
    guess = guess or difflib.get_close_matches(tokens[0].lower(), names, n=1, cutoff=0.6)
    if guess:
        return Reply(
            ctx.say("unknown", word=word, suggestion=COMMANDS[guess[0]].usage(ctx.language)), ok=False
        )
    return Reply(ctx.say("unknown.plain", word=word), ok=False)


def countdown(delta: timedelta, language: str) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts[:2])


def local_time(instant: datetime, ctx: Context | ViewContext) -> str:
    """In the asker's language and time zone (their profile's, else the event's), the zone named."""
    own = ctx.participant.timezone if isinstance(ctx, Context) else ctx.status.timezone
    zone = ZoneInfo(own) if own else ctx.runtime.event.timezone
    return Moment(instant, zone).written(ctx.language)


def in_language(lang: str, text: str) -> str:
    """One language's part of a message; the code says in words what the flag only shows."""
    flag = FLAGS.get(lang)
    return f"{flag} {lang.upper()}: {text}" if flag else f"{lang.upper()}: {text}"
