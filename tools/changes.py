"""Summarise how two renders differ: `python -m tools.changes BASE_DIR HEAD_DIR`.

Compares two folders written by `python -m tools.render` (a pull request's base and head, or two
stacks) object by object and says what Kubernetes would do: create, delete, update in place, or
replace (a new name means a new object and the old one deleted; a changed immutable field such as
a Deployment's `spec.selector` means delete, then create under the same name).

The report leads with the consequence (`what_rolls`): which Deployments roll their pods and why
(image, variables, secrets, other pod-template fields), which pods start or stop, which objects
are replaced and the field that forces it, and which changes restart no pod (replicas, autoscaler
bounds, budgets, quotas...). Then every object's changed fields, as a dotted path with its old
and new value. Secret values never appear: a Secret's data is `[secret]` whatever the files
hold, and so is any value that is `[secret]` on either side.

Options: `--format text|markdown` (markdown is a GitHub pull-request comment that a workflow finds
again by its hidden marker line, with a collapsed Mermaid diagram of the objects the change
touches, `tools.change_diagram`), `--title T`.

Exit codes: 0 compared (a report, whatever it found); 2 bad arguments or an unreadable render
folder (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml

from tools.change_diagram import change_diagram, details_block
from tools.stack_config import SECRET_PLACEHOLDER, mask

MARKER = "<!-- notification-delivery-change-summary -->"
"""First line of the markdown report; the pull-request workflow edits the comment that has it."""

MAX_MARKDOWN_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters; leave room for the heading and the note."""

NOTE_ROOM = 160
"""Characters kept free for the note that says what a cut comment left out (about 100)."""

Action = Literal["created", "updated", "replaced", "deleted"]
ACTIONS: tuple[Action, ...] = ("created", "updated", "replaced", "deleted")

Part = str | int
"""One step of a field path: a mapping key or a list index."""

# Only these top-level fields of a Secret carry values; everything under them is masked.
_SECRET_DATA_FIELDS = ("data", "stringData")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

# Fields that pulumi-kubernetes cannot update in place: a change to any field under one of these
# makes it replace the object (provider/pkg/provider/diff.go, `forceNewProperties`, read at
# pulumi-kubernetes 94977969). Every kind: metadata.name and metadata.namespace. ConfigMap and
# Secret data count with the provider's defaults (enableConfigMapMutable/enableSecretMutable off)
# and always for `immutable: true` objects, which is what this program creates.
_METADATA_IDENTITY: tuple[tuple[Part, ...], ...] = (("metadata", "name"), ("metadata", "namespace"))
_SELECTOR: tuple[Part, ...] = ("spec", "selector")
FORCES_REPLACEMENT: Mapping[str, tuple[tuple[Part, ...], ...]] = {
    "Deployment": (_SELECTOR,),
    "DaemonSet": (_SELECTOR,),
    "StatefulSet": (
        _SELECTOR,
        ("spec", "podManagementPolicy"),
        ("spec", "revisionHistoryLimit"),
        ("spec", "serviceName"),
        ("spec", "volumeClaimTemplates"),
    ),
    "Job": (
        _SELECTOR,
        ("spec", "completions"),
        ("spec", "parallelism"),
        ("spec", "template"),
    ),
    "Service": (("spec", "clusterIP"),),
    "ConfigMap": (("data",), ("binaryData",)),
    "Secret": (("type",), ("data",), ("stringData",)),
    "ResourceQuota": (("spec", "scopes"),),
    "PersistentVolumeClaim": (
        ("spec", "accessModes"),
        _SELECTOR,
        ("spec", "storageClassName"),
        ("spec", "volumeName"),
    ),
    "RoleBinding": (("roleRef",),),
    "ClusterRoleBinding": (("roleRef",),),
}

# Kinds whose `spec.template` is a pod template: changing it rolls their pods.
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
_TEMPLATE: tuple[Part, ...] = ("spec", "template")
_CONTAINER_LISTS = ("containers", "initContainers")


