"""Golden renders: every committed stack's objects, kept under `tests/golden/<stack>/`.

    python -m tools.golden --write   # re-render every Pulumi.<stack>.yaml into tests/golden/
    python -m tools.golden --check   # exit 1, naming each stale stack, if a render differs

A change to what the program deploys then shows up in review as a diff of these files, next to
the code that caused it; `tests/components/test_golden.py` fails until they are rewritten.

Exit codes: 0 written or fresh; 1 stale (with --check); 2 bad usage or a stack that fails to
render (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pulumi

from tools.manifests import dump
from tools.render import MARKER, OutputFolderError, marker_text, render, write
from tools.stack_config import ROOT, StackFileError, committed_stacks

GOLDEN = ROOT / "tests" / "golden"


def expected(stack: str) -> dict[str, str]:
    """File name to its text, as `tools.render` writes them, its `.render` marker included."""
    files = {name: dump(manifest) for name, manifest in render(stack).manifests.items()}
    return {MARKER: marker_text(sorted(files)), **files}


def stale(stack: str, golden: Path = GOLDEN) -> bool:
    folder = golden / stack
    files = expected(stack)
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    return present != set(files) or any((folder / n).read_text() != t for n, t in files.items())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.golden", description=(__doc__ or "").split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="re-render every committed stack")
    mode.add_argument("--check", action="store_true", help="exit 1 if any golden render is stale")
    args = parser.parse_args(argv)
    try:
        if args.write:
            for stack in committed_stacks():
                paths = write(render(stack), GOLDEN / stack)
                print(f"wrote {len(paths)} objects to {(GOLDEN / stack).relative_to(ROOT)}")
            return 0
        old = [stack for stack in committed_stacks() if stale(stack)]
    except (StackFileError, pulumi.RunError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for stack in old:
        print(f"tests/golden/{stack} is stale; run `python -m tools.golden --write`")
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
