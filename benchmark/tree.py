"""Run commands and account for every process they start: `python -m benchmark.tree OUT CMDS`.

`CMDS` is a JSON list of argv lists, run one after the other (each must exit 0, or with a code
named in its `{"argv": [...], "ok": [0, 1]}` form). This process makes itself the child
subreaper (`PR_SET_CHILD_SUBREAPER`), so that a plugin or helper a command leaves behind, or
that its parent never waits for, is reparented here and reaped here: `RUSAGE_CHILDREN` then
holds the CPU time of every process the commands started, the language host, the program's
Python and the provider plugin included, and the largest peak resident set among them. Writes
`{"wall", "cpu", "user", "system", "max_rss_kb", "returncodes", "commands"}` as JSON to `OUT`
(`commands`: each command's own wall and CPU time; descendants left running count with the
last); the commands' output goes to this process's stdout and stderr.

The wall time runs from the first command's start to the last command's exit; descendants still
running then are waited for (at most `LINGER` seconds) so that their CPU time is counted too.

Exit codes: 0 every command succeeded; 1 one failed (the file names its code); 2 bad arguments.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
LINGER = 10.0


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _reap_rest(deadline: float) -> None:
    """Wait for every descendant reparented here, until none is left or the deadline passes."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(commands: Sequence[Any]) -> dict[str, Any]:
    _subreaper()
    codes: list[int] = []
    each: list[dict[str, float]] = []
    start = time.perf_counter()
    for command in commands:
        argv, ok = (command["argv"], command.get("ok", [0])) if isinstance(command, dict) else (
            command, [0])  # fmt: skip
        began, cpu = time.perf_counter(), _cpu()
        code = subprocess.run(argv, check=False).returncode
        each.append({"wall": time.perf_counter() - began, "cpu": _cpu() - cpu})
        codes.append(code)
        if code not in ok:
            break
    wall = time.perf_counter() - start
    _reap_rest(time.monotonic() + LINGER)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "commands": each,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "returncodes": codes,
        "ok": len(codes) == len(commands)
        and all(
            code in (c.get("ok", [0]) if isinstance(c, dict) else [0])
            for code, c in zip(codes, commands, strict=False)
        ),
    }


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmark.tree OUT COMMANDS_JSON", file=sys.stderr)
        return 2
    result = run(json.loads(argv[1]))
    Path(argv[0]).write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
