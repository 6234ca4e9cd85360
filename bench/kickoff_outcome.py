"""The kickoff benchmark's outcomes (bench/kickoff.py): one run's, and the table's row of a setup's
runs, each cell the median of the runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import median, percentile

COMMANDS = ("slack command", "discord command")
PLATFORMS = ("slack", "discord")
TARGET_P99_MS, TARGET_RSS_MB = 100.0, 300.0


@dataclass
class Delivery:
    """One platform's outbound messages in a run: how long each took to arrive (s), and how long each
    that had not arrived when the drain ended had waited by then (its latency is at least that)."""

    latencies: list[float] = field(default_factory=list)
    waiting: list[float] = field(default_factory=list)
    channels: int = 0  # team channels the fake made
    invites: int = 0  # members let into a team channel
    throttled: int = 0  # 429s the fake answered

    def percentile(self, fraction: float) -> tuple[float, bool]:
        """The percentile of every message's latency, and whether it is only a lower bound (it counts
        messages still waiting)."""
        found = percentile([*self.latencies, *self.waiting], fraction)
        return found, bool(self.waiting) and found >= min(self.waiting)


@dataclass
class Outcome:
    """One run: the simulator's report, the setup's durability, memory and deliveries."""

    report: dict[str, Any]
    durability: str
    memory: dict[str, list[float]]  # process kind -> each such process's peak RSS, MiB
    delivery: dict[str, Delivery]
    late_replies: int = 0  # deferred Discord answers edited in later, as the fake received them

    def p99(self, kind: str) -> float:
        return float(self.report["latency_ms"].get(kind, {}).get("p99", float("nan")))

    def deferred(self, platform: str) -> int:
        return int(self.report.get("deferred", {}).get(platform, 0))

    @property
    def goal_met(self) -> bool:
        """The acknowledgement goal: every command answered at once, p99 within the goal."""
        deferred = sum(self.deferred(platform) for platform in PLATFORMS)
        return not deferred and all(self.p99(kind) <= TARGET_P99_MS for kind in COMMANDS)


def med(values: Sequence[float], digits: int = 0) -> str:
    found = median([v for v in values if v == v])  # NaN: a run without it
    return "–" if found != found else f"{found:.{digits}f}"


def spread(values: Sequence[float]) -> str:
    """The median, and the range when the runs differ."""
    shown = [v for v in values if v == v]
    if not shown:
        return "–"
    low, high = min(shown), max(shown)
    return med(shown) + ("" if round(low) == round(high) else f" ({low:.0f}–{high:.0f})")


def row(label: str, outcomes: Sequence[Outcome]) -> list[object]:
    reports = [o.report for o in outcomes]

    def each(get: Callable[[dict[str, Any]], float]) -> list[float]:
        return [get(report) for report in reports]

    kickoff = each(lambda r: r["stage_seconds"].get("kickoff", float("nan")))
    commands = each(lambda r: sum(r["latency_ms"].get(kind, {}).get("requests", 0) for kind in COMMANDS))
    met = sum(o.goal_met for o in outcomes)

    def per_platform(get: Callable[[Outcome, str], float], digits: int = 0) -> str:
        return " / ".join(med([get(o, platform) for o in outcomes], digits) for platform in PLATFORMS)

    def delivery(fraction: float) -> str:
        """Per platform, the runs' median; "≥" when a run's figure counted messages still waiting."""
        cells = []
        for platform in PLATFORMS:
            found = [o.delivery[platform].percentile(fraction) for o in outcomes]
            floor = "≥ " if any(bound for _, bound in found) else ""
            cells.append(floor + med([value for value, _ in found], 1))
        return " / ".join(cells)

    kinds = sorted({kind for o in outcomes for kind in o.memory})
    counts = {kind: max(len(o.memory.get(kind, [])) for o in outcomes) for kind in kinds}
    memory = ", ".join(
        f"{kind}{f' ×{counts[kind]}' if counts[kind] > 1 else ''} "
        + med([max(o.memory[kind]) for o in outcomes if kind in o.memory])
        for kind in kinds
    )
    return [
        label,
        outcomes[0].durability,
        len(outcomes),
        med(each(lambda r: r["counts"].get("registered", 0))),
        med(each(lambda r: r["counts"].get("matched teams", 0))),
        med(each(lambda r: sum(r["failures"].values()))),
        med(kickoff),
        med([c / k for c, k in zip(commands, kickoff, strict=True)]),
        *(med(each(lambda r, kind=kind: r["latency_ms"].get(kind, {}).get("p50", float("nan")))) for kind in COMMANDS),
        *(spread([o.p99(kind) for o in outcomes]) for kind in COMMANDS),
        per_platform(lambda o, platform: o.deferred(platform)),
        "yes" if met == len(outcomes) else f"no (met in {met} of {len(outcomes)})",
        per_platform(lambda o, platform: o.delivery[platform].channels),
        per_platform(lambda o, platform: o.delivery[platform].invites),
        per_platform(lambda o, platform: len(o.delivery[platform].latencies)),
        delivery(0.50),
        delivery(0.99),
        per_platform(lambda o, platform: len(o.delivery[platform].waiting)),
        med(each(lambda r: r["latency_ms"].get("organiser POST /api/v1/matching", {}).get("max", float("nan")) / 1000), 1),
        memory,
        med([sum(sum(peaks) for peaks in o.memory.values()) for o in outcomes]),
    ]  # fmt: skip


COLUMNS = [
    "setup", "durability", "runs", "registered", "matched teams", "failures", "kickoff s", "commands/s",
    "Slack p50 ms", "Discord p50 ms", "Slack p99 ms", "Discord p99 ms", "deferred Slack / Discord",
    "p99 goal met", "team channels Slack / Discord", "invites Slack / Discord", "posts Slack / Discord",
    "delivery p50 s Slack / Discord", "delivery p99 s Slack / Discord", "undelivered Slack / Discord",
    "matching s", "peak RSS MB by process", "RSS MB total",
]  # fmt: skip


def notes(drain: float) -> list[str]:
    return [
        "- target: the arrivals crowd the first minutes (beta(1.5, 3) over the simulated minutes); each person"
        " sends a profile, then creates or joins a team or asks for a match, and some pick challenges; half on"
        " Slack, half on Discord, every request signed. Latency is from sending a request to its answer.",
        "- each cell is the median of the runs; p99 shows the runs' range in brackets when they differ.",
        "- durability, read from the database at run time: SQLite in WAL with synchronous=NORMAL keeps every"
        " commit through a crash of the process, but a power loss or an OS crash may lose the last ones;"
        " PostgreSQL with fsync and synchronous_commit on has each commit on disk before it is answered.",
        '- deferred: commands acknowledged past the 2.5 s budget with "working on it" (Slack) or a deferred'
        " answer (Discord), their reply sent later; p99 goal met: no deferred acknowledgement and both p99"
        f" ≤ {TARGET_P99_MS:.0f} ms, in every run.",
        "- team channels, invites, posts: what the fakes received (Slack conversations.create and .invite,"
        " chat.postMessage; Discord guild channels made, member permissions set, channel messages); delivery:"
        " from the outbox row's creation to the fake's receipt of the post, over every row for Slack or"
        ' Discord, "≥" where rows still waiting when the drain ended (at most'
        f" {drain:g} s after the simulation) count with their wait so far;"
        " undelivered: those rows.",
        "- the fakes' pacing: Discord's 5 requests per 5 s for every route, so a guild's team channels are"
        " made about one a second (Discord documents no figure for making channels, and a guild holds at"
        " most 500); Slack's one post a second per channel, but no pacing of conversations.create and"
        " .invite (Slack's Tier 2 and 3: about 20 and 50 calls a minute).",
        "- peak RSS: VmHWM of each process of the setup (started processes and their children: `--workers`"
        " spawns the web processes, the RQ worker forks its scheduler), the largest of each kind (×n: n such"
        f" processes); total: the sum of every process's peak (an upper bound: the peaks need not coincide)."
        f" Goal: ≤ {TARGET_RSS_MB:.0f} MB per web process.",
        "- the simulator and the fakes run on the same cores as every server process.",
    ]
