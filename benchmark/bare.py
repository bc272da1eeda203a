"""A bare Pulumi program: registers a dump's objects with the SDK's classes, and nothing else.

`benchmark.driver bare` reads the dump (outside the timed part), then runs `program(records)`
under the same mock runtime as the real program; `benchmark.limit limit` calls `register`
directly under a trivial mock. The objects are the same types, names, parents, providers,
dependencies and input values as the real program registered; what is missing is everything the
real program does besides registering (reading and checking config, building the input dicts,
wiring outputs between objects: the bare program names each dependency with `depends_on` and
passes plain values). The difference between the two runs is our cost; this run is the SDK's.

Kept free of the project's other modules (the harness, YAML), so that the limit process loads
only the SDK and this file.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

import pulumi

PROVIDER_TYPE = "pulumi:providers:kubernetes"
"""The program's explicit provider (the wrong-cluster guard); its objects name it, so do ours."""
SECRET_KEY = "$secret"
"""A dump writes a secret input as `{SECRET_KEY: value}` (benchmark.driver.dump_run)."""

# Set by the class itself from its type token; passing them again would be an error.
_IMPLIED = ("apiVersion", "kind")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _rebuild(value: Any) -> Any:
    """Dumped values back to program values: secret markers become secret outputs."""
    if isinstance(value, dict):
        if len(value) == 1 and SECRET_KEY in value:
            return pulumi.Output.secret(_rebuild(value[SECRET_KEY]))
        return {k: _rebuild(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebuild(v) for v in value]
    return value


def kubernetes_module(type_token: str) -> str | None:
    """`kubernetes:networking.k8s.io/v1:Ingress` -> `networking.v1` (None for other packages)."""
    package, module, _ = type_token.split(":")
    if package != "kubernetes":
        return None
    group, _, version = module.partition("/")
    # API groups name the Python package by their first label: networking.k8s.io -> networking.
    return f"{group.split('.')[0]}.{version}"


# Cached: a lookup per object would bill import machinery to the SDK's registration cost.
@functools.cache
def _resource_class(type_token: str) -> type[pulumi.CustomResource] | None:
    """`kubernetes:networking.k8s.io/v1:Ingress` -> `pulumi_kubernetes.networking.v1.Ingress`."""
    if type_token == PROVIDER_TYPE:
        import pulumi_kubernetes

        return pulumi_kubernetes.Provider
    module = kubernetes_module(type_token)
    if module is None:
        return None
    kind = type_token.rsplit(":", 1)[-1]
    return getattr(importlib.import_module(f"pulumi_kubernetes.{module}"), kind)


def _provider_urn(record: dict[str, Any]) -> str:
    """The URN of the provider a record names (its reference is `urn::id`), or ""."""
    return (record.get("provider") or "").rsplit("::", 1)[0]


def register(records: list[dict[str, Any]]) -> None:
    resources: dict[str, pulumi.Resource] = {}
    for record in records:
        parent = resources.get(record["parent"])
        # The same provider reference as the real program's registration (`urn::id`).
        provider_urn = _provider_urn(record)
        provider = resources.get(provider_urn) if provider_urn else None
        # The same dependencies as the real program's registration, as `depends_on` with plain
        # input values (ours carries them as Outputs in its inputs): without them the
        # engine could create an object before its namespace, or a Deployment before the
        # ConfigMap it mounts, so no correct program registering these objects can leave them out.
        depends_on = [resources[urn] for urn in record.get("dependencies", ())]
        opts = (
            pulumi.ResourceOptions(
                parent=parent,
                provider=provider,  # type: ignore[arg-type]
                depends_on=depends_on or None,
            )
            if parent is not None or provider is not None or depends_on
            else None
        )
        if not record["custom"]:
            # The program's components, registered as the SDK's plain ComponentResource.
            resources[record["urn"]] = pulumi.ComponentResource(
                record["type"], record["name"], None, opts
            )
            continue
        inputs = {k: _rebuild(v) for k, v in record["inputs"].items() if k not in _IMPLIED}
        cls = _resource_class(record["type"])
        if cls is None:
            resources[record["urn"]] = pulumi.CustomResource(
                record["type"], record["name"], inputs, opts
            )
        else:
            kwargs = {_snake(k): v for k, v in inputs.items()}
            resources[record["urn"]] = cls(record["name"], opts=opts, **kwargs)


def ordered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every record after its parent, its provider and its dependencies (the dump is sorted by
    URN, which guarantees none of these), otherwise in the dump's order."""
    by_urn = {r["urn"]: r for r in records}
    done: set[str] = set()
    result: list[dict[str, Any]] = []

    def visit(record: dict[str, Any]) -> None:
        if record["urn"] in done:
            return
        done.add(record["urn"])
        for urn in (record["parent"], _provider_urn(record), *record.get("dependencies", ())):
            if urn in by_urn:
                visit(by_urn[urn])
        result.append(record)

    for record in records:
        visit(record)
    return result


def program(records: list[dict[str, Any]]) -> Callable[[], None]:
    """The bare program over a dump's `records` (type, name, urn, parent, custom, inputs of each
    registration), for `tools.harness.run_program(program=...)`: ordered, then registered, both
    inside the run as the real program's own work is."""

    def run() -> None:
        register(ordered(records))

    return run
