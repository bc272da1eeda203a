"""Summarise how two renders differ: `python -m tools.changes BASE_DIR HEAD_DIR`.

Compares two folders written by `python -m tools.render` (a pull request's base and head, or two
stacks) object by object and says what Kubernetes would do: create, delete, update in place, or
replace (a new name means a new object and the old one deleted). Updates list each changed field
as a dotted path with its old and new value. Secret values never appear: a Secret's data is
`[secret]` whatever the files hold, and so is any value that is `[secret]` on either side.

Options: `--format text|markdown` (markdown is a GitHub pull-request comment that a workflow finds
again by its hidden marker line), `--title T`.

Exit codes: 0 compared (a report, whatever it found); 2 bad arguments or an unreadable render
folder (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml

from tools.stack_config import SECRET_PLACEHOLDER, mask

MARKER = "<!-- notification-delivery-change-summary -->"
"""First line of the markdown report; the pull-request workflow edits the comment that has it."""

MAX_MARKDOWN_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters; leave room for the heading and the note."""

Action = Literal["created", "updated", "replaced", "deleted"]
ACTIONS: tuple[Action, ...] = ("created", "updated", "replaced", "deleted")

# Only these top-level fields of a Secret carry values; everything under them is masked.
_SECRET_DATA_FIELDS = ("data", "stringData")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


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

    def describe(self) -> str:
        return f"{self.path} {show(self.old)} -> {show(self.new)}"


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

    @property
    def label(self) -> str:
        return f"{self.name} {self.kind}"

    def details(self) -> list[str]:
        """The field changes worth printing (a replacement's new name is in its headline)."""
        if self.action == "replaced":
            return [f.describe() for f in self.fields if f.path != "metadata.name"]
        return [f.describe() for f in self.fields]

    def headline(self) -> str | None:
        """The line that says what happens to the whole object; None for a plain update."""
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


