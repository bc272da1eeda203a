"""CI helpers the workflows call.

    python -m pipeline.ci stack-for-branch BRANCH
    python -m pipeline.ci target (--branch BRANCH | --stack STACK)
    python -m pipeline.ci check-kubeconfig STACK KUBECONFIG [--use-context] [--root DIR]

The branch-to-stack mapping, and which GitHub environment each kind of job of a stack runs in,
live here as data, not in each workflow, so that the workflows, the docs and the tests agree
on them (Pulumi has no built-in mapping). `target` prints one `key=value` line per field of a
stack's target (append them to `$GITHUB_OUTPUT`). `check-kubeconfig` is the pipeline half of
the wrong-cluster guard: the kubeconfig a job wrote for a stack must contain the kube context
that stack's `notification-delivery:cluster` config names (and, where the stack names its API
server, that context must point at that server); `--use-context` also makes it the current
context, so `kubectl` in the same job talks to that cluster and no other.

Exit codes: 0 done; 1 the branch or stack is unknown, or the kubeconfig fails the check (one
line on stderr); 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from components.conventions import PROJECT

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_KEY = f"{PROJECT}:cluster"


@dataclass(frozen=True)
class Target:
    """One long-lived branch, the stack it deploys, and the GitHub environments of its jobs.

    Each environment holds the secrets of one identity for one stack, so that a job can read
    only what its environment's protection rules let it (docs/pipeline.md describes them):
    `environment` the deployer (push deploys, rollbacks), `preview_environment` the deployer
    again for pull-request previews (its server-side dry-run shows admission rejections and
    defaults; a read-only identity's preview falls back to client-side and shows neither),
    `readonly_environment` the read-only identity (drift).
    """

    branch: str
    stack: str
    environment: str
    preview_environment: str
    readonly_environment: str
    kubeconfig_secret: str
    readonly_kubeconfig_secret: str


def _target(branch: str, stack: str, environment: str) -> Target:
    suffix = stack.upper()
    return Target(
        branch=branch,
        stack=stack,
        environment=environment,
        preview_environment=f"{environment}-preview",
        readonly_environment=f"{environment}-readonly",
        kubeconfig_secret=f"KUBECONFIG_{suffix}",
        readonly_kubeconfig_secret=f"KUBECONFIG_{suffix}_READONLY",
    )


TARGETS: tuple[Target, ...] = (
    _target("development", "dev", "development"),
    _target("master", "staging", "staging"),
    _target("production", "prod", "production"),
)
"""Every deployed environment, in promotion order."""

STACKS: Mapping[str, str] = MappingProxyType({t.branch: t.stack for t in TARGETS})
"""Long-lived branch to the Pulumi stack (environment) it deploys."""


class CheckError(Exception):
    """A kubeconfig or stack file that fails the wrong-cluster check; the message is one line."""


def stack_for_branch(branch: str) -> str | None:
    """The stack `branch` deploys, or None; accepts `refs/heads/<branch>` as GitHub gives it."""
    return STACKS.get(branch.removeprefix("refs/heads/"))


def target_for(*, branch: str | None = None, stack: str | None = None) -> Target | None:
    for target in TARGETS:
        if branch is not None and target.branch == branch.removeprefix("refs/heads/"):
            return target
        if stack is not None and target.stack == stack:
            return target
    return None


def _read_kubeconfig(path: Path) -> Any:
    # Imported here: the jobs that only map branches run on the runner's bare Python.
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"kubeconfig {path}: no such file") from None
    except yaml.YAMLError:
        raise CheckError(f"kubeconfig {path}: not valid YAML") from None


def _read_stack_file(path: Path) -> Any:
    # The product's reader, imported here for the same reason as PyYAML above.
    from components.config.stack_file import NotYamlError, StackFileError, read_yaml

    what = f"stack file {path}"
    try:
        return read_yaml(path, what)
    except NotYamlError:
        raise CheckError(f"{what}: not valid YAML") from None
    except StackFileError as error:
        raise CheckError(str(error)) from None


def cluster_of(stack: str, root: Path = ROOT) -> tuple[str, str | None]:
    """The kube context (and API server, if given) stack `stack` may deploy to."""
    path = root / f"Pulumi.{stack}.yaml"
    data = _read_stack_file(path)
    config = data.get("config") if isinstance(data, Mapping) else None
    cluster = config.get(CLUSTER_KEY) if isinstance(config, Mapping) else None
    context = cluster.get("context") if isinstance(cluster, Mapping) else None
    if not isinstance(context, str) or not context:
        raise CheckError(
            f"{path.name} sets no {CLUSTER_KEY}.context: the stack must name the kube context "
            "it deploys to (pulumi config set --path cluster.context <context>)"
        )
    server = cluster.get("server") if isinstance(cluster, Mapping) else None
    return context, server if isinstance(server, str) and server else None


def _named(entries: Any, name: str) -> Mapping[str, Any] | None:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def check_kubeconfig(
    stack: str, kubeconfig: Path, *, root: Path = ROOT, use_context: bool = False
) -> str:
    """Raise CheckError unless `kubeconfig` has the stack's context (on the stack's server).

    Returns the context. With `use_context`, rewrites the file's `current-context` to it.
    """
    context, server = cluster_of(stack, root)
    config = _read_kubeconfig(kubeconfig)
    if not isinstance(config, Mapping):
        raise CheckError(f"kubeconfig {kubeconfig}: empty or not a kubeconfig")
    entry = _named(config.get("contexts"), context)
    if entry is None:
        known = sorted(
            str(c.get("name")) for c in config.get("contexts") or [] if isinstance(c, Mapping)
        )
        raise CheckError(
            f"the kubeconfig for stack {stack} has no context {context!r} "
            f"(it has: {', '.join(known) or 'none'}); is it the kubeconfig of another cluster?"
        )
    if server is not None:
        cluster_name = (entry.get("context") or {}).get("cluster")
        cluster = _named(config.get("clusters"), str(cluster_name))
        actual = (cluster or {}).get("cluster", {}).get("server")
        if actual != server:
            raise CheckError(
                f"context {context!r} of the kubeconfig for stack {stack} points at "
                f"{actual or 'no server'}, but the stack deploys to {server}"
            )
    if use_context and config.get("current-context") != context:
        updated = dict(config)
        updated["current-context"] = context
        import yaml

        kubeconfig.write_text(yaml.safe_dump(updated, sort_keys=False))
    return context


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.ci", description=(__doc__ or "").split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for_branch = commands.add_parser("stack-for-branch", help="print the stack a branch deploys")
    for_branch.add_argument("branch", help="branch name, e.g. development")
    target = commands.add_parser("target", help="print a stack's branch, stack and environments")
    which = target.add_mutually_exclusive_group(required=True)
    which.add_argument("--branch", help="long-lived branch, e.g. production")
    which.add_argument("--stack", help="stack, e.g. prod")
    check = commands.add_parser("check-kubeconfig", help="the wrong-cluster guard for CI")
    check.add_argument("stack", help="stack whose Pulumi.<stack>.yaml names the cluster")
    check.add_argument("kubeconfig", type=Path, help="the kubeconfig file the job wrote")
    check.add_argument("--use-context", action="store_true", help="make it the current context")
    check.add_argument("--root", type=Path, default=ROOT, help="where the stack files are")
    args = parser.parse_args(argv)

    known = ", ".join(f"{t.branch} -> {t.stack}" for t in TARGETS)
    if args.command == "stack-for-branch":
        stack = stack_for_branch(args.branch)
        if stack is None:
            print(
                f"error: branch {args.branch!r} deploys no stack (known: {known})", file=sys.stderr
            )
            return 1
        print(stack)
        return 0
    if args.command == "target":
        found = target_for(branch=args.branch, stack=args.stack)
        if found is None:
            what = f"branch {args.branch!r}" if args.branch else f"stack {args.stack!r}"
            print(f"error: {what} is not a deployed environment (known: {known})", file=sys.stderr)
            return 1
        for key, value in asdict(found).items():
            print(f"{key.replace('_', '-')}={value}")
        return 0
    if target_for(stack=args.stack) is None and args.stack != "local":
        print(f"error: stack {args.stack!r} is not a deployed environment", file=sys.stderr)
        return 1
    try:
        context = check_kubeconfig(
            args.stack, args.kubeconfig, root=args.root, use_context=args.use_context
        )
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"kubeconfig has context {context} for stack {args.stack}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
