"""The `hackserver` command line. Errors are one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hackserver.foundation import metrics
from hackserver.foundation.errors import CatalogueError, CommandError, HackserverError, SettingsError
from hackserver.foundation.settings import Settings
from hackserver.simulation.stages import STAGES

log = logging.getLogger("hackserver")
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hackserver", description="Runs a 48-hour online hackathon.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="serve the web app (with the clock and jobs in-process without Redis)"
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--demo", action="store_true", help="shift the event so that kickoff is now")
    run.add_argument("--speed", type=positive_float, default=1.0, help="run the event's clock X times faster")
    run.add_argument(
        "--crowd",
        type=positive_int,
        default=0,
        metavar="N",
        help="with --demo: N simulated participants arrive on the built-in channels over the first minutes",
    )
    run.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="N web processes sharing the port (needs HACKSERVER_REDIS_URL and PostgreSQL)",
    )
    rehearse = commands.add_parser(
        "rehearse",
        help="move kickoff to now and speed the event's clock up for every process (scaled out too)",
        description="Stores the rehearsal in the database: every process started afterwards (web, worker,"
        " clock) follows it, so restart them. Use a database of its own: what has fired stays fired.",
    )
    rehearse.add_argument(
        "--speed", type=positive_float, default=1.0, help="the event's clock runs X times faster"
    )
    rehearse.add_argument(
        "--kickoff-in",
        default="0s",
        metavar="DURATION",
        help="event time until kickoff, like 5m (default: now)",
    )
    rehearse.add_argument("--off", action="store_true", help="end the rehearsal: the event file's plan again")
    commands.add_parser("worker", help="run an RQ worker that delivers outbound messages (needs Redis)")
    commands.add_parser("clock", help="fire phase changes and scheduled announcements")
    database = commands.add_parser("db", help="database maintenance")
    database.add_subparsers(dest="db_command", required=True, metavar="ACTION").add_parser(
        "upgrade", help="apply the migrations"
    )
    catalogue = commands.add_parser("challenges", help="the challenge catalogue")
    imports = catalogue.add_subparsers(dest="challenges_command", required=True, metavar="ACTION").add_parser(
        "import", help="add and update challenges from a CSV or JSON file (by id; nothing is deleted)"
    )
    imports.add_argument(
        "file", type=Path, metavar="FILE", help="a .csv (UTF-8, with a header row) or .json file"
    )
    imports.add_argument("--skip-bad", action="store_true", help="import the good rows, report the bad ones")
    pool = commands.add_parser("experts", help="the expert pool")
    expert_imports = pool.add_subparsers(dest="experts_command", required=True, metavar="ACTION").add_parser(
        "import", help="add and update experts from a CSV file (by name; nothing is deleted)"
    )
    expert_imports.add_argument(
        "file", type=Path, metavar="FILE", help="a .csv (UTF-8) with name, topics, languages, bio, ..."
    )
    jury = commands.add_parser("jurors", help="the jury")
    jurors_import = jury.add_subparsers(dest="jurors_command", required=True, metavar="ACTION").add_parser(
        "import",
        help="add and update jurors from a CSV file (columns name, organisation, categories, conflicts)",
    )
    jurors_import.add_argument("file", type=Path, metavar="FILE", help="a UTF-8 .csv file with a header row")
    export = commands.add_parser("export", help="write submissions, scores and the ranking to files")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", type=Path, default=Path("export"), metavar="DIR", help="default: ./export")
    simulate = commands.add_parser(
        "simulate",
        help="drive a whole event with simulated participants through a running server's endpoints",
        description="Reads the server's SLACK_SIGNING_SECRET and/or SIMULATE_DISCORD_SIGNING_KEY (the private"
        " key of its DISCORD_PUBLIC_KEY) and HACKSERVER_ORGANISER_TOKEN from the environment.",
    )
    simulate.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    simulate.add_argument("--participants", type=positive_int, default=200, metavar="N")
    simulate.add_argument(
        "--speed", type=positive_float, default=1.0, help="run the simulated schedule X times faster"
    )
    simulate.add_argument("--seed", type=int, default=1, help="the same seed gives the same people and plan")
    simulate.add_argument(
        "--until", choices=STAGES, default=STAGES[-1], help="the last stage to run (default: all of them)"
    )
    simulate.add_argument(
        "--kickoff-minutes", type=positive_float, default=10.0, help="simulated minutes of the arrival burst"
    )
    simulate.add_argument(
        "--connections", type=positive_int, default=200, help="open HTTP connections at most"
    )
    simulate.add_argument("--json", type=Path, metavar="FILE", help="also write the report to FILE")
    simulate.add_argument(
        "--wait", type=positive_float, default=60.0, metavar="SECONDS", help="for a server still starting"
    )
    discord = commands.add_parser("discord", help="Discord set-up")
    discord.add_subparsers(dest="discord_command", required=True, metavar="ACTION").add_parser(
        "register-commands", help="register the /hack command and its sub-commands with Discord"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    metrics.process_started()
    try:
        return COMMANDS[args.command](args)
    except HackserverError as error:
        print(f"hackserver: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError("expected a number above 0 and at most 100000")
    return value


def positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 10_000_000:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return int(text)


def settings_and_event() -> Settings:
    from hackserver.foundation.event import load_event

    settings = Settings.from_env()
    load_event(settings.event_path)  # validate before anything starts
    if not settings.is_sqlite:  # SQLite is migrated by whoever opens it; PostgreSQL by `db upgrade`
        asyncio.run(check_schema(settings.database_url))
    return settings


async def check_schema(database_url: str) -> None:
    from hackserver.foundation import db

    engine = db.create_engine(database_url)
    try:
        missing = await db.missing_schema(engine)
    except Exception as error:
        if not db.unreachable(error):
            raise
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SettingsError(f"HACKSERVER_DATABASE_URL: cannot reach the database ({reason})") from None
    finally:
        await engine.dispose()
    if missing:
        raise SettingsError(missing)


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from hackserver.app import create_app
    from hackserver.web.limits import HeaderTimeout

    if args.crowd and not args.demo:
        raise SettingsError(f"--crowd {args.crowd}: simulated participants join only a demo; add --demo")
    if args.crowd > MAX_CROWD:
        raise SettingsError(f"--crowd {args.crowd}: at most {MAX_CROWD} simulated participants")
    settings = settings_and_event()
    made_token = args.demo and not settings.organiser_token
    if made_token:  # a demo's dashboard and API need one; this process's own, shown once below
        settings = dataclasses.replace(settings, organiser_token=secrets.token_urlsafe(18))
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"

    def ready() -> None:
        mode = "Redis + workers" if settings.redis_url else "embedded: in-process jobs, bus and clock"
        if args.workers > 1:
            mode += f"; {args.workers} web processes on one port"
        print(
            f"\nhackserver is running ({mode}; database {settings.database.get_backend_name()})", flush=True
        )
        if args.demo:
            print(f"  demo: kickoff is now, the event clock runs {args.speed:g}x real time", flush=True)
            if args.crowd:
                print(
                    f"  demo: {args.crowd} simulated participants arrive over the first minutes", flush=True
                )
        if settings.organiser_token:
            token = f" (organiser token: {settings.organiser_token})" if made_token else ""
            print(f"  dashboard: {base}/dashboard{token}", flush=True)
        print(
            f"  channels:  {base}/channels\n  health:    {base}/healthz\n  metrics:   {base}/metrics\n",
            flush=True,
        )

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "lifespan": "on",
        "proxy_headers": True,
        "http": HeaderTimeout,
        "ws_max_size": WS_MAX_MESSAGE,
        "ws_per_message_deflate": False,
    }
    if args.workers > 1:
        check_workers(settings, args)
        ready()
        # Each process builds its own app from the same environment; they share the one socket.
        with shared_metrics():
            uvicorn.run("hackserver.app:from_environment", factory=True, workers=args.workers, **options)
        return 0
    app = create_app(settings, demo=args.demo, speed=args.speed, crowd=args.crowd, on_ready=ready)
    # The port first: a server that cannot listen stops before it has touched the database (a demo
    # would shift the event's instants). uvicorn.run binds only after the app's start-up.
    listening = listen(args.host, args.port)
    config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGTERM after its graceful shutdown; a stop that was asked for exits with 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    server.run(sockets=[listening])
    return 0 if server.started else STARTUP_FAILURE


@contextlib.contextmanager
def shared_metrics() -> Iterator[None]:
    """Web processes write their metrics where each of them reads them all for /metrics: the
    operator's PROMETHEUS_MULTIPROC_DIR (shared with workers and clocks), else a directory of their
    own, made afresh and removed when they stop."""
    if metrics.multiprocess():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="hackserver-metrics-") as directory:
        os.environ[metrics.MULTIPROC_DIR] = directory  # read by each web process as it starts
        try:
            yield
        finally:
            del os.environ[metrics.MULTIPROC_DIR]


def listen(host: str, port: int) -> socket.socket:
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        why = (error.strerror or str(error)).lower()
        raise SettingsError(f"--port {port}: cannot listen on {host}:{port}: {why}") from None
    return listening


def check_workers(settings: Settings, args: argparse.Namespace) -> None:
    """Several web processes share the event only through Redis (bus, jobs, the clock's lock) and a
    database that takes writers from many processes; a demo's clock lives in its one process."""
    if settings.redis_url is None or settings.is_sqlite:
        raise SettingsError(
            f"--workers {args.workers}: needs HACKSERVER_REDIS_URL and a PostgreSQL HACKSERVER_DATABASE_URL"
        )
    if args.demo or args.speed != 1.0:
        raise SettingsError(
            f"--workers {args.workers}: --demo and --speed run in one process; for several, drop them"
            " and run `hackserver rehearse --speed X` first"
        )


MAX_CROWD = 5_000  # one process's loop also serves the demo's pages
STARTUP_FAILURE = 3  # uvicorn's exit status when the app could not start
WS_MAX_MESSAGE = 64 * 1024  # a chat line or a dashboard frame is far smaller; the default is 16 MiB
# Compressing each frame for each viewer costs more CPU than the bytes it saves on the loop that
# also answers commands: one dashboard frame sent to 1,000 viewers is 1,000 compressions.


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_worker(args: argparse.Namespace) -> int:
    from hackserver.worker import run_worker

    run_worker(settings_and_event())
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    from hackserver.bootstrap import bootstrap
    from hackserver.clock import SprintClock

    settings = settings_and_event()

    async def tick() -> None:
        # A stop ends the round under way and frees the leader lock, for another clock to take at once.
        stopping = asyncio.Event()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop_signal, stopping.set)
        async with bootstrap(settings, write_plan=True) as runtime:
            log.info("clock running for %s", runtime.event.name)
            await SprintClock(runtime).run(stopping)

    asyncio.run(tick())
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from hackserver.bootstrap import Rehearsal, rehearse
    from hackserver.foundation.event import parse_duration
    from hackserver.foundation.i18n import Moment

    settings = settings_and_event()
    if args.off:
        event = asyncio.run(rehearse(settings, None))
        print(f"rehearsal ended: {event.name} follows its event file again, in real time")
    else:
        try:
            lead = parse_duration(args.kickoff_in)
        except ValueError as error:
            raise SettingsError(f"--kickoff-in {args.kickoff_in!r}: {error}") from None
        now = datetime.now(UTC).replace(microsecond=0)
        event = asyncio.run(rehearse(settings, Rehearsal(now, now + lead, args.speed)))
        kickoff = Moment(event.phases["kickoff"], event.timezone)
        print(
            f"rehearsal: kickoff at {kickoff.written('en')}, the event's clock runs {args.speed:g}x real time"
        )
    print("restart every process (web, workers, clocks) so that they all follow it")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from hackserver.foundation import db

    settings = Settings.from_env()

    async def upgrade() -> None:
        engine = db.create_engine(settings.database_url)
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    print(f"database is at the newest schema ({settings.database.get_backend_name()})")
    return 0


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: cannot read it ({error.strerror})") from None


