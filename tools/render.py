"""Render an environment's Kubernetes objects offline: `python -m tools.render STACK [--out DIR]`.

Runs the program (`components.program.run`, what `__main__.py` runs) offline under Pulumi's mock
runtime with the stack's config, and writes every Kubernetes object it registers as YAML, one
object per file, so that `diff -r` of two renders is a review diff. Needs no Pulumi CLI, cluster,
Docker or secrets: `secure:` values are never decrypted, and every Secret value shows as
`[secret]`.

A render never deletes what it did not write. It marks its folder with a `.render` file that lists
the files it wrote; it writes into a folder that does not exist or is empty, and replaces an
earlier render's folder by deleting only the files that render listed. Any other folder (one that
holds a file the render did not write) is refused. `--out -` writes the objects to standard output
as one multi-document YAML stream instead (for `kubectl diff -f -` or kubeconform), with the
summary on standard error.

Exit codes: 0 rendered; 1 policy violations (with --check, listed one per line); 2 bad project,
stack file or config, or an output folder the render may not replace (one line on stderr,
nothing written).
"""

from __future__ import annotations

if __name__ == "__main__":
    import gc

    # A one-shot run: no collection passes over the SDK's heap while it is built (tools.process).
    gc.disable()

import argparse
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


MARKER = ".render"
"""The file in a render's folder that marks it as one and lists the files the render wrote."""

_MARKER_HEADER = (
    "# Written by `python -m tools.render`: this folder is a render. A later render here deletes\n"
    "# the files listed below and writes its own; it refuses if the folder holds anything else.\n"
)

STDOUT = "-"
"""`--out -`: the objects go to standard output as one YAML stream."""


class OutputFolderError(Exception):
    """The output folder is not one the render may write into; nothing was written."""


def marker_text(names: Sequence[str]) -> str:
    """The marker for a render that wrote `names` (sorted, so `diff -r` of two renders is calm)."""
    return _MARKER_HEADER + "".join(f"{name}\n" for name in names)


def _listed(marker: Path) -> list[str] | None:
    """The file names an earlier render's marker lists; None if `marker` is not one."""
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        text = marker.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith(_MARKER_HEADER):
        return None
    names = text.removeprefix(_MARKER_HEADER).splitlines()
    if any(not n or "/" in n or "\\" in n or n in (".", "..", MARKER) for n in names):
        return None
    return names


def earlier_render(out: Path) -> list[str]:
    """The files an earlier render wrote into `out` ([] for a new or empty folder).

    Raises OutputFolderError, naming the folder and what to do, when `out` is a file, a folder
    that holds something and is no render, or a render's folder that also holds other files.
    """
    if not out.exists() and not out.is_symlink():
        return []
    if not out.is_dir():
        raise OutputFolderError(
            f"{out} exists and is not a folder; nothing written: give --out a new or empty folder"
        )
    entries = {p.name: p for p in out.iterdir()}
    if not entries:
        return []
    listed = _listed(out / MARKER) if MARKER in entries else None
    if listed is None:
        raise OutputFolderError(
            f"{out} is not empty and is not an earlier render (no {MARKER} file from one); "
            f"nothing written: give --out a new or empty folder, or move away what {out} holds"
        )
    # A listed name counts as the render's only while it is a file (or a link, which unlinking
    # removes without touching what it points at); a folder in its place is someone else's.
    ours = {n for n in listed if n in entries and (entries[n].is_symlink() or entries[n].is_file())}
    others = sorted(n for n, p in entries.items() if n != MARKER and n not in ours)
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise OutputFolderError(
            f"{out} is an earlier render but also holds files it did not write ({shown}); "
            f"nothing written: move them away or give --out another folder"
        )
    return sorted(ours)


def write(result: Render, out: Path) -> list[Path]:
    """Write one file per object into `out`, replacing only an earlier render's files.

    Raises OutputFolderError (having touched nothing) for a folder `earlier_render` refuses.
    """
    previous = earlier_render(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in previous:
        (out / name).unlink()
    # The marker first: whatever stops this write half-way, the folder stays a render whose
    # marker covers every file in it, so the next render may replace it.
    (out / MARKER).write_text(marker_text(sorted(result.manifests)))
    paths = []
    for name, manifest in result.manifests.items():
        path = out / name
        path.write_text(dump(manifest))
        paths.append(path)
    return paths


def stream(result: Render) -> str:
    """Every object as one multi-document YAML stream, in the order the program registers them."""
    return "".join(f"---\n{dump(manifest)}" for manifest in result.manifests.values())


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
    parser.add_argument(
        "--out",
        help=(
            "output folder: new, empty or an earlier render's (default: rendered/<stack>); "
            "`-` writes one YAML stream to standard output"
        ),
    )
    add_project_dir(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="run the policy rules (docs/policy.md) over the render; exit 1 on any violation",
    )
    args = parser.parse_args(argv)
    to_stdout = args.out == STDOUT
    out = Path(args.out) if args.out else args.project_dir / "rendered" / args.stack
    # With `--out -` standard output carries the objects and nothing else.
    report = sys.stderr if to_stdout else sys.stdout
    try:
        if not to_stdout:
            earlier_render(out)  # refuse a folder before the render, not after it
        result = render(args.stack, root=args.project_dir)
    except (StackFileError, pulumi.RunError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    if to_stdout:
        sys.stdout.write(stream(result))
        written = f"wrote {len(result.manifests)} objects to standard output"
    else:
        try:
            paths = write(result, out)
        except OutputFolderError as error:  # the folder changed while the program ran
            print(f"error: {error}", file=sys.stderr)
            return 2
        written = f"wrote {len(paths)} objects to {out}"
    print(summary(result), file=report)
    print(written, file=report)
    if args.check:
        # Loaded only here: the policy rules are not needed to render.
        from tools.check import check_render, format_violations, stack_keys

        violations = check_render(result.manifests)
        if violations:
            print(format_violations(violations, stack_keys(result.manifests)), file=report)
            print(f"policy: {len(violations)} violation(s); see docs/policy.md", file=report)
            return 1
        print("policy: no violations", file=report)
    return 0


if __name__ == "__main__":
    from tools.process import run_cli

    # A one-shot run: no garbage-collection passes, no heap teardown after the output is flushed.
    run_cli(main)
