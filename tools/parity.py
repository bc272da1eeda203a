"""Prove that two environments run the same thing: `python -m tools.parity STACK_A STACK_B`.

Renders both stacks offline, as `python -m tools.render` does (no Pulumi CLI, cluster or secrets),
and compares them object by object: kind plus name with the environment's prefix taken off, so
`stg-reminder-service` meets `prod-reminder-service`, and a ConfigMap's content hash or a Secret's
generated suffix does not count. Every field must be equal, except the differences an environment
is allowed to have, declared once in `ALLOWED_DIFFERENCES` (names, namespace, prefix, image tag
suffix, endpoints, hosts). Endpoints and hosts must differ: two environments sharing a database
or a host is reported too. docs/parity.md explains each rule.

Typical use: `python -m tools.parity staging prod` (staging mirrors production).

Exit codes: 0 in parity (one line saying so); 1 differences (one line per difference, naming
the service, kind and field, then a count); 2 bad usage, an unreadable stack file or bad config
(one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import pulumi

from components.catalog import AWS_VARIABLES
from tools.changes import ABSENT, Part, diff_fields, format_path, logical_name, masked, show
from tools.harness import shutdown
from tools.render import render
from tools.stack_config import StackFileError, add_project_dir, load_stack

Manifests = Mapping[str, Mapping[str, Any]]

INSTANCE_LABEL = "app.kubernetes.io/instance"
"""The Namespace's label that holds the environment's prefix (what the policy pack reads too)."""

ENDPOINT_VARIABLES = frozenset({"DB_HOST", *AWS_VARIABLES.values()})
"""Variables that point a service at its environment's database and AWS resources."""

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"})


class ParityError(Exception):
    """A render that cannot be compared (no single Namespace); the message is one line."""


@dataclass(frozen=True)
class EnvironmentNames:
    """The names that make a render one particular environment (its namespace, name prefix and
    generated names), read from its one Namespace object."""

    namespace: str
    prefix: str
    generated: Mapping[str, str]
    """Names the program or provider generated (`prod-x-19f427c4f9`) to the logical `prod-x`."""

    @classmethod
    def of(cls, manifests: Manifests) -> EnvironmentNames:
        namespaces = [m for m in manifests.values() if m.get("kind") == "Namespace"]
        if len(namespaces) != 1:
            raise ParityError(f"the render has {len(namespaces)} Namespaces, not exactly one")
        meta = namespaces[0].get("metadata") or {}
        prefix = (meta.get("labels") or {}).get(INSTANCE_LABEL)
        if not meta.get("name") or not prefix:
            raise ParityError(f"the render's Namespace lacks a name or the {INSTANCE_LABEL} label")
        generated = {}
        for file, manifest in manifests.items():
            actual = (manifest.get("metadata") or {}).get("name")
            logical = logical_name(file, manifest)
            if actual and actual != logical:
                generated[str(actual)] = logical
        return cls(namespace=str(meta["name"]), prefix=str(prefix), generated=generated)

    def rest_of_name(self, value: Any) -> str | None:
        """`reminder-service` for `prod-reminder-service` (or its hashed ConfigMap); else None."""
        if not isinstance(value, str):
            return None
        value = self.generated.get(value, value)
        head = f"{self.prefix}-"
        return value[len(head) :] if value.startswith(head) and len(value) > len(head) else None

    def key(self, logical: str) -> str:
        """An object's name as both environments write it: the namespace, or what follows the
        prefix (`reminder-service`, `quota`, `reminders-db`)."""
        if logical == self.namespace:
            return "namespace"
        return self.rest_of_name(logical) or logical


@dataclass(frozen=True)
class Field:
    """One field that differs between matched objects of environments `a` and `b`."""

    kind: str
    parts: tuple[Part, ...]
    old: Any
    """The value in `a` (named as in `tools.changes`, whose diff found it)."""
    new: Any
    """The value in `b`."""
    a: EnvironmentNames
    b: EnvironmentNames


