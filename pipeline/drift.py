"""Drift report: what changed in the cluster since the last deploy, from the engine's JSON.

    pulumi refresh --preview-only --expect-no-changes --json --stack prod > refresh.json
    python -m pipeline.drift refresh.json --stack prod --pulumi-exit-code $? [--issue-body FILE]

Reads the JSON document `pulumi refresh --preview-only --json` (or, with `--source preview`,
`pulumi preview --refresh --json`) prints: the engine's `PreviewDigest` (defined in pulumi's
`pkg/display/json.go`, filled in by `pkg/backend/display/json.go`: `steps[]` with `op`, `urn`,
`oldState`/`newState` (`apitype.ResourceV3`) and `detailedDiff` (property path ->
`{kind, inputDiff}`), plus `diagnostics[]` and `changeSummary`). A refresh step that found a
difference is rewritten to op `update` (with the provider's diff of the live object against
the program's inputs, inverted so that it says what changed in the cluster) or `delete` (the
object is gone); unchanged objects stay op `refresh`.

Fields that controllers own by design are reported apart and are not drift: `spec.replicas` of
a Deployment that a HorizontalPodAutoscaler of the same stack scales, `status`, and the
metadata the API server writes. `--ignore KIND:PATH` adds one (e.g. `Deployment:spec.paused`).
The report and the issue body name objects and fields, never values (a value edited in by hand
may be a secret); `--show-values` adds them to the printed report, never to the issue body.

`--pulumi-exit-code` is the CLI's exit status: 0 no changes, 7 changes with
`--expect-no-changes` (CLI 3.227 and later, `pkg/cmd/pulumi/cmd/exit_codes.go`), 1 any error
(older CLIs also exit 1 for `--expect-no-changes`: the document then decides). Anything else,
an error diagnostic, or a document that is not a digest is an error, never "no drift".

Exit codes: 0 no drift; 3 drift; 2 error (the engine failed, the document is unusable, or bad
usage). The report goes to stdout; one error line to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_DRIFT, ERROR, DRIFT = 0, 2, 3
PULUMI_NO_CHANGES_EXPECTED = 7
"""`ExitNoChanges` in pulumi's pkg/cmd/pulumi/cmd/exit_codes.go."""
MARKER = "<!-- notification-delivery-drift:{stack} -->"
"""Hidden first line of a stack's drift issue; the workflow finds the issue by it."""

HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
             "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")  # fmt: skip
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")
SERVER_OWNED = (
    ("status", "written by the object's controller"),
    ("metadata.resourceVersion", "written by the API server"),
    ("metadata.generation", "written by the API server"),
    ("metadata.managedFields", "written by the API server"),
    ("metadata.uid", "written by the API server"),
    ("metadata.creationTimestamp", "written by the API server"),
    ('metadata.annotations["deployment.kubernetes.io/revision"]', "the Deployment controller"),
    (
        'spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]',
        "`kubectl rollout restart`: restarts pods, changes nothing they run",
    ),
)
# Ops that mean "different" in each kind of document. A refresh digest rewrites a drifted
# object's step to `update` or `delete`; a preview lists what an update would do.
REFRESH_OPS = ("update", "delete")
PREVIEW_OPS = ("update", "replace", "create", "delete", "create-replacement", "delete-replaced")
SAME_OPS = ("same", "refresh", "read", "read-discard", "discard-replaced", "read-replacement")

_MISSING = object()


class DocumentError(Exception):
    """The engine's output cannot be used; the message is one line."""


@dataclass(frozen=True)
class FieldDrift:
    path: str
    change: str
    """What happened in the cluster: `changed`, `added` or `removed`."""
    replace: bool = False
    """Putting it back means replacing the object (an immutable field)."""
    desired: Any = _MISSING
    live: Any = _MISSING


