"""Reading live objects: what `tools.render` predicted, and who owns a field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.e2e.engine import Cluster, decoded

OMITTED_WHEN_EMPTY = (0, False, "", [], {})
"""Values the API server does not store: Kubernetes' Go types drop a zero field (`omitempty`),
so a probe's `initialDelaySeconds: 0` is sent and reads back absent, which means the same."""


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
                if value not in OMITTED_WHEN_EMPTY:
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


def replaced(value: Any, names: Mapping[str, str]) -> Any:
    """`value` with every string that is a key of `names` replaced by its value."""
    if isinstance(value, Mapping):
        return {k: replaced(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [replaced(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def secret_names(
    cluster: Cluster, rendered: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[str, str]:
    """Each rendered Secret's name to its live twin's.

    A Secret's name ends in a hash of its data as the engine holds it, encrypted, so the
    render (which never decrypts) cannot know it: the twin is the one live Secret with the same
    labels whose name has the same prefix.
    """
    names: dict[str, str] = {}
    for (kind, name), manifest in rendered.items():
        if kind != "Secret":
            continue
        metadata = manifest["metadata"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(metadata["labels"].items()))
        prefix = name.rsplit("-", 1)[0] + "-"
        twins = [
            s["metadata"]["name"]
            for s in cluster.items("secrets", metadata["namespace"], selector)
            if s["metadata"]["name"].startswith(prefix)
        ]
        if len(twins) == 1:
            names[name] = twins[0]
    return names


def compare(
    cluster: Cluster,
    rendered: Mapping[tuple[str, str], Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """Differences between each rendered object and its live twin, `kind/name: field: ...`.

    A rendered Secret shows `[secret]` for every value; its live twin (`secret_names`) must hold
    exactly the keys, with the values the test set with `pulumi config set --secret` (`secrets`,
    keyed by the service the Secret belongs to), and every reference to it must name the twin.
    """
    problems: list[str] = []
    twins = secret_names(cluster, rendered)
    for (kind, _), rendered_manifest in rendered.items():
        manifest = replaced(rendered_manifest, twins)
        name = manifest["metadata"]["name"]
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


def replicas_owners(deployment: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(manager, subresource) of every managedFields entry that owns `spec.replicas`."""
    return {
        (entry.get("manager", ""), entry.get("subresource", ""))
        for entry in deployment["metadata"].get("managedFields") or []
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    }


def pulumi_owned(owners: set[tuple[str, str]]) -> bool:
    """Whether one of the owners is the provider's field manager (`pulumi-kubernetes-...`)."""
    return any(manager.startswith("pulumi-kubernetes") for manager, _ in owners)
