"""CI helpers the workflows call: `python -m tools.ci stack-for-branch BRANCH`.

The branch-to-stack mapping lives here as data, not in each workflow, so that the pull-request
preview, the deploy and the tests agree on it (Pulumi has no built-in mapping).

Exit codes: 0 printed the stack; 1 the branch deploys no stack (one line on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType

STACKS: Mapping[str, str] = MappingProxyType({"development": "dev", "production": "prod"})
"""Long-lived branch to the Pulumi stack (environment) it deploys."""


def stack_for_branch(branch: str) -> str | None:
    """The stack `branch` deploys, or None; accepts `refs/heads/<branch>` as GitHub gives it."""
    return STACKS.get(branch.removeprefix("refs/heads/"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ci", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for_branch = commands.add_parser("stack-for-branch", help="print the stack a branch deploys")
    for_branch.add_argument("branch", help="branch name, e.g. development")
    args = parser.parse_args(argv)

    stack = stack_for_branch(args.branch)
    if stack is None:
        known = ", ".join(f"{b} -> {s}" for b, s in STACKS.items())
        print(f"error: branch {args.branch!r} deploys no stack (known: {known})", file=sys.stderr)
        return 1
    print(stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