@dataclass
class ObjectDrift:
    urn: str
    type: str
    kind: str
    namespace: str
    name: str
    status: str
    """`changed` (fields below), `deleted` (gone from the cluster) or `missing` (never there)."""
    fields: list[FieldDrift] = field(default_factory=list)
    ignored: list[tuple[FieldDrift, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @property
    def drifted(self) -> bool:
        return self.status != "changed" or bool(self.fields)


@dataclass
class Report:
    stack: str
    objects: list[ObjectDrift] = field(default_factory=list)
    unexplained: int = 0
    """Changes the summary counts but no step details (a provider without a detailed diff)."""
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[ObjectDrift]:
        return [o for o in self.objects if o.drifted]

    @property
    def ignored(self) -> list[tuple[ObjectDrift, FieldDrift, str]]:
        return [(o, f, why) for o in self.objects for f, why in o.ignored]

    @property
    def has_drift(self) -> bool:
        return bool(self.drifted) or self.unexplained > 0

    @property
    def any_change(self) -> bool:
        return bool(self.objects) or self.unexplained > 0


@dataclass(frozen=True)
class Ignore:
    kind: str
    path: str
    reason: str

    def matches(self, kind: str, path: str) -> bool:
        return (self.kind in ("*", kind)) and _under(path, self.path)


# --- property paths ---------------------------------------------------------------------------


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def parse_path(path: str) -> list[str | int]:
    """`a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"]: the property paths of `detailedDiff` keys.

    The Kubernetes provider writes them so (provider.go, convertPatchToDiff): a key holding
    `.`, `"`, `[` or `]` in `["..."]` with `"` escaped, other keys after a dot, indices in `[n]`.
    """
    parts: list[str | int] = []
    i, n = 0, len(path)
    while i < n:
        char = path[i]
        if char == ".":
            i += 1
        elif char == "[":
            if path.startswith('["', i):
                i += 2
                key = []
                while i < n and path[i] != '"':
                    if path[i] == "\\" and i + 1 < n:
                        i += 1
                    key.append(path[i])
                    i += 1
                if not path.startswith('"]', i):
                    raise ValueError(f"unterminated key in property path {path!r}")
                parts.append("".join(key))
                i += 2
            else:
                end = path.find("]", i)
                if end < 0 or not path[i + 1 : end].isdigit():
                    raise ValueError(f"bad index in property path {path!r}")
                parts.append(int(path[i + 1 : end]))
                i = end + 1
        else:
            end = i
            while end < n and path[end] not in ".[":
                end += 1
            parts.append(path[i:end])
            i = end
    return parts


def lookup(value: Any, path: str) -> Any:
    """The value at a property path, or `_MISSING`."""
    try:
        parts = parse_path(path)
    except ValueError:
        return _MISSING
    for part in parts:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
            value = value[part]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


# --- reading the document ---------------------------------------------------------------------


def load_document(text: str) -> Mapping[str, Any]:
    stripped = text.strip()
    if not stripped:
        raise DocumentError("the engine printed no JSON (did pulumi fail before it started?)")
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as error:
        if stripped.startswith("{") and '"sequence"' in stripped.split("\n", 1)[0]:
            raise DocumentError(
                "this is the streaming event log, not a preview digest: unset "
                "PULUMI_ENABLE_STREAMING_JSON_PREVIEW"
            ) from None
        raise DocumentError(
            f"the engine's output is not JSON: {error.msg} (line {error.lineno})"
        ) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("steps", []), list):
        raise DocumentError("the engine's output is not a preview digest (no `steps` list)")
    return document


def _state(step: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    state = step.get(key)
    return state if isinstance(state, Mapping) else {}


def _section(state: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = state.get(key)
    return value if isinstance(value, Mapping) else {}


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1] if resource_type.count(":") == 2 else resource_type


def _identity(step: Mapping[str, Any]) -> tuple[str, str]:
    for key in ("newState", "oldState"):
        state = _state(step, key)
        for section in ("outputs", "inputs"):
            metadata = _section(_section(state, section), "metadata")
            if metadata.get("name"):
                return str(metadata.get("namespace") or ""), str(metadata["name"])
        resource_id = str(state.get("id") or "")
        if resource_id:
            namespace, _, name = resource_id.rpartition("/")
            return namespace, name
    return "", str(step.get("urn", "")).rsplit("::", 1)[-1]


def autoscaled(steps: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(kind, namespace, name) of every object an HPA of this stack scales -> the HPA's name."""
    out: dict[tuple[str, str, str], str] = {}
    for step in steps:
        for key in ("newState", "oldState"):
            state = _state(step, key)
            if state.get("type") not in HPA_TYPES:
                continue
            for section in ("outputs", "inputs"):
                body = _section(state, section)
                target = _section(_section(body, "spec"), "scaleTargetRef")
                metadata = _section(body, "metadata")
                if target.get("name"):
                    where = (
                        str(target.get("kind") or "Deployment"),
                        str(metadata.get("namespace") or ""),
                        str(target["name"]),
                    )
                    out[where] = str(metadata.get("name") or "")
                    break
    return out


_CLUSTER_CHANGE = {"add": "added", "delete": "removed", "update": "changed"}
_INVERT = {"add": "delete", "delete": "add", "update": "update"}


def classify(
    document: Mapping[str, Any],
    stack: str,
    *,
    source: str = "refresh",
    extra_ignores: Sequence[Ignore] = (),
) -> Report:
    """Sort the document's steps into drift, controller-owned changes, warnings and errors."""
    steps = [s for s in document.get("steps") or [] if isinstance(s, Mapping)]
    report = Report(stack=stack)
    for diagnostic in document.get("diagnostics") or []:
        if not isinstance(diagnostic, Mapping):
            continue
        message = " ".join(str(diagnostic.get("message", "")).split())
        if diagnostic.get("severity") == "error":
            report.errors.append(message)
        elif diagnostic.get("severity") == "warning":
            report.warnings.append(message)

    scaled = autoscaled(steps)
    ops = REFRESH_OPS if source == "refresh" else PREVIEW_OPS
    explained = 0
    for step in steps:
        op = str(step.get("op", ""))
        if op in SAME_OPS or op not in ops:
            continue
        explained += 1
        report.objects.append(_object_drift(step, op, source, scaled, extra_ignores))

    summary = document.get("changeSummary") or {}
    counted = sum(
        int(n) for op, n in summary.items() if op not in SAME_OPS and isinstance(n, int | float)
    )
    report.unexplained = max(0, counted - explained)
    return report


def _object_drift(
    step: Mapping[str, Any],
    op: str,
    source: str,
    scaled: Mapping[tuple[str, str, str], str],
    extra_ignores: Sequence[Ignore],
) -> ObjectDrift:
    old, new = _state(step, "oldState"), _state(step, "newState")
    resource_type = str(step.get("type") or old.get("type") or new.get("type") or "")
    kind = _kind(resource_type)
    namespace, name = _identity(step)
    drift = ObjectDrift(
        urn=str(step.get("urn", "")), type=resource_type, kind=kind, namespace=namespace,
        name=name, status="changed",
    )  # fmt: skip
    if op == "delete" and source == "refresh" or op == "create" and source == "preview":
        drift.status = "deleted" if source == "refresh" else "missing"
        return drift
    if op == "delete":  # preview: the program no longer declares it; not a cluster change
        drift.status = "undeclared"
        return drift

    # Refresh: oldState is the state before the refresh (the program's inputs of the last
    # deploy), newState the live object pruned to those inputs' shape. Preview: the other way.
    before, after = ("oldState", "newState") if source == "refresh" else ("newState", "oldState")
    desired = _section(_state(step, before), "inputs")
    live = _section(_state(step, after), "inputs")
    hpa = scaled.get((kind, namespace, name))
    ignores = list(extra_ignores) + [Ignore("*", path, why) for path, why in SERVER_OWNED]
    if hpa is not None and kind in SCALABLE_KINDS:
        ignores.append(Ignore(kind, "spec.replicas", f"HorizontalPodAutoscaler {hpa} owns it"))

    details = step.get("detailedDiff")
    if not isinstance(details, Mapping) or not details:
        drift.fields.append(
            FieldDrift(path="(no field details from the provider)", change="changed")
        )
        return drift
    for path in sorted(details):
        diff = details[path] if isinstance(details[path], Mapping) else {}
        # The digest's PropertyDiff says `kind`; apitype's streaming events say `diffKind`.
        raw = str(diff.get("kind") or diff.get("diffKind") or "update")
        base, _, replace = raw.partition("-")
        if source == "preview":
            base = _INVERT.get(base, base)
        found = FieldDrift(
            path=path, change=_CLUSTER_CHANGE.get(base, base), replace=bool(replace),
            desired=lookup(desired, path), live=lookup(live, path),
        )  # fmt: skip
        reason = next((i.reason for i in ignores if i.matches(kind, path)), None)
        if reason is None:
            drift.fields.append(found)
        else:
            drift.ignored.append((found, reason))
    return drift


# --- decision and output ----------------------------------------------------------------------


def decide(report: Report, pulumi_exit: int | None) -> tuple[int, str | None]:
    """Exit code and, for an error, its one-line reason."""
    if report.errors:
        return ERROR, f"the engine reported an error: {report.errors[0]}"
    if pulumi_exit not in (None, 0, 1, PULUMI_NO_CHANGES_EXPECTED):
        return ERROR, f"pulumi exited {pulumi_exit}, which is neither success nor drift"
    if pulumi_exit == 1 and not report.any_change:
        return ERROR, "pulumi exited 1 and reported no change: it failed (see its stderr)"
    if pulumi_exit == PULUMI_NO_CHANGES_EXPECTED and not report.any_change:
        return ERROR, "pulumi exited 7 (changes) but its JSON lists none"
    return (DRIFT if report.has_drift else NO_DRIFT), None


def _value(value: Any, kind: str) -> str:
    if value is _MISSING:
        return "(absent)"
    if kind == "Secret":
        return "[secret]"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_line(item: FieldDrift, kind: str, show_values: bool) -> str:
    line = f"{item.path} {item.change} in the cluster"
    if item.replace:
        line += " (putting it back replaces the object)"
    if show_values:
        line += f": deployed {_value(item.desired, kind)}, live {_value(item.live, kind)}"
    return line


_STATUS_TEXT = {
    "deleted": "deleted from the cluster",
    "missing": "missing from the cluster",
    "undeclared": "in the state but no longer in the program",
}


def render_text(report: Report, status: int, *, show_values: bool = False) -> str:
    lines = []
    if status == NO_DRIFT:
        lines.append(f"stack {report.stack}: no drift")
    elif status == DRIFT:
        lines.append(f"stack {report.stack}: DRIFT in {len(report.drifted)} object(s)")
    else:
        lines.append(f"stack {report.stack}: could not check for drift")
    for obj in report.drifted:
        lines.append(f"  {obj.label}: {_STATUS_TEXT.get(obj.status, 'changed')}")
        lines.extend(f"    {_field_line(f, obj.kind, show_values)}" for f in obj.fields)
    if report.unexplained:
        lines.append(f"  {report.unexplained} more change(s) without field details")
    for obj, item, why in report.ignored:
        lines.append(f"  not drift: {obj.label} {item.path} ({why})")
    lines.extend(f"  warning: {w}" for w in report.warnings)
    lines.extend(f"  error: {e}" for e in report.errors)
    return "\n".join(lines) + "\n"


def render_issue(report: Report, *, run_url: str | None = None, deploy_hint: str = "") -> str:
    """The body of the stack's drift issue: objects and fields, never values."""
    out = [MARKER.format(stack=report.stack), f"## Drift in stack `{report.stack}`", ""]
    checked = f" by [this run]({run_url})" if run_url else ""
    out += [
        f"Checked{checked} with `pulumi refresh --preview-only`: these objects differ from what "
        "the last deploy applied. The drift workflow edits this issue on every run and closes "
        "it when the drift is gone.",
        "",
        "| object | change | fields (changed in the cluster) |",
        "| --- | --- | --- |",
    ]
    for obj in report.drifted:
        fields = "<br>".join(
            f"`{f.path}` {f.change}" + (" (replaces the object to undo)" if f.replace else "")
            for f in obj.fields
        )
        out.append(
            f"| {obj.kind} `{obj.namespace + '/' if obj.namespace else ''}{obj.name}` "
            f"| {_STATUS_TEXT.get(obj.status, 'changed')} | {fields or '-'} |"
        )
    if report.unexplained:
        out.append(
            f"| ({report.unexplained} more) | changed | no field details from the provider |"
        )
    if report.ignored:
        out += ["", "Not drift (fields that controllers own by design):", ""]
        out += [f"- {o.label} `{f.path}`: {why}" for o, f, why in report.ignored]
    out += [
        "",
        "### What to do",
        "",
        "- **Undo it**: run a normal, reviewed deploy of this stack with drift remediation "
        f'(docs/operations.md, "Remediating drift"){deploy_hint}. It refreshes, shows the '
        "fields it puts back in its preview, and goes through the same approval as any deploy.",
        "- **Keep it**: make the same change in the program or `Pulumi."
        f"{report.stack}.yaml` in a pull request; once deployed, the drift is gone.",
        "- Values are left out on purpose: a value edited in by hand may be a secret. "
        f"`make drift STACK={report.stack}` shows them to someone with cluster access.",
    ]
    return "\n".join(out) + "\n"


def _parse_ignore(text: str) -> Ignore:
    kind, sep, path = text.partition(":")
    if not sep or not kind or not path:
        raise argparse.ArgumentTypeError(
            f"expected KIND:PATH (e.g. Deployment:spec.paused), got {text!r}"
        )
    return Ignore(kind, path, "ignored with --ignore")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.drift", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("document", type=Path, help="the engine's JSON output ('-' for stdin)")
    parser.add_argument("--stack", required=True, help="the stack the document is about")
    parser.add_argument("--source", choices=("refresh", "preview"), default="refresh",
                        help="refresh: `pulumi refresh --preview-only --json` (default); "
                        "preview: `pulumi preview --refresh --json`")  # fmt: skip
    parser.add_argument("--pulumi-exit-code", type=int, help="the CLI's exit status")
    parser.add_argument("--issue-body", type=Path, help="write the drift issue's body here")
    parser.add_argument("--run-url", help="link to the run, for the issue body")
    parser.add_argument("--deploy-hint", default="", help="extra text after the remediation hint")
    parser.add_argument("--ignore", type=_parse_ignore, action="append", default=[],
                        metavar="KIND:PATH", help="one more field that is not drift")  # fmt: skip
    parser.add_argument("--show-values", action="store_true", help="print deployed/live values")
    args = parser.parse_args(argv)

    try:
        text = sys.stdin.read() if str(args.document) == "-" else args.document.read_text()
        document = load_document(text)
    except OSError as error:
        print(f"error: cannot read {args.document}: {error.strerror}", file=sys.stderr)
        return ERROR
    except DocumentError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return ERROR
    report = classify(document, args.stack, source=args.source, extra_ignores=args.ignore)
    status, reason = decide(report, args.pulumi_exit_code)
    sys.stdout.write(render_text(report, status, show_values=args.show_values))
    if args.issue_body is not None:
        args.issue_body.write_text(
            render_issue(report, run_url=args.run_url, deploy_hint=args.deploy_hint)
        )
    if reason is not None:
        print(f"error: stack {args.stack}: {reason}", file=sys.stderr)
    return status


def iter_fields(report: Report) -> Iterator[tuple[str, str]]:
    """(object label, field path) of every drifted field; what tests and tools compare."""
    for obj in report.drifted:
        if not obj.fields:
            yield obj.label, f"({obj.status})"
        for item in obj.fields:
            yield obj.label, item.path


if __name__ == "__main__":
    sys.exit(main())