@dataclass(frozen=True)
class Allowance:
    """A difference an environment is allowed to have.

    `where` says which fields it covers (None: any field); `values` says whether the two values
    differ only in the allowed way. With `own`, the two environments must not share a value there.
    """

    name: str
    description: str
    values: Callable[[Field], bool]
    where: Callable[[str, tuple[Part, ...]], bool] | None = None
    own: bool = False

    def allows(self, field: Field) -> bool:
        if self.where is not None and not self.where(field.kind, field.parts):
            return False
        return self.values(field)


def _strings(field: Field) -> bool:
    return isinstance(field.old, str) and isinstance(field.new, str)


def _same_name(field: Field) -> bool:
    rest = field.a.rest_of_name(field.old)
    return rest is not None and rest == field.b.rest_of_name(field.new)


def _is_image(kind: str, parts: tuple[Part, ...]) -> bool:
    containers = any(p in ("containers", "initContainers") for p in parts)
    return kind in WORKLOAD_KINDS and containers and parts[-1:] == ("image",)


def _same_image(field: Field) -> bool:
    if not _strings(field):
        return False
    old_suffix, new_suffix = f"-{field.a.prefix}", f"-{field.b.prefix}"
    if not (field.old.endswith(old_suffix) and field.new.endswith(new_suffix)):
        return False
    return field.old.removesuffix(old_suffix) == field.new.removesuffix(new_suffix)


def _is_endpoint(kind: str, parts: tuple[Part, ...]) -> bool:
    if kind == "Service":
        return parts == ("spec", "externalName")
    return (
        kind == "ConfigMap"
        and len(parts) == 2
        and parts[0] == "data"
        and (parts[1] in ENDPOINT_VARIABLES)
    )


def _is_host(kind: str, parts: tuple[Part, ...]) -> bool:
    if kind != "Ingress" or parts[:1] != ("spec",):
        return False
    rule_host = len(parts) == 4 and parts[1] == "rules" and parts[3] == "host"
    tls = len(parts) >= 4 and parts[1] == "tls" and parts[3] in ("hosts", "secretName")
    return rule_host or tls


ALLOWED_DIFFERENCES: tuple[Allowance, ...] = (
    Allowance(
        "namespace",
        "the environment's namespace, wherever it appears (metadata.namespace, the Namespace's "
        "name and its `name` label)",
        lambda f: f.old == f.a.namespace and f.new == f.b.namespace,
    ),
    Allowance(
        "prefix",
        "the environment's prefix as a whole value (the Namespace's app.kubernetes.io/instance)",
        lambda f: f.old == f.a.prefix and f.new == f.b.prefix,
    ),
    Allowance(
        "names",
        "names of the environment's objects and every reference to them (labels, selectors, "
        "envFrom, service accounts, autoscaler targets): `<prefix>-<rest>` with the same rest; "
        "a ConfigMap's content hash and a Secret's generated suffix do not count",
        _same_name,
    ),
    Allowance(
        "image tag suffix",
        "a container image `<image>:<version>-<prefix>` with the same image and version",
        _same_image,
        where=_is_image,
    ),
    Allowance(
        "endpoints",
        "where the environment's backends are: an ExternalName Service's spec.externalName "
        f"and the variables {', '.join(sorted(ENDPOINT_VARIABLES))}; each environment needs "
        "its own",
        _strings,
        where=_is_endpoint,
        own=True,
    ),
    Allowance(
        "hosts",
        "an Ingress's hosts and TLS Secret name; each environment needs its own",
        _strings,
        where=_is_host,
        own=True,
    ),
)
"""Every difference two environments may have; any other difference breaks parity."""


@dataclass(frozen=True)
class Difference:
    """One thing that breaks parity, as one line."""

    service: str
    """What the object belongs to: a service (`reminder-service`), `quota`, `namespace`..."""
    kind: str
    text: str

    def line(self) -> str:
        return f"{self.service} {self.kind}: {self.text}"


