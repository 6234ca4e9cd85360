"""Processes a test starts run in a process group of their own, which the test kills whole when it
is done with them, also when it fails: nothing they forked (RQ's scheduler, uvicorn's web processes)
outlives the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any


def end_group(pid: int) -> None:
    """Kills what is left of the process group that `pid` leads (nothing, usually)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run(
    args: Sequence[str], *, timeout: float = 60, check: bool = False, **options: Any
) -> subprocess.CompletedProcess[Any]:
    """subprocess.run(..., capture_output=True) in a group of its own, killed whole once it ends."""
    with subprocess.Popen(
        args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            end_group(process.pid)
    result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
