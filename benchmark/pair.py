"""The pair the scale measurements compare, and the driver command that runs each variant.

`program` is ours and `bare` the bare SDK program registering the same objects (both modes of
`benchmark.driver`); each also runs as `…-no-traces`, with the SDK's per-registration stack trace
left out. The timed comparison (`benchmark.__main__.scale`) and the counted one
(`benchmark.instructions`) both build their commands here, so they run exactly the same ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

WHICH = ("program", "bare")
NO_TRACES = "-no-traces"
"""Suffix of a variant run with the SDK's per-registration stack trace left out."""
VARIANTS = (*WHICH, *(which + NO_TRACES for which in WHICH))
_DRIVER = (sys.executable, "-m", "benchmark.driver")


def dump_file(tmp: Path, services: int) -> Path:
    """What ours registered at `services`, which the bare program registers again."""
    return tmp / f"objects-{services}.json"


def dump_command(services: int, tmp: Path) -> list[str]:
    """Ours at `services`, writing the dump the bare program reads (an untimed run)."""
    return [*command("program", services, tmp), "--dump", str(dump_file(tmp, services))]


def command(variant: str, services: int, tmp: Path) -> list[str]:
    """The driver command of one variant at one size."""
    flags = ["--without-stack-traces"] if variant.endswith(NO_TRACES) else []
    if variant.removesuffix(NO_TRACES) == "program":
        return [*_DRIVER, "program", "--services", str(services), *flags]
    return [*_DRIVER, "bare", "--inputs", str(dump_file(tmp, services)), *flags]
