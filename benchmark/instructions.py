"""Instructions per service, counted: the scale comparison without the machine's noise.

On a shared VM the CPU time of one process moves by a fifth from run to run, more than the
per-service difference the benchmark has to resolve (docs/benchmark.md). cachegrind counts the
instructions a process executes, the same count whatever else the machine is doing, so the
same pair of programs (ours and the bare program registering the same objects, each also
without the SDK's stack traces) is counted at two sizes and the difference divided by the
services between them. What it cannot see: cycles per instruction (cache misses, branch
mispredictions) and kernel time, which CPU time includes.

Needs valgrind on PATH (`python -m benchmark --instructions`); under valgrind the SDK's worker
threads run one at a time, which changes when work happens but not what work is done.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmark import pair
from tools.stack_config import ROOT

SIZES = (10, 50)
"""Two sizes: the difference of their counts over 40 services is the marginal cost."""
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


class CountError(Exception):
    """valgrind is not installed, or a counted run failed."""


def _count(argv: Sequence[str], env: Mapping[str, str]) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
        + list(argv),
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        raise CountError(f"{' '.join(argv[2:])} exited {done.returncode}: {tail}")
    return int(found.group(1).replace(",", ""))


def count(env: Mapping[str, str], tmp: Path) -> dict[str, Any]:
    """Instructions per service of each variant, in millions, and the ratios of the pairs."""
    if shutil.which("valgrind") is None:
        raise CountError("--instructions needs valgrind on PATH")
    # Untimed and uncounted: the dumps the bare program reads, and compiled byte-code for all.
    for n in SIZES:
        dump = pair.dump_command(n, tmp)
        subprocess.run(dump, cwd=ROOT, env=dict(env), capture_output=True, check=True)
    jobs = [(variant, n) for variant in pair.VARIANTS for n in SIZES]
    # Counts do not depend on what else runs, so every core can count at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        commands = [pair.command(variant, n, tmp) for variant, n in jobs]
        counts = dict(zip(jobs, pool.map(lambda argv: _count(argv, env), commands), strict=True))
    small, large = SIZES
    per_service = {
        variant: (counts[(variant, large)] - counts[(variant, small)]) / (large - small) / 1e6
        for variant in pair.VARIANTS
    }
    return {
        "sizes": list(SIZES),
        "millions_per_service": per_service,
        "over_bare": per_service["program"] / per_service["bare"],
        "over_bare_no_traces": per_service["program-no-traces"] / per_service["bare-no-traces"],
        "traces": {
            "program": per_service["program"] - per_service["program-no-traces"],
            "bare": per_service["bare"] - per_service["bare-no-traces"],
        },
    }


def table(result: Mapping[str, Any] | None) -> list[str]:
    if result is None:
        return []
    m, small, large = result["millions_per_service"], *result["sizes"]
    return [
        f"Instructions per service, counted (cachegrind, {small} and {large} services, the "
        f"difference over {large - small}; `--instructions`):",
        "",
        "| | ours, M | bare, M | ours / bare |",
        "| --- | --- | --- | --- |",
        f"| as run | {m['program']:.1f} | {m['bare']:.1f} | {result['over_bare']:.3f}x |",
        f"| the SDK's stack traces left out of both | {m['program-no-traces']:.1f} "
        f"| {m['bare-no-traces']:.1f} | {result['over_bare_no_traces']:.3f}x |",
        f"| the stack traces alone | {result['traces']['program']:.1f} "
        f"| {result['traces']['bare']:.1f} | – |",
        "",
    ]