def _objects(
    manifests: Manifests, env: EnvironmentNames
) -> dict[tuple[str, str], Mapping[str, Any]]:
    objects: dict[tuple[str, str], Mapping[str, Any]] = {}
    for file, manifest in manifests.items():
        key = (str(manifest.get("kind", "")), env.key(logical_name(file, manifest)))
        objects[key] = masked(manifest)
    return objects


def _leaves(value: Any, parts: tuple[Part, ...] = ()) -> Iterator[tuple[tuple[Part, ...], Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, (*parts, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*parts, index))
    else:
        yield parts, value


def _at(value: Any, parts: tuple[Part, ...]) -> Any:
    for part in parts:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return ABSENT
            value = value[part]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return ABSENT
    return value


def _shared(
    kind: str, old: Mapping[str, Any], new: Mapping[str, Any], names: tuple[str, str]
) -> Iterator[str]:
    """Values both environments hold where each needs its own (a database, a host)."""
    places = [a.where for a in ALLOWED_DIFFERENCES if a.own and a.where is not None]
    for parts, value in _leaves(old):
        if any(where(kind, parts) for where in places) and _at(new, parts) == value:
            yield (
                f"{format_path(parts)}: {names[0]} and {names[1]} share {show(value)} "
                "(each environment needs its own)"
            )


def compare(a: Manifests, b: Manifests, names: tuple[str, str] = ("A", "B")) -> list[Difference]:
    """Every difference between two renders that `ALLOWED_DIFFERENCES` does not allow.

    `names` are the two environments' names for the report (e.g. `("staging", "prod")`).
    """
    env_a, env_b = EnvironmentNames.of(a), EnvironmentNames.of(b)
    objects_a, objects_b = _objects(a, env_a), _objects(b, env_b)
    found: list[Difference] = []
    for key in sorted(set(objects_a) | set(objects_b), key=lambda k: (k[1], k[0])):
        kind, service = key
        old, new = objects_a.get(key), objects_b.get(key)
        if old is None or new is None:
            only = names[1] if old is None else names[0]
            found.append(Difference(service, kind, f"only in {only}"))
            continue
        for change in diff_fields(old, new):
            field = Field(kind, change.parts, change.old, change.new, env_a, env_b)
            if any(allowance.allows(field) for allowance in ALLOWED_DIFFERENCES):
                continue
            text = f"{change.path}: {names[0]} {show(change.old)}, {names[1]} {show(change.new)}"
            found.append(Difference(service, kind, text))
        found.extend(Difference(service, kind, text) for text in _shared(kind, old, new, names))
    return found


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every tool of this project reports bad input; not argparse's usage block.
        self.exit(2, f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m tools.parity", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("stack_a", help="a stack, e.g. staging (reads Pulumi.<stack>.yaml)")
    parser.add_argument("stack_b", help="the stack it must mirror, e.g. prod")
    add_project_dir(parser)
    args = parser.parse_args(argv)
    names = (args.stack_a, args.stack_b)
    if args.stack_a == args.stack_b:
        print(f"error: compare two different stacks, not {args.stack_a} twice", file=sys.stderr)
        return 2
    try:
        # Both stack files first: a typo in the second should not cost a render of the first.
        configs = [load_stack(stack, args.project_dir) for stack in names]
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        renders = [
            render(stack, root=args.project_dir, config=config).manifests
            for stack, config in zip(names, configs, strict=True)
        ]
        found = compare(renders[0], renders[1], names)
    except (StackFileError, ParityError, pulumi.RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()  # the SDK's worker threads, once no program runs again in this process
    if not found:
        allowed = ", ".join(a.name for a in ALLOWED_DIFFERENCES)
        print(
            f"parity: {args.stack_a} and {args.stack_b} match object by object "
            f"({len(renders[0])} objects; they differ only in {allowed})"
        )
        return 0
    for difference in found:
        print(difference.line())
    print(
        f"parity: {len(found)} difference(s) between {args.stack_a} and {args.stack_b}; "
        "allowed differences: docs/parity.md"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
