"""Pre-flight for taking over an environment: `python -m tools.takeover STACK`.

Lists every object the program would create for STACK that already exists in the cluster, and
for each the exact way forward: adopt it (`pulumi import` with the import file this writes) or
remove it (`kubectl delete`). `pulumi up` cannot simply take these over: pulumi-kubernetes
refuses to create an object that exists, and `pulumi preview` does not show that clash (under
server-side apply its dry run swallows AlreadyExists; docs/engine.md).

The objects come from the offline render; the cluster is read with `kubectl get` only, through
the stack's pinned `cluster.context` or else kubectl's current context, named explicitly in
every call. Nothing is changed.

Exit codes: 0 none of the objects exists; 1 some exist (listed, with what to do); 2 bad stack or
config, kubectl missing, or kubectl failing (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi

from tools.harness import Registered, reveal, shutdown
from tools.manifests import to_manifest
from tools.render import render
from tools.stack_config import StackFileError, add_project_dir

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
Action = Literal["adopt", "remove", "managed"]

CONTEXT_KEY = "cluster.context"
STACK_TYPE = "pulumi:pulumi:Stack"
# Field managers whose fields the provider takes over on its first update of an object
# (fixCSAFieldManagers: name prefixes, operation Update, no subresource; and kubectl's server-side
# apply). It then prunes whatever of theirs the program does not set.
TAKEN_OVER_UPDATES = ("kubectl", "before-first-apply")
TAKEN_OVER_APPLIES = ("kubectl",)
PULUMI_MANAGERS = ("pulumi-kubernetes", "pulumi-resource-kubernetes")
FORCE_ANNOTATION = "pulumi.com/patchForce"
METADATA_MAPS = (("metadata", "labels"), ("metadata", "annotations"))
NOISE = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
FORCE_ENV = "PULUMI_K8S_ENABLE_PATCH_FORCE=true"


class TakeoverError(Exception):
    """Something this tool cannot work around; the message is one line."""


@dataclass(frozen=True)
class Planned:
    """One object the program would create, under a name it chooses itself."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    pulumi_type: str
    logical_name: str
    parent_type: str | None
    parent_name: str | None
    manifest: Mapping[str, Any]

    @property
    def resource(self) -> str:
        """kubectl's `TYPE[.VERSION.GROUP]` for this object."""
        group, _, version = self.api_version.rpartition("/")
        return self.kind.lower() if not group else f"{self.kind.lower()}.{version}.{group}"

    @property
    def import_id(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def __str__(self) -> str:
        return f"{self.kind} {self.import_id}"


@dataclass(frozen=True)
class Finding:
    planned: Planned
    action: Action
    reason: str
    conflicts: tuple[str, ...] = ()
    """`path (manager)` of fields another manager owns that the program sets differently."""
    dropped: tuple[str, ...] = ()
    """Labels and annotations the first `pulumi up` removes (taken over, then pruned)."""
    forced: bool = False
    """The program forces its applies of this object (`pulumi.com/patchForce`)."""


def _parent(parent_urn: str) -> tuple[str | None, str | None]:
    # urn:pulumi:<stack>::<project>::<type chain, '$'-separated>::<name>
    type_chain, name = parent_urn.rsplit("::", 1)
    parent_type = type_chain.rsplit("::", 1)[-1].split("$")[-1]
    return (None, None) if parent_type == STACK_TYPE else (parent_type, name)


def planned_objects(resources: Iterable[Registered]) -> list[Planned]:
    """The Kubernetes objects whose names the program sets (an auto-named one cannot clash)."""
    objects = []
    for resource in resources:
        if not resource.is_kubernetes:
            continue
        name = (reveal(resource.inputs).get("metadata") or {}).get("name")
        if not name:
            continue
        manifest = to_manifest(resource)
        parent_type, parent_name = _parent(resource.parent)
        objects.append(
            Planned(
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                namespace=manifest["metadata"].get("namespace"),
                name=name,
                pulumi_type=resource.type,
                logical_name=resource.name,
                parent_type=parent_type,
                parent_name=parent_name,
                manifest=manifest,
            )
        )
    return objects


def parse_get(text: str) -> list[dict[str, Any]]:
    """Objects in `kubectl get -o json` output: one object, a List, or nothing."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TakeoverError(f"kubectl printed something that is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise TakeoverError("kubectl printed JSON that is not an object")
    items = data.get("items") if data.get("kind") == "List" else [data]
    return [item for item in items or [] if isinstance(item, dict)]


def _paths(fields: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Field paths of a managedFields `fieldsV1` set, cut at the first list element."""
    found = set()
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue  # "." (the node itself), "k:"/"v:" (list elements)
        path = (*prefix, key[2:])
        children = {k: v for k, v in (sub or {}).items() if k.startswith("f:")}
        if children:
            found |= _paths(children, path)
        else:
            found.add(path)
    return found


def _manifest_paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(value, Mapping) and value:
        found = set()
        for key, sub in value.items():
            found |= _manifest_paths(sub, (*prefix, key))
        return found
    return {prefix}


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(part if "/" not in part and "." not in part else f"[{part}]" for part in path)


def _selector(manifest: Mapping[str, Any], *path: str) -> Any:
    return _get(manifest, path) or None


def _blocker(planned: Planned, live: Mapping[str, Any]) -> str | None:
    """Why the live object cannot become the program's in place, if it cannot."""
    mine = planned.manifest
    if planned.kind == "Deployment":
        old, new = _selector(live, "spec", "selector"), _selector(mine, "spec", "selector")
        if old != new:
            return (
                f"its selector {json.dumps(old, sort_keys=True)} is not the program's "
                f"{json.dumps(new, sort_keys=True)}, and a Deployment's selector is immutable"
            )
    if (
        planned.kind == "ConfigMap"
        and live.get("immutable")
        and live.get("data") != mine.get("data")
    ):
        return "it is immutable and holds other data than the program's"
    return None


def decide(planned: Planned, live: Mapping[str, Any]) -> Finding:
    """Adopt, remove, or leave alone (already Pulumi's) one object that exists."""
    entries = [
        e for e in live.get("metadata", {}).get("managedFields") or [] if isinstance(e, dict)
    ]
    pulumi_owned = sorted(
        {e.get("manager", "") for e in entries if e.get("manager", "").startswith(PULUMI_MANAGERS)}
    )
    if pulumi_owned:
        return Finding(
            planned,
            "managed",
            f"already managed by Pulumi (field manager {', '.join(pulumi_owned)}): fine if this "
            "stack's state holds it, otherwise another stack owns it; never import it twice",
        )
    blocker = _blocker(planned, live)
    if blocker is not None:
        return Finding(planned, "remove", blocker)

    wanted = _manifest_paths(planned.manifest)
    conflicts, dropped = set(), set()
    for entry in entries:
        manager, subresource = entry.get("manager", ""), entry.get("subresource", "")
        if subresource == "status":
            continue
        owned = _paths(entry.get("fieldsV1") or {})
        prefixes = TAKEN_OVER_UPDATES if entry.get("operation") == "Update" else TAKEN_OVER_APPLIES
        if manager.startswith(prefixes) and not subresource:
            for path in owned - wanted:
                if path[:2] in METADATA_MAPS and path[-1] not in NOISE:
                    dropped.add(_dotted(path))
            continue
        for path in owned & wanted:
            if _get(live, path) != _get(planned.manifest, path):
                conflicts.add(f"{_dotted(path)} ({manager})")
    reason = (
        "a namespace holds everything in it: keep it"
        if planned.kind == "Namespace"
        else "it can become the program's object in place"
    )
    annotations = planned.manifest.get("metadata", {}).get("annotations") or {}
    return Finding(
        planned,
        "adopt",
        reason,
        conflicts=tuple(sorted(conflicts)),
        dropped=tuple(sorted(dropped)),
        forced=annotations.get(FORCE_ANNOTATION) == "true",
    )


def import_file(findings: Iterable[Finding]) -> dict[str, Any]:
    """A `pulumi import --file` document for the findings to adopt, under their components.

    Each object's parent component is declared with `"component": true`, so that the imported
    object gets the URN the program gives it; `name` is only a reference inside the file.
    """
    resources: list[dict[str, Any]] = []
    components: dict[tuple[str, str], str] = {}
    for finding in findings:
        if finding.action != "adopt":
            continue
        planned = finding.planned
        entry: dict[str, Any] = {
            "type": planned.pulumi_type,
            "name": f"{planned.kind.lower()}:{planned.logical_name}",
            "logicalName": planned.logical_name,
            "id": planned.import_id,
        }
        if planned.parent_type and planned.parent_name:
            key = (planned.parent_type, planned.parent_name)
            if key not in components:
                components[key] = f"{planned.parent_type.rsplit(':', 1)[-1].lower()}:{key[1]}"
                resources.append(
                    {
                        "type": key[0],
                        "name": components[key],
                        "logicalName": key[1],
                        "component": True,
                    }
                )
            entry["parent"] = components[key]
        resources.append(entry)
    return {"resources": resources}


def _kubectl(runner: Runner, args: Sequence[str]) -> str:
    result = runner(["kubectl", *args])
    if result.returncode != 0:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        detail = lines[0] if lines else f"exit code {result.returncode}"
        raise TakeoverError(f"`kubectl {' '.join(args[:3])} ...` failed: {detail}")
    return result.stdout


def resolve_context(runner: Runner, pinned: str | None) -> tuple[str, str]:
    """The context to read and why it is that one."""
    if pinned:
        return pinned, f"pinned by {CONTEXT_KEY}"
    current = _kubectl(runner, ["config", "current-context"]).strip()
    if not current:
        raise TakeoverError("kubectl has no current context; pass --context")
    return current, "kubectl's current context"


def find_existing(
    runner: Runner, context: str, objects: Sequence[Planned]
) -> list[tuple[Planned, dict[str, Any]]]:
    """Each planned object that exists, with its live state: one `kubectl get` per namespace."""
    by_namespace: dict[str | None, list[Planned]] = {}
    for planned in objects:
        by_namespace.setdefault(planned.namespace, []).append(planned)
    found = []
    for namespace, group in by_namespace.items():
        args = ["--context", context, "get"]
        args += [f"{p.resource}/{p.name}" for p in group]
        args += (["--namespace", namespace] if namespace else []) + [
            "--ignore-not-found",
            "--output",
            "json",
        ]
        live = {
            (o.get("kind"), o.get("metadata", {}).get("name")): o
            for o in parse_get(_kubectl(runner, args))
        }
        found += [(p, live[(p.kind, p.name)]) for p in group if (p.kind, p.name) in live]
    return found


def _subprocess_runner(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise TakeoverError(f"`{' '.join(args[:4])} ...` did not answer within 60 s") from None


def report(
    stack: str, context: str, why: str, checked: int, findings: Sequence[Finding], import_path: Path
) -> list[str]:
    lines = [
        f"stack {stack}, context {context} ({why}): {checked} objects with fixed names, "
        f"{len(findings)} exist already"
    ]
    for finding in findings:
        planned = finding.planned
        lines.append(f"{finding.action:<7} {planned}: {finding.reason}")
        delete = (
            f"kubectl --context {context}"
            + (f" --namespace {planned.namespace}" if planned.namespace else "")
            + f" delete {planned.resource} {planned.name}"
        )
        if finding.action == "remove":
            lines.append(f"        {delete}")
        elif finding.action == "adopt":
            lines.append(f"        import it: listed in {import_path}")
            if finding.dropped:
                lines.append(
                    "        the first `pulumi up` removes what the program does not set: "
                    + ", ".join(finding.dropped)
                )
            if finding.conflicts and finding.forced:
                lines.append(
                    "        the first `pulumi up` takes these fields over (forced): "
                    + ", ".join(finding.conflicts)
                )
            elif finding.conflicts:
                lines.append(
                    "        the first `pulumi up` may stop on a field conflict: "
                    + ", ".join(finding.conflicts)
                    + f"; run that one up with {FORCE_ENV}"
                    + ("" if planned.kind == "Namespace" else f", or instead: {delete}")
                )
    return lines


def main(
    argv: Sequence[str] | None = None,
    runner: Runner | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.takeover", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("stack", help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--context", help="kubeconfig context (default: the stack's pinned one)")
    parser.add_argument(
        "--import-file",
        type=Path,
        help="where to write the pulumi import file (default: takeover-<stack>.json)",
    )
    add_project_dir(parser)
    args = parser.parse_args(argv)
    import_path = args.import_file or Path(f"takeover-{args.stack}.json")
    try:
        if runner is None:
            if which("kubectl") is None:
                raise TakeoverError("kubectl not found on PATH: install it to read the cluster")
            runner = _subprocess_runner
        try:
            result = render(args.stack, root=args.project_dir)
        except (StackFileError, pulumi.RunError) as error:
            raise TakeoverError(str(error)) from None
        pinned = (result.stack.values.get("cluster") or {}).get("context")
        if args.context and pinned and args.context != pinned:
            raise TakeoverError(
                f"--context {args.context} is not the cluster this stack deploys to "
                f"({CONTEXT_KEY}: {pinned})"
            )
        if args.context:
            context, why = args.context, "--context"
        else:
            context, why = resolve_context(runner, pinned)
        objects = planned_objects(result.run.resources)
        findings = [decide(p, live) for p, live in find_existing(runner, context, objects)]
        # The namespace first: everything else lives in it.
        findings.sort(
            key=lambda f: (f.planned.namespace is not None, f.planned.kind, f.planned.name)
        )
    except TakeoverError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print("\n".join(report(args.stack, context, why, len(objects), findings, import_path)))
    document = import_file(findings)
    if document["resources"]:
        import_path.write_text(json.dumps(document, indent=2) + "\n")
        print(
            f"wrote {import_path}: pulumi import --stack {args.stack} --file {import_path} "
            "--generate-code=false"
        )
    if any(f.action == "remove" for f in findings):
        print("then, in a quiet moment: the kubectl delete commands above, and pulumi up")
    return 1 if findings else 0


if __name__ == "__main__":
    try:
        code = main()
    finally:
        shutdown()  # once, when no program runs again in this process
    sys.exit(code)
