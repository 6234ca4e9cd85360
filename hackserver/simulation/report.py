"""The simulation's report: what was done, what failed and how fast each kind of request was answered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from hackserver.simulation.wire import Tally

PERCENTILES = (0.50, 0.90, 0.99)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def summary(
    counts: Counter[str], tally: Tally, checks: Sequence[tuple[str, int, int]], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The report as plain data (what `--json` writes): latencies in milliseconds."""
    return {
        "settings": dict(settings),
        "counts": dict(sorted(counts.items())),
        "failures": dict(sorted(tally.failures.items())),
        "failure_examples": dict(sorted(tally.examples.items())),
        "checks": [{"what": what, "simulation": ours, "server": theirs} for what, ours, theirs in checks],
        "latency_ms": {
            kind: {
                "requests": len(values),
                **{f"p{round(p * 100)}": round(percentile(values, p) * 1000, 1) for p in PERCENTILES},
                "max": round(max(values) * 1000, 1),
            }
            for kind, values in sorted(tally.latencies.items())
            if values
        },
        # Slack's "working on it", Discord's deferred answer: the reply came later (a miss of the latency goal).
        "deferred": dict(sorted(tally.deferred.items())),
        "stage_seconds": {stage: round(seconds, 2) for stage, seconds in tally.stages.items()},
        "behind_schedule_s": {
            "steps": len(tally.late),
            "p99": round(percentile(tally.late, 0.99), 3) if tally.late else 0.0,
            "max": round(max(tally.late), 3) if tally.late else 0.0,
        },
    }


def show(report: Mapping[str, Any], console: Console) -> None:
    done = Table(title="Simulated event")
    done.add_column("what")
    done.add_column("count", justify="right")
    for what, count in report["counts"].items():
        done.add_row(what, str(count))
    console.print(done)
    if report["checks"]:
        checks = Table(title="Against the server's own numbers")
        for column in ("what", "simulation", "server"):
            checks.add_column(column, justify="left" if column == "what" else "right")
        for check in report["checks"]:
            checks.add_row(check["what"], str(check["simulation"]), str(check["server"]))
        console.print(checks)
    speed = Table(title="Answers (ms)")
    for column in ("requests to", "requests", "p50", "p90", "p99", "max"):
        speed.add_column(column, justify="left" if column == "requests to" else "right")
    for kind, row in report["latency_ms"].items():
        speed.add_row(kind, *(str(row[key]) for key in ("requests", "p50", "p90", "p99", "max")))
    console.print(speed)
    console.print("stages took " + ", ".join(f"{k} {v:g} s" for k, v in report["stage_seconds"].items()))
    if report["deferred"]:
        late = ", ".join(f"{platform} {count}" for platform, count in report["deferred"].items())
        console.print(f"acknowledged without the reply, which came later: {late}")
    behind = report["behind_schedule_s"]
    if behind["steps"]:
        console.print(
            f"{behind['steps']} steps began behind their schedule: p99 {behind['p99']} s, max {behind['max']} s"
        )
    if not report["failures"]:
        console.print("no failures")
        return
    failed = Table(title="Failures")
    for column in ("stage", "count", "first example"):
        failed.add_column(column)
    for kind, count in report["failures"].items():
        failed.add_row(kind, str(count), report["failure_examples"].get(kind, ""))
    console.print(failed)
