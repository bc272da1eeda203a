"""NetworkPolicy rules as the picture shows them: their peers and their ports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.diagram.objects import labels_text
from tools.mermaid import safe_id

HTTPS_PORT = 443
"""The AWS APIs are HTTPS: an egress rule to this port is the way out to them."""


@dataclass
class Peer:
    """One `from` or `to` entry of a NetworkPolicy rule."""

    id: str
    text: str
    namespace: str | None = None
    cidr: str | None = None


def ports_text(ports: Iterable[Mapping[str, Any]] | None) -> str:
    if not ports:
        return "any port"
    by_port: dict[str, list[str]] = {}
    for port in ports:
        by_port.setdefault(str(port.get("port", "any")), []).append(port.get("protocol", "TCP"))
    return ", ".join(f":{port} {'/'.join(protocols)}" for port, protocols in by_port.items())


def peer(entry: Mapping[str, Any], policy_namespace: str | None) -> Peer:
    """An empty entry stands for a rule without `from` or `to`: any address at all."""
    if not entry:
        return Peer("peer_anywhere", "anywhere", cidr="0.0.0.0/0")
    if "ipBlock" in entry:
        cidr = str(entry["ipBlock"].get("cidr"))
        text = f"addresses {cidr}"
        if entry["ipBlock"].get("except"):
            text += f" except {', '.join(entry['ipBlock']['except'])}"
        return Peer(safe_id("peer", text), text, cidr=cidr)
    namespace_selector = entry.get("namespaceSelector")
    if namespace_selector is None:
        namespace, where = policy_namespace, f"namespace {policy_namespace}"
    else:
        namespace = (namespace_selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        where = (
            f"namespace {namespace}"
            if namespace
            else f"namespaces {labels_text(namespace_selector) or 'all'}"
        )
        namespace = namespace or "*"
    pods = labels_text(entry.get("podSelector"))
    text = f"pods {pods} in {where}" if pods else f"{where}, all pods"
    return Peer(safe_id("peer", where, pods), text, namespace=namespace)
