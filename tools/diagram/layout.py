"""The frame the steps draw into, and the last steps: a node for every object still without one,
and the tidy-up."""

from __future__ import annotations

from tools.diagram.objects import wrap
from tools.diagram.picture import Picture
from tools.mermaid import safe_id


def groups(picture: Picture) -> None:
    """The groups, in the order they are written, left to right: who may call in, the
    namespaces, what the pods call out to."""
    diagram = picture.diagram
    diagram.add_group("callers", "let in by NetworkPolicies")
    namespaces = {o.namespace for o in picture.objects if o.namespace}
    namespaces.update(o.name for o in picture.of_kind("Namespace"))
    for namespace in sorted(namespaces):
        group = diagram.add_group(safe_id("ns", namespace), f"namespace {namespace}")
        diagram.add_group(safe_id("ns", namespace, "shared"), "namespace-wide", group)
    diagram.add_group("beyond", "what the pods call")
    diagram.add_group("cluster", "cluster services", "beyond")
    diagram.add_group("databases", "PostgreSQL (ExternalName targets)", "beyond")
    diagram.add_group("aws", "AWS (named in ConfigMaps)", "beyond")


def the_rest(picture: Picture) -> None:
    """Every object gets a node, even one that no rule above connects."""
    for obj in picture.objects:
        if obj.file in picture.drawn:
            continue
        lines: list[str] = []
        if obj.kind == "ResourceQuota":
            hard = obj.spec.get("hard") or {}
            lines = wrap((f"{k} {v}" for k, v in sorted(hard.items())), 2)
        elif obj.kind == "LimitRange":
            for limit in obj.spec.get("limits") or []:
                for key in ("defaultRequest", "default", "max", "min"):
                    values = ", ".join(
                        f"{k} {v}" for k, v in sorted((limit.get(key) or {}).items())
                    )
                    if values:
                        lines.append(f"{limit.get('type', '')} {key}: {values}".strip())
        elif obj.kind == "Service":
            lines = [str(obj.spec.get("type", "ClusterIP"))]
        picture.node(obj, lines, picture.shared(obj.namespace), "config")


def tidy(picture: Picture) -> None:
    """Line up the unconnected nodes of each namespace-wide group side by side (Mermaid would
    stack them into one tall column) and drop the groups that stayed empty."""
    diagram = picture.diagram
    for group in list(diagram.groups):
        loose = [
            n.id for n in diagram.nodes.values() if n.group == group and not diagram.touches(n.id)
        ]
        for left, right in zip(loose, loose[1:], strict=False):
            diagram.add_edge(left, right, style="invisible")
    used = {n.group for n in diagram.nodes.values()}
    for group in list(diagram.groups.values()):
        if group.id in used:
            continue
        nested = any(g.parent == group.id for g in diagram.groups.values())
        linked = any(group.id in (e.source, e.target) for e in diagram.edges)
        if not nested and not linked:
            del diagram.groups[group.id]