def _metadata(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = manifest.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _identity(file: str, manifest: Mapping[str, Any]) -> tuple[str, str, str]:
    # The file name, not metadata.name: content-hashed and provider-suffixed names change with
    # the content, while the file name is the program's logical name and stays put.
    return (str(manifest.get("kind", "")), str(_metadata(manifest).get("namespace") or ""), file)


def _logical_name(file: str, manifest: Mapping[str, Any]) -> str:
    prefix = f"{str(manifest.get('kind', '')).lower()}-"
    stem = file.removesuffix(".yaml")
    if stem.startswith(prefix) and len(stem) > len(prefix):
        return stem[len(prefix) :]
    return str(_metadata(manifest).get("name") or stem)


def _masked(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every data value replaced, whatever the file held; others unchanged."""
    out = dict(manifest)
    if out.get("kind") == "Secret":
        for key in _SECRET_DATA_FIELDS:
            if key in out:
                out[key] = mask(out[key])
    return out


def _join(path: str, key: Any) -> str:
    key = str(key)
    # Label keys such as app.kubernetes.io/name would read as nested fields; quote them.
    part = key if _PLAIN_KEY.match(key) else json.dumps(key)
    if not path:
        return part
    return f"{path}.{part}" if _PLAIN_KEY.match(key) else f"{path}[{part}]"


def _names(items: list[Any]) -> list[str] | None:
    """The items' `name`s when every item has a distinct one, else None."""
    names = [i.get("name") if isinstance(i, Mapping) else None for i in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return names  # type: ignore[return-value]
    return None


def _leaf(path: str, old: Any, new: Any) -> FieldChange:
    # A placeholder on one side marks the field sensitive; the other side's value may be the same
    # secret in the clear, so it is masked too (an absent side says nothing and stays).
    if SECRET_PLACEHOLDER in (old, new):
        old = old if old is ABSENT else SECRET_PLACEHOLDER
        new = new if new is ABSENT else SECRET_PLACEHOLDER
    return FieldChange(path=path, old=old, new=new)


def _diff(old: Any, new: Any, path: str) -> Iterator[FieldChange]:
    if old == new:
        return
    old_map, new_map = isinstance(old, Mapping), isinstance(new, Mapping)
    old_list, new_list = isinstance(old, list), isinstance(new, list)
    if (old_map or old is ABSENT) and (new_map or new is ABSENT) and (old_map or new_map):
        before = old if old_map else {}
        after = new if new_map else {}
        if not before and not after:
            yield _leaf(path, old, new)  # an empty mapping appears or goes
            return
        for key in sorted(set(before) | set(after), key=str):
            yield from _diff(before.get(key, ABSENT), after.get(key, ABSENT), _join(path, key))
        return
    if (old_list or old is ABSENT) and (new_list or new is ABSENT) and (old_list or new_list):
        before = old if old_list else []
        after = new if new_list else []
        if not before and not after:
            yield _leaf(path, old, new)
            return
        yield from _diff_list(before, after, path)
        return
    yield _leaf(path, old, new)


def _diff_list(old: list[Any], new: list[Any], path: str) -> Iterator[FieldChange]:
    old_names, new_names = _names(old), _names(new)
    if old_names is None or new_names is None:
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else ABSENT
            after = new[index] if index < len(new) else ABSENT
            yield from _diff(before, after, f"{path}[{index}]")
        return
    # Containers, ports and env entries are matched by name: a reordering changes nothing, and
    # a changed entry is reported at its index in the head render.
    old_by_name = dict(zip(old_names, old, strict=True))
    for index, (name, item) in enumerate(zip(new_names, new, strict=True)):
        yield from _diff(old_by_name.get(name, ABSENT), item, f"{path}[{index}]")
    for index, (name, item) in enumerate(zip(old_names, old, strict=True)):
        if name not in new_names:
            yield from _diff(item, ABSENT, f"{path}[{index}]")


def compare(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """What changes from `base` to `head` (file name to manifest, as `load_render` returns)."""
    before = {_identity(f, m): (f, _masked(m)) for f, m in base.items()}
    after = {_identity(f, m): (f, _masked(m)) for f, m in head.items()}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[2], k[1], k[0])):
        kind, namespace, file = key
        old = before.get(key, (file, None))[1]
        new = after.get(key, (file, None))[1]
        common = dict(kind=kind, namespace=namespace or None, file=file)
        if old is None:
            assert new is not None
            name = _logical_name(file, new)
            changes.append(
                Change("created", name=name, new_name=_metadata(new).get("name"), **common)
            )
            continue
        if new is None:
            name = _logical_name(file, old)
            changes.append(
                Change("deleted", name=name, old_name=_metadata(old).get("name"), **common)
            )
            continue
        fields = tuple(_diff(old, new, ""))
        if not fields:
            continue
        old_name, new_name = _metadata(old).get("name"), _metadata(new).get("name")
        action: Action = "replaced" if old_name != new_name else "updated"
        changes.append(
            Change(
                action,
                name=_logical_name(file, new),
                old_name=old_name,
                new_name=new_name,
                fields=fields,
                **common,
            )
        )
    return changes


# --- reporting ---------------------------------------------------------------------------------


def counts(changes: Sequence[Change]) -> str:
    """`N created, N updated, N replaced, N deleted`."""
    return ", ".join(f"{sum(c.action == a for c in changes)} {a}" for a in ACTIONS)


def to_text(changes: Sequence[Change], title: str = "Changes") -> str:
    lines = [f"{title}: {counts(changes)}"]
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
    if change.action == "replaced":
        what = f"replaced: {_code(str(change.old_name))} → {_code(str(change.new_name))}"
    cells = [
        _code(change.name),
        change.kind,
        _code(change.namespace) if change.namespace else "",
        what,
        "<br>".join(_field_cell(f) for f in fields),
    ]
    return "| " + " | ".join(cells) + " |"


def to_markdown(
    changes: Sequence[Change],
    title: str = "Kubernetes changes",
    max_chars: int = MAX_MARKDOWN_CHARS,
) -> str:
    """A pull-request comment: marker, heading, counts and one table row per object."""
    head = [MARKER, f"### {title}", "", f"**{counts(changes)}**", ""]
    if not changes:
        return "\n".join([*head, "No Kubernetes object changes."]) + "\n"
    table = [
        "| Object | Kind | Namespace | Change | Fields (old → new) |",
        "| --- | --- | --- | --- | --- |",
    ]
    used = sum(len(line) + 1 for line in head + table)
    rows = [_row(c) for c in changes]
    kept = 0
    for row in rows:
        if used + len(row) + 1 > max_chars:
            break
        table.append(row)
        used += len(row) + 1
        kept += 1
    tail = []
    if kept < len(rows):
        tail = [
            "",
            f"_{len(rows) - kept} more objects left out to fit a comment; see the job log._",
        ]
    return "\n".join([*head, *table, *tail]) + "\n"


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every tool of this project reports bad input; not argparse's usage block.
        self.exit(2, f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m tools.changes", description=__doc__.split("\n")[0])
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
        sys.stdout.write(to_markdown(changes, title=args.title or "Kubernetes changes"))
    else:
        sys.stdout.write(to_text(changes, title=args.title or "Changes"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
