"""The NetworkPolicies, and where their egress rules let the pods go."""

from __future__ import annotations

from tools.diagram.network import HTTPS_PORT, peer, ports_text
from tools.diagram.objects import KubeObject, Workload, labels_text, selects_all
from tools.diagram.picture import Picture


def policy_node(picture: Picture, policy: KubeObject, owner: Workload | None) -> None:
    """The policy's node, beside the one workload it is about (`owner`) or namespace-wide."""
    spec = policy.spec
    selector = spec.get("podSelector")
    if selects_all(selector):
        lines = ["every pod"]
    elif owner is not None:
        lines = [f"pods of {owner.obj.name}"]
    else:
        lines = [f"pods {labels_text(selector)}"]
    for direction in spec.get("policyTypes") or []:
        way = direction.lower()
        rules = spec.get(way) or []
        if not rules:
            lines.append(f"{way}: nothing allowed")
        for rule in rules:
            peers = rule.get("from" if way == "ingress" else "to") or [{}]
            texts = "; ".join(peer(p, policy.namespace).text for p in peers)
            side = "from" if way == "ingress" else "to"
            lines.append(f"{way} {ports_text(rule.get('ports'))} {side} {texts}")
    group = owner.group if owner else picture.shared(policy.namespace)
    picture.node(policy, lines, group, "policy", "hexagon")


def policies(picture: Picture) -> None:
    """Policies not drawn as a gate yet, and where their egress rules let pods go."""
    for policy in picture.of_kind("NetworkPolicy"):
        if policy.file not in picture.drawn:
            policy_node(picture, policy, picture.owner(policy))
        for rule in policy.spec.get("egress") or []:
            ports = {
                int(p["port"]) for p in rule.get("ports") or [] if str(p.get("port")).isdigit()
            }
            label = f"egress {ports_text(rule.get('ports'))}"
            database_ports = {
                int(p["port"])
                for s in picture.of_kind("Service")
                if s.spec.get("type") == "ExternalName"
                for p in s.spec.get("ports") or []
            }
            for raw in rule.get("to") or [{}]:
                target = peer(raw, policy.namespace)
                if target.cidr and ports & database_ports and picture.has_members("databases"):
                    picture.diagram.add_edge(policy.id, "databases", label, "dotted")
                elif target.cidr and HTTPS_PORT in ports and picture.has_members("aws"):
                    picture.diagram.add_edge(policy.id, "aws", label, "dotted")
                else:
                    group = "cluster" if target.namespace else None
                    picture.outside(target.id, [target.text], group, "stadium")
                    picture.diagram.add_edge(policy.id, target.id, label, "dotted")