class _Absent:
    """A field that one side lacks (distinct from an explicit null)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


class RenderError(Exception):
    """A render folder that cannot be read; the message is one line."""


@dataclass(frozen=True)
class FieldChange:
    """One changed leaf field; `old`/`new` are already masked, or `ABSENT`."""

    path: str
    old: Any
    new: Any
    parts: tuple[Part, ...] = ()
    """The same path as keys and indexes, for callers that classify fields."""

    def describe(self) -> str:
        return f"{self.path} {show(self.old)} -> {show(self.new)}"

    def under(self, prefix: Sequence[Part]) -> bool:
        return self.parts[: len(prefix)] == tuple(prefix)


@dataclass(frozen=True)
class Change:
    """What happens to one object, identified by kind, namespace and render file name."""

    action: Action
    kind: str
    namespace: str | None
    name: str
    """The object's stable logical name (from the file name; a ConfigMap's lacks the hash)."""
    file: str
    old_name: str | None = None
    """`metadata.name` in the base render (None when created)."""
    new_name: str | None = None
    """`metadata.name` in the head render (None when deleted)."""
    fields: tuple[FieldChange, ...] = ()
    forced_by: tuple[FieldChange, ...] = ()
    """For a replacement: the changed fields that cannot change in place (never metadata.name)."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.kind}"

    @property
    def same_name(self) -> bool:
        """A replacement under the same name: the old object is deleted before the new exists."""
        return self.action == "replaced" and self.old_name == self.new_name

    def details(self) -> list[str]:
        """The field changes worth printing (a replacement's new name is in its headline)."""
        if self.action == "replaced":
            return [f.describe() for f in self.fields if f.path != "metadata.name"]
        return [f.describe() for f in self.fields]

    def headline(self) -> str | None:
        """The line that says what happens to the whole object; None for a plain update."""
        if self.same_name:
            return f"replaced (deleted, then created again: {_forced_paths(self)})"
        if self.action == "replaced":
            return f"replaced ({self.old_name} -> {self.new_name})"
        if self.action == "created":
            return "created" + _alias(self.new_name, self.name)
        if self.action == "deleted":
            return "deleted" + _alias(self.old_name, self.name)
        return None

    def lines(self) -> list[str]:
        """Plain-text lines, e.g. `prod-event-service Deployment: spec.replicas 2 -> 3`."""
        headline = self.headline()
        out = [f"{self.label}: {headline}"] if headline else []
        out.extend(f"{self.label}: {detail}" for detail in self.details())
        return out


def _alias(actual: str | None, logical: str) -> str:
    return f" ({actual})" if actual and actual != logical else ""


def _forced_paths(change: Change) -> str:
    paths = sorted({f.path for f in change.forced_by})
    return f"{', '.join(paths)} cannot change in place"


def show(value: Any) -> str:
    """A value as one short line: strings bare unless that would be ambiguous, others as JSON."""
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, str):
        if value and value == value.strip() and not re.search(r"\s", value) and value != "null":
            return value
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# --- comparing ---------------------------------------------------------------------------------


def load_render(directory: Path | str) -> dict[str, dict[str, Any]]:
    """File name to manifest for every `*.yaml` in a render folder (not its subfolders)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise RenderError(f"{folder}: no such render folder")
    manifests: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            manifest = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "cannot be parsed"
            raise RenderError(f"{path}: not valid YAML: {problem}") from None
        if not isinstance(manifest, dict) or not manifest.get("kind"):
            raise RenderError(f"{path}: not a Kubernetes object (no `kind`)")
        manifests[path.name] = manifest
    return manifests


def metadata(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = manifest.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _identity(file: str, manifest: Mapping[str, Any]) -> tuple[str, str, str]:
    # The file name, not metadata.name: content-hashed and provider-suffixed names change with
    # the content, while the file name is the program's logical name and stays put.
    return (str(manifest.get("kind", "")), str(metadata(manifest).get("namespace") or ""), file)


def logical_name(file: str, manifest: Mapping[str, Any]) -> str:
    """The program's name for an object (`prod-event-service`), from its render file name."""
    prefix = f"{str(manifest.get('kind', '')).lower()}-"
    stem = file.removesuffix(".yaml")
    if stem.startswith(prefix) and len(stem) > len(prefix):
        return stem[len(prefix) :]
    return str(metadata(manifest).get("name") or stem)


