"""Comparing what `tools.render` predicts with what the API server holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.e2e.engine import Cluster, decoded

SECRET_PLACEHOLDER = "[secret]"


def differences(expected: Any, live: Any, path: str = "") -> list[str]:
    """Every field of `expected` that `live` lacks or holds with another value.

    `live` may hold more (defaults the API server fills in, status, Pulumi's own annotations):
    the render is what the program sends, so each of its fields must arrive as written.
    """
    if isinstance(expected, Mapping):
        if not isinstance(live, Mapping):
            return [f"{path}: expected a mapping, live has {live!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in live:
                found.append(f"{path}.{key}: missing in the live object")
            else:
                found += differences(value, live[key], f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            return [f"{path}: expected {expected!r}, live has {live!r}"]
        return [d for i, (e, v) in enumerate(zip(expected, live, strict=True))
                for d in differences(e, v, f"{path}[{i}]")]  # fmt: skip
    if expected != live:
        return [f"{path}: expected {expected!r}, live has {live!r}"]
    return []


def compare(
    cluster: Cluster,
    rendered: Mapping[tuple[str, str], Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """Differences between each rendered object and its live twin, `kind/name: field: ...`.

    A rendered Secret shows `[secret]` for every value; its live twin must hold exactly the
    keys, with the values the test set with `pulumi config set --secret` (`secrets`, keyed by
    the service the Secret belongs to).
    """
    problems: list[str] = []
    for (kind, name), manifest in rendered.items():
        namespace = manifest["metadata"].get("namespace")
        live = cluster.get(kind, name, namespace)
        if live is None:
            problems.append(f"{kind}/{name}: not in the cluster")
            continue
        expected = dict(manifest)
        if kind == "Secret":
            string_data = expected.pop("stringData", {})
            service = manifest["metadata"]["labels"]["app.kubernetes.io/name"]
            want = {key: secrets[service][key] for key in string_data}
            if decoded(live) != want:
                problems.append(
                    f"{kind}/{name}: data is {sorted(decoded(live))}, not {sorted(want)}"
                )
        problems += [f"{kind}/{name}: {d}" for d in differences(expected, live)]
    return problems