def into_database(path: Path, work: Coroutine[Any, Any, T]) -> T:
    """Runs an import's writing, its problems as one line each naming the file or the database."""
    from sqlalchemy.exc import DBAPIError

    try:
        return asyncio.run(work)
    except CatalogueError as error:
        raise CommandError(f"{path}: {error}") from None
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise CommandError(f"database: {reason} (has `hackserver db upgrade` run?)") from None


def report(path: Path, problems: Sequence[Any], summary: str | None, *, hint: str = "") -> int:
    """Every bad row a line on stderr; then what was imported, or that nothing was (exit 2)."""
    for problem in problems:
        print(f"hackserver: {path}: {problem}", file=sys.stderr)
    if summary is None:
        bad = len({problem.row for problem in problems})
        print(
            f"hackserver: {path}: {bad} bad {'row' if bad == 1 else 'rows'}, nothing imported{hint}",
            file=sys.stderr,
        )
        return 2
    print(f"{path}: {summary}")
    return 0


def cmd_challenges(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from hackserver.bootstrap import bootstrap
    from hackserver.challenges import catalogue

    settings = settings_and_event()
    path: Path = args.file
    data = read_file(path)
    console = Console(stderr=True)

    async def write() -> catalogue.Imported:
        async with bootstrap(settings) as runtime:
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("importing challenges", visible=False)

                def advance(done: int, total: int) -> None:  # a bar only for files that take a while
                    bar.update(task, completed=done, total=total, visible=total > 200)

                return await catalogue.import_catalogue(
                    runtime, data, path.name, skip_bad=args.skip_bad, progress=advance
                )

    imported = into_database(path, write())
    summary = imported.result.summary() if imported.result else None
    return report(
        path, imported.problems, summary, hint=" (fix them, or import the good rows with --skip-bad)"
    )


def cmd_experts(args: argparse.Namespace) -> int:
    from hackserver.bootstrap import bootstrap
    from hackserver.officehours import experts

    settings = settings_and_event()
    path: Path = args.file
    data = read_file(path)

    async def write() -> experts.Imported:
        async with bootstrap(settings) as runtime:
            return await experts.import_experts(runtime, data)

    imported = into_database(path, write())
    return report(path, imported.problems, imported.summary() if imported.done else None)


def cmd_jurors(args: argparse.Namespace) -> int:
    from hackserver.bootstrap import bootstrap
    from hackserver.judging import jurors

    settings = settings_and_event()
    path: Path = args.file
    data = read_file(path)
    try:
        rows, problems = jurors.parse_csv(data)
    except CatalogueError as error:
        raise CommandError(f"{path}: {error}; nothing imported") from None
    if problems:
        raise CommandError(f"{path}: {'; '.join(map(str, problems))}; nothing imported")

    async def write() -> int:
        async with bootstrap(settings) as runtime, runtime.transaction() as tx:
            return len(await jurors.upsert(tx, rows, actor="cli"))

    count = into_database(path, write())
    print(f"{path}: {count} jurors imported or updated; their links: GET /api/v1/jurors")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from hackserver.bootstrap import bootstrap
    from hackserver.judging import export

    settings = settings_and_event()

    async def read() -> dict[str, list[dict[str, Any]]]:
        async with bootstrap(settings) as runtime:
            return await export.tables(runtime)

    found = asyncio.run(read())
    try:
        written = export.write(found, args.out, args.format)
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write there ({error.strerror})") from None
    for path, rows in written:
        print(f"{path}: {rows} rows")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from hackserver.simulation.report import show
    from hackserver.simulation.run import Options, simulate

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the bar
    options = Options(
        args.url, args.participants, args.speed, args.seed, args.until, args.kickoff_minutes, args.connections,
        args.wait,
    )  # fmt: skip
    console = Console()
    report = asyncio.run(simulate(options, console))
    show(report, console)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as error:
            raise CommandError(f"{args.json}: cannot write there ({error.strerror})") from None
    return 1 if report["failures"] else 0


def cmd_discord(args: argparse.Namespace) -> int:
    from bots import discord

    settings = Settings.from_env()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the one line below says how it went
    definition = asyncio.run(discord.register_commands(settings))
    count = sum(len(o["options"]) if o["type"] == 2 else 1 for o in definition["options"])
    print(f"registered /hack with {count} sub-commands for application {settings.discord_application_id}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "rehearse": cmd_rehearse,
    "worker": cmd_worker,
    "clock": cmd_clock,
    "db": cmd_db,
    "challenges": cmd_challenges,
    "experts": cmd_experts,
    "jurors": cmd_jurors,
    "export": cmd_export,
    "simulate": cmd_simulate,
    "discord": cmd_discord,
}


if __name__ == "__main__":
    sys.exit(main())