def masked(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every data value replaced, whatever the file held; others unchanged."""
    out = dict(manifest)
    if out.get("kind") == "Secret":
        for key in _SECRET_DATA_FIELDS:
            if key in out:
                out[key] = mask(out[key])
    return out


def format_path(parts: Sequence[Part]) -> str:
    """`spec.template.metadata.labels["app.kubernetes.io/version"]`, `containers[0].image`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path = f"{path}[{part}]"
            continue
        # Label keys such as app.kubernetes.io/name would read as nested fields; quote them.
        plain = bool(_PLAIN_KEY.match(part))
        shown = part if plain else json.dumps(part)
        if path:
            shown = f".{shown}" if plain else f"[{shown}]"
        path += shown
    return path


def _names(items: list[Any]) -> list[str] | None:
    """The items' `name`s when every item has a distinct one, else None."""
    names = [i.get("name") if isinstance(i, Mapping) else None for i in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return names  # type: ignore[return-value]
    return None


def _leaf(parts: tuple[Part, ...], old: Any, new: Any) -> FieldChange:
    # A placeholder on one side marks the field sensitive; the other side's value may be the same
    # secret in the clear, so it is masked too (an absent side says nothing and stays).
    if SECRET_PLACEHOLDER in (old, new):
        old = old if old is ABSENT else SECRET_PLACEHOLDER
        new = new if new is ABSENT else SECRET_PLACEHOLDER
    return FieldChange(path=format_path(parts), old=old, new=new, parts=parts)


def diff_fields(old: Any, new: Any, parts: tuple[Part, ...] = ()) -> Iterator[FieldChange]:
    """Every leaf that differs between two values (manifests), placeholders masked.

    Mappings are compared key by key; lists whose items all have distinct `name`s (containers,
    ports, env entries) are matched by name, other lists by index.
    """
    if old == new:
        return
    old_map, new_map = isinstance(old, Mapping), isinstance(new, Mapping)
    old_list, new_list = isinstance(old, list), isinstance(new, list)
    if (old_map or old is ABSENT) and (new_map or new is ABSENT) and (old_map or new_map):
        before = old if old_map else {}
        after = new if new_map else {}
        if not before and not after:
            yield _leaf(parts, old, new)  # an empty mapping appears or goes
            return
        for key in sorted(set(before) | set(after), key=str):
            yield from diff_fields(
                before.get(key, ABSENT), after.get(key, ABSENT), (*parts, str(key))
            )
        return
    if (old_list or old is ABSENT) and (new_list or new is ABSENT) and (old_list or new_list):
        before = old if old_list else []
        after = new if new_list else []
        if not before and not after:
            yield _leaf(parts, old, new)
            return
        yield from _diff_list(before, after, parts)
        return
    yield _leaf(parts, old, new)


def _diff_list(old: list[Any], new: list[Any], parts: tuple[Part, ...]) -> Iterator[FieldChange]:
    old_names, new_names = _names(old), _names(new)
    if old_names is None or new_names is None:
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else ABSENT
            after = new[index] if index < len(new) else ABSENT
            yield from diff_fields(before, after, (*parts, index))
        return
    # Containers, ports and env entries are matched by name: a reordering changes nothing, and
    # a changed entry is reported at its index in the head render.
    old_by_name = dict(zip(old_names, old, strict=True))
    for index, (name, item) in enumerate(zip(new_names, new, strict=True)):
        yield from diff_fields(old_by_name.get(name, ABSENT), item, (*parts, index))
    for index, (name, item) in enumerate(zip(old_names, old, strict=True)):
        if name not in new_names:
            yield from diff_fields(item, ABSENT, (*parts, index))


def forces_replacement(kind: str, change: FieldChange) -> bool:
    """True when pulumi-kubernetes must replace an object of `kind` to make this change."""
    prefixes = (*_METADATA_IDENTITY, *FORCES_REPLACEMENT.get(kind, ()))
    return any(change.under(prefix) for prefix in prefixes)


def compare(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """What changes from `base` to `head` (file name to manifest, as `load_render` returns)."""
    before = {_identity(f, m): (f, masked(m)) for f, m in base.items()}
    after = {_identity(f, m): (f, masked(m)) for f, m in head.items()}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[2], k[1], k[0])):
        kind, namespace, file = key
        old = before.get(key, (file, None))[1]
        new = after.get(key, (file, None))[1]
        common = partial(Change, kind=kind, namespace=namespace or None, file=file)
        if old is None:
            assert new is not None
            name = logical_name(file, new)
            changes.append(common("created", name=name, new_name=metadata(new).get("name")))
            continue
        if new is None:
            name = logical_name(file, old)
            changes.append(common("deleted", name=name, old_name=metadata(old).get("name")))
            continue
        fields = tuple(diff_fields(old, new))
        if not fields:
            continue
        old_name, new_name = metadata(old).get("name"), metadata(new).get("name")
        forced = tuple(
            f for f in fields if f.path != "metadata.name" and forces_replacement(kind, f)
        )
        action: Action = "replaced" if old_name != new_name or forced else "updated"
        changes.append(
            common(
                action,
                name=logical_name(file, new),
                old_name=old_name,
                new_name=new_name,
                fields=fields,
                forced_by=forced,
            )
        )
    return changes


# --- what rolls --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A value inside a note: bare in text, a code span in markdown."""

    text: str


class _Arrow:
    """`->` in text, `→` in markdown."""


ARROW = _Arrow()
Piece = str | Value | _Arrow


@dataclass(frozen=True)
class Note:
    """One line of the lead section: an object and, in words and values, what happens to it."""

    name: str
    kind: str
    pieces: tuple[Piece, ...]

    def text(self) -> str:
        return f"{self.name} {self.kind}: " + "".join(_text(p) for p in self.pieces)

    def markdown(self) -> str:
        return f"- {_code(self.name)} {self.kind}: " + "".join(_markdown(p) for p in self.pieces)


def _text(piece: Piece) -> str:
    if isinstance(piece, _Arrow):
        return " -> "
    return piece.text if isinstance(piece, Value) else piece


def _markdown(piece: Piece) -> str:
    if isinstance(piece, _Arrow):
        return " → "
    return _code(piece.text) if isinstance(piece, Value) else piece


@dataclass(frozen=True)
class WhatRolls:
    """The consequences of a set of changes, grouped as a reviewer asks about them."""

    rolls: tuple[Note, ...] = ()
    """Workloads whose pods are replaced: a rolling update, or the workload itself replaced."""
    starts_or_stops: tuple[Note, ...] = ()
    """Workloads created (their pods start) or deleted (their pods stop)."""
    replaced: tuple[Note, ...] = ()
    """Objects replaced, with the field that forces it."""
    no_restart: tuple[Note, ...] = ()
    """Every other change: it restarts no pod (it may add or remove some, as replicas do)."""

    def groups(self) -> list[tuple[str, tuple[Note, ...]]]:
        return [
            ("Pods roll", self.rolls),
            ("Pods start or stop", self.starts_or_stops),
            ("Replaced", self.replaced),
            ("No pod restarts", self.no_restart),
        ]


MAX_FIELDS_PER_NOTE = 3
"""A note names at most this many fields; the per-object details below list them all."""


def _fields(changes: Sequence[FieldChange]) -> list[Piece]:
    pieces: list[Piece] = []
    for index, item in enumerate(changes[:MAX_FIELDS_PER_NOTE]):
        if index:
            pieces.append("; ")
        pieces += [Value(item.path), " ", Value(show(item.old)), ARROW, Value(show(item.new))]
    if len(changes) > MAX_FIELDS_PER_NOTE:
        pieces.append(f"; and {len(changes) - MAX_FIELDS_PER_NOTE} more fields")
    return pieces


def _joined(items: Iterable[str]) -> list[Piece]:
    pieces: list[Piece] = []
    for index, item in enumerate(items):
        if index:
            pieces.append(", ")
        pieces.append(Value(item))
    return pieces


def _changed_keys(change: Change | None, sections: tuple[str, ...]) -> list[str]:
    """The keys under `sections` (e.g. `data`) whose values changed, in order."""
    if change is None:
        return []
    keys = [str(f.parts[1]) for f in change.fields if len(f.parts) > 1 and f.parts[0] in sections]
    return list(dict.fromkeys(keys))


def _container_ref(item: FieldChange) -> tuple[str, int] | None:
    """(`containers` or `initContainers`, index) when `item` is under a container of the pod."""
    parts = item.parts
    if len(parts) > 5 and parts[:3] == (*_TEMPLATE, "spec") and parts[3] in _CONTAINER_LISTS:
        index = parts[4]
        if isinstance(index, int):
            return str(parts[3]), index
    return None


def _envfrom_ref(item: FieldChange) -> str | None:
    """`configMapRef` or `secretRef` when `item` is the name in a container's envFrom entry."""
    parts = item.parts
    if not _container_ref(item) or len(parts) != 9 or (parts[5], parts[8]) != ("envFrom", "name"):
        return None
    return str(parts[7]) if parts[7] in ("configMapRef", "secretRef") else None


Reason = list[Piece]


def _change_of(old: Any, new: Any) -> Reason:
    return [Value(show(old)), ARROW, Value(show(new))]


def _rollout_reasons(
    change: Change, replacements: Mapping[tuple[str, Any, Any], Change]
) -> list[Reason]:
    """Why a workload's pods roll, in the order a reviewer asks: image, variables, secrets...

    `replacements` finds the ConfigMap or Secret replaced from one name to another, whose changed
    keys say which variables or secrets changed.
    """
    images: list[Reason] = []
    variables: list[Reason] = []
    secrets: list[Reason] = []
    labels: list[Reason] = []
    other: list[FieldChange] = []
    for item in change.fields:
        if not item.under(_TEMPLATE):
            continue
        container = _container_ref(item)
        reference = _envfrom_ref(item)
        if container and len(item.parts) == 6 and item.parts[5] == "image":
            of = "" if container == ("containers", 0) else f" of {container[0]}[{container[1]}]"
            images.append([f"image{of} ", *_change_of(item.old, item.new)])
        elif reference == "configMapRef":
            source = replacements.get(("ConfigMap", item.old, item.new))
            keys = _changed_keys(source, ("data", "binaryData"))
            if keys:
                variables.append(["variables changed: ", *_joined(keys)])
            else:
                variables.append(["variables from ConfigMap ", *_change_of(item.old, item.new)])
        elif reference == "secretRef":
            source = replacements.get(("Secret", item.old, item.new))
            keys = _changed_keys(source, ("data", "stringData"))
            named = ["secrets changed: ", *_joined(keys)] if keys else ["secrets changed"]
            secrets.append([*named, " (values not shown)"])
        elif item.under((*_TEMPLATE, "metadata", "labels")) and len(item.parts) == 5:
            label = str(item.parts[4])
            labels.append(["pod label ", Value(label), " ", *_change_of(item.old, item.new)])
        else:
            other.append(item)
    reasons = [*images, *_unique(variables), *_unique(secrets), *labels]
    if other:
        reasons.append(["pod template ", *_fields(other)])
    return reasons


def _unique(reasons: list[Reason]) -> list[Reason]:
    """One reason per ConfigMap or Secret, however many containers read it."""
    seen: list[Reason] = []
    for reason in reasons:
        if reason not in seen:
            seen.append(reason)
    return seen


def _join_reasons(reasons: Sequence[Reason]) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    for index, reason in enumerate(reasons):
        if index:
            pieces.append("; ")
        pieces += reason
    return tuple(pieces)


def _forced(change: Change) -> list[Piece]:
    return _joined(sorted({f.path for f in change.forced_by}))


def _replacement(change: Change) -> tuple[Piece, ...]:
    """Why an object is replaced, and how: under the same name (deleted first) or a new one."""
    if change.same_name:
        return (
            *_forced(change),
            " cannot change in place: deleted, then created again under the same name",
        )
    if change.forced_by:
        cause: Reason = [*_forced(change), " changed"]
    elif change.kind == "Secret":
        # An auto-named Secret gets a new name only when it is replaced, which only its data
        # or type forces; with the values masked, the changed values do not show as fields.
        cause = ["secret values changed (not shown)"]
    else:
        cause = ["new name"]
    return (
        *cause,
        "; created as ",
        Value(str(change.new_name)),
        ", ",
        Value(str(change.old_name)),
        " deleted at the end of the update",
    )


def _replaced_workload(change: Change) -> tuple[Piece, ...]:
    if change.same_name:
        return ("replaced: every pod stops before the new ones start (", *_forced(change), ")")
    return ("replaced by ", Value(str(change.new_name)), ": its pods start, then the old ones stop")


def what_rolls(changes: Sequence[Change]) -> WhatRolls:
    """Group `changes` by what they do to pods: roll, start or stop, replace, or nothing."""
    replacements = {
        (c.kind, c.old_name, c.new_name): c
        for c in changes
        if c.action == "replaced" and not c.same_name
    }
    rolls: list[Note] = []
    starts: list[Note] = []
    replaced: list[Note] = []
    quiet: list[Note] = []
    for change in changes:
        workload = change.kind in WORKLOADS
        if change.action == "replaced":
            replaced.append(Note(change.name, change.kind, _replacement(change)))
            if workload:
                rolls.append(Note(change.name, change.kind, _replaced_workload(change)))
        elif change.action in ("created", "deleted"):
            if workload:
                what = "its pods start" if change.action == "created" else "its pods stop"
                starts.append(Note(change.name, change.kind, (f"{change.action}, {what}",)))
            else:
                quiet.append(Note(change.name, change.kind, (change.action,)))
        else:
            reasons = _rollout_reasons(change, replacements) if workload else []
            if reasons:
                rolls.append(Note(change.name, change.kind, _join_reasons(reasons)))
            else:
                quiet.append(Note(change.name, change.kind, tuple(_fields(change.fields))))
    return WhatRolls(tuple(rolls), tuple(starts), tuple(replaced), tuple(quiet))


def rolled(changes: Sequence[Change]) -> set[tuple[str, str]]:
    """`(kind, name)` of each workload whose pods roll: what the change diagram marks `rolled`."""
    return {(note.kind, note.name) for note in what_rolls(changes).rolls}


def what_rolls_lines(consequences: WhatRolls) -> list[str]:
    """The lead section as text: a heading per group, `none` when empty, one line per object."""
    lines: list[str] = []
    for title, notes in consequences.groups():
        if not notes:
            lines.append(f"{title}: none")
            continue
        lines.append(f"{title} ({len(notes)}):")
        lines.extend(f"  {note.text()}" for note in notes)
    return lines


# --- reporting ---------------------------------------------------------------------------------


def counts(changes: Sequence[Change]) -> str:
    """`N created, N updated, N replaced, N deleted`."""
    return ", ".join(f"{sum(c.action == a for c in changes)} {a}" for a in ACTIONS)


def to_text(changes: Sequence[Change], title: str = "Changes") -> str:
    """What rolls first, then every object's changes."""
    lines = [*what_rolls_lines(what_rolls(changes)), "", f"{title}: {counts(changes)}"]
    for change in changes:
        lines.extend(change.lines())
    if not changes:
        lines.append("no changes")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    """An inline code span that survives a markdown table cell."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _field_cell(field: FieldChange) -> str:
    return f"{_code(field.path)}: {_code(show(field.old))} → {_code(show(field.new))}"


def _row(change: Change) -> str:
    fields = change.fields
    if change.action == "replaced":
        fields = tuple(f for f in fields if f.path != "metadata.name")
    what = change.action
    if change.same_name:
        what = "replaced: deleted, then created again"
    elif change.action == "replaced":
        what = f"replaced: {_code(str(change.old_name))} → {_code(str(change.new_name))}"
    cells = [
        _code(change.name),
        change.kind,
        _code(change.namespace) if change.namespace else "",
        what,
        "<br>".join(_field_cell(f) for f in fields),
    ]
    return "| " + " | ".join(cells) + " |"


def what_rolls_markdown(consequences: WhatRolls) -> list[str]:
    """The lead section as markdown: a bold heading per group, then a list, then a blank line."""
    lines: list[str] = []
    for title, notes in consequences.groups():
        if not notes:
            lines += [f"**{title}**: none", ""]
            continue
        lines.append(f"**{title}** ({len(notes)}):")
        lines.extend(note.markdown() for note in notes)
        lines.append("")
    return lines


def _fit(lines: Sequence[str], room: int) -> tuple[list[str], int]:
    """The leading lines that fit in `room` characters, and the room left."""
    kept: list[str] = []
    for line in lines:
        if len(line) + 1 > room:
            break
        kept.append(line)
        room -= len(line) + 1
    return kept, room


def to_markdown(
    changes: Sequence[Change],
    title: str = "Kubernetes changes",
    max_chars: int = MAX_MARKDOWN_CHARS,
    diagram: Sequence[str] = (),
) -> str:
    """A pull-request comment: marker, heading, what rolls, the collapsed `diagram` lines (see
    `tools.change_diagram.details_block`), then counts and one row per object.

    When it would not fit in `max_chars`, later lines are left out (what rolls goes first, the
    diagram is kept whole or not at all) and a last line says how many objects' rows are missing.
    """
    head = [MARKER, f"### {title}", ""]
    if not changes:
        return "\n".join([*head, "No Kubernetes object changes."]) + "\n"
    lead = ["#### What rolls", "", *what_rolls_markdown(what_rolls(changes))]
    table = [
        "#### Every change",
        "",
        f"**{counts(changes)}**",
        "",
        "| Object | Kind | Namespace | Change | Fields (old → new) |",
        "| --- | --- | --- | --- | --- |",
        *(_row(c) for c in changes),
    ]
    room = max_chars - sum(len(line) + 1 for line in head) - NOTE_ROOM
    kept_lead, room = _fit(lead, room)
    picture = ["", *diagram, ""] if diagram else []
    if len(kept_lead) < len(lead) or sum(len(line) + 1 for line in picture) > room:
        picture = []
    room -= sum(len(line) + 1 for line in picture)
    kept_table, room = _fit(table, room) if len(kept_lead) == len(lead) else ([], room)
    tail = []
    missing_notes = sum(line.startswith("- ") for line in lead[len(kept_lead) :])
    missing_rows = sum(line.startswith("| `") for line in table[len(kept_table) :])
    if missing_notes or missing_rows:
        lines = f"{missing_notes} more lines of what rolls and " if missing_notes else ""
        tail = [
            "",
            f"_{lines}{missing_rows} more objects left out to fit a comment; see the job log._",
        ]
    return "\n".join([*head, *kept_lead, *picture, *kept_table, *tail]) + "\n"


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every tool of this project reports bad input; not argparse's usage block.
        self.exit(2, f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m tools.changes", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("base", type=Path, help="render folder before the change")
    parser.add_argument("head", type=Path, help="render folder after the change")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--title", help="heading of the report")
    args = parser.parse_args(argv)
    try:
        base, head = load_render(args.base), load_render(args.head)
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changes = compare(base, head)
    if args.format == "markdown":
        mermaid = change_diagram(base, head, changes, rolled(changes))
        picture = details_block(mermaid) if mermaid else []
        text = to_markdown(changes, title=args.title or "Kubernetes changes", diagram=picture)
        sys.stdout.write(text)
    else:
        sys.stdout.write(to_text(changes, title=args.title or "Changes"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
