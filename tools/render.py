"""Render an environment's Kubernetes objects offline: `python -m tools.render STACK [--out DIR]`.

Runs the program (`components.program.run`, what `__main__.py` runs) offline under Pulumi's mock
runtime with the stack's config, and writes every Kubernetes object it registers as YAML, one
object per file, so that `diff -r` of two renders is a review diff. Needs no Pulumi CLI, cluster,
Docker or secrets: `secure:` values are never decrypted, and every Secret value shows as
`[secret]`.

Exit codes: 0 rendered; 1 policy violations (with --check, listed one per line); 2 bad project,
stack file or config (one line on stderr, nothing written).
"""

from __future__ import annotations

if __name__ == "__main__":
    import gc

    # A one-shot run: no collection passes over the SDK's heap while it is built (tools.process).
    gc.disable()

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.config import Loaded
from components.program import run as run_stack
from tools.harness import ProgramRun, Registered, reveal, run_program, shutdown
from tools.manifests import dump, file_name, to_manifest
from tools.stack_config import (
    ROOT,
    SECRET_PLACEHOLDER,
    StackConfig,
    StackFileError,
    add_project_dir,
    load_stack,
)


@dataclass
class Render:
    """The outcome of a render, for the summary and for callers such as the tests."""

    stack: StackConfig
    run: ProgramRun
    manifests: dict[str, dict[str, Any]]
    """File name to manifest, in registration order."""
    missing_secrets: dict[str, list[str]] = field(default_factory=dict)


def render(stack: str, root: Path = ROOT, config: StackConfig | None = None) -> Render:
    """Run the program for `stack` and collect its manifests (raises on bad input).

    The program loads its config as `pulumi up` would, but offline: a required secret the stack
    file lacks reads `[secret]` (a reviewer renders without the secrets; `pulumi up` still
    refuses to run without them) and is listed in `missing_secrets`.
    """
    config = config or load_stack(stack, root)
    loaded: list[Loaded] = []
    run = run_program(config, program=lambda: loaded.append(run_stack(root, offline=True)))
    manifests = {file_name(r): to_manifest(r) for r in run.kubernetes()}
    missing = {k: list(v) for k, v in loaded[0].stand_ins.items()}
    return Render(stack=config, run=run, manifests=manifests, missing_secrets=missing)


def write(result: Render, out: Path) -> list[Path]:
    """Replace `out` with one file per object."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    paths = []
    for name, manifest in result.manifests.items():
        path = out / name
        path.write_text(dump(manifest))
        paths.append(path)
    return paths


def _container(deployment: Registered) -> dict[str, Any]:
    return reveal(deployment.state)["spec"]["template"]["spec"]["containers"][0]


def summary(result: Render) -> str:
    """A short, secret-free account of what the environment runs."""
    run = result.run
    lines = [f"stack {result.stack.stack}: namespace {run.outputs.get('namespace')}"]
    config_maps = {r.name: reveal(r.state) for r in run.kubernetes() if r.kind == "ConfigMap"}
    secrets = {r.name: reveal(r.state) for r in run.kubernetes() if r.kind == "Secret"}
    autoscalers = {
        r.name: reveal(r.state)["spec"]
        for r in run.kubernetes()
        if r.kind == "HorizontalPodAutoscaler"
    }
    for deployment in (r for r in run.kubernetes() if r.kind == "Deployment"):
        spec = reveal(deployment.state)["spec"]
        container = _container(deployment)
        variables = sorted((config_maps.get(deployment.name) or {}).get("data", {}))
        secret_names = sorted((secrets.get(deployment.name) or {}).get("stringData", {}))
        if deployment.name in autoscalers:
            hpa = autoscalers[deployment.name]
            replicas = f"autoscaled {int(hpa['minReplicas'])}-{int(hpa['maxReplicas'])}"
        else:
            replicas = f"replicas {int(spec['replicas'])}"
        lines.append(f"  {deployment.name}: image {container['image']}, {replicas}")
        lines.append(f"    variables: {', '.join(variables) or '-'}")
        lines.append(f"    secrets:   {', '.join(secret_names) or '-'}")
    for service, names in result.missing_secrets.items():
        lines.append(
            f"  note: secrets.{service} lacks {', '.join(names)} "
            f"(rendered as {SECRET_PLACEHOLDER}; `pulumi up` refuses until they are set)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.render", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("stack", help="stack name, e.g. dev or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output folder (default: rendered/<stack>)")
    add_project_dir(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="run the policy rules (docs/policy.md) over the render; exit 1 on any violation",
    )
    args = parser.parse_args(argv)
    out = args.out or args.project_dir / "rendered" / args.stack
    try:
        result = render(args.stack, root=args.project_dir)
    except (StackFileError, pulumi.RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    paths = write(result, out)
    print(summary(result))
    print(f"wrote {len(paths)} objects to {out}")
    if args.check:
        # Loaded only here: the policy rules are not needed to render.
        from tools.check import check_render, format_violations, stack_keys

        violations = check_render(result.manifests)
        if violations:
            print(format_violations(violations, stack_keys(result.manifests)))
            print(f"policy: {len(violations)} violation(s); see docs/policy.md")
            return 1
        print("policy: no violations")
    return 0


if __name__ == "__main__":
    from tools.process import run_cli

    # A one-shot run: no garbage-collection passes, no heap teardown after the output is flushed.
    run_cli(main)
