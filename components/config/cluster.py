"""The wrong-cluster guard: a stack deploys only to the cluster its stack file names.

`pulumi up --stack prod` with kubectl pointing at another cluster is the classic accident
(pulumi-kubernetes#1565). Every stack file pins `cluster.context` (and, where it helps,
`cluster.server`); the program builds its Kubernetes provider from that context with the default
provider disabled, and, under the real engine, checks that the context in the kubeconfig really
points at the pinned API server before anything is registered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from components.config.model import Cluster


def kubeconfig_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The files kubectl and the provider read: `$KUBECONFIG` (a path list) or ~/.kube/config."""
    environ = os.environ if environ is None else environ
    if environ.get("KUBECONFIG"):
        return [Path(p) for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _entries(document: Any, section: str) -> list[Mapping[str, Any]]:
    items = document.get(section) if isinstance(document, Mapping) else None
    return [i for i in items or [] if isinstance(i, Mapping)]


def server_of(context: str, paths: Sequence[Path]) -> str | None:
    """The API server URL `context` points at in the merged kubeconfig, or None if absent."""
    contexts: dict[str, str] = {}
    servers: dict[str, str] = {}
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        # kubectl merges files first-wins, entry by entry.
        for item in _entries(document, "contexts"):
            cluster = (item.get("context") or {}).get("cluster")
            if item.get("name") and cluster:
                contexts.setdefault(str(item["name"]), str(cluster))
        for item in _entries(document, "clusters"):
            server = (item.get("cluster") or {}).get("server")
            if item.get("name") and server:
                servers.setdefault(str(item["name"]), str(server))
    cluster = contexts.get(context)
    return servers.get(cluster) if cluster else None


def cluster_problems(cluster: Cluster, paths: Sequence[Path]) -> list[str]:
    """`key: problem` lines when the kubeconfig would send this stack to another cluster."""
    where = ", ".join(str(p) for p in paths)
    server = server_of(cluster.context, paths)
    if server is None:
        return [
            f"cluster.context: {cluster.context!r} is not a context in the kubeconfig ({where}); "
            f"name the stack's cluster context so (`kubectl config rename-context <current> "
            f"{cluster.context}`)"
        ]
    if cluster.server is not None and server.rstrip("/") != cluster.server:
        return [
            f"cluster.server: context {cluster.context!r} points at {server}, not at "
            f"{cluster.server}; refusing to deploy this stack to another cluster"
        ]
    return []
