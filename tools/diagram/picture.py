"""The picture being drawn: the manifests, the `Diagram` so far, and the lookups every step uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools.diagram.objects import KubeObject, Workload, selects, selects_all
from tools.mermaid import Diagram, Shape, safe_id

ROLE_CLASSES: Mapping[str, str] = {
    "workload": "fill:#dbe9ff,stroke:#2f5f9e,color:#0d2344",
    "config": "fill:#f4f4f4,stroke:#777777,color:#222222",
    "secret": "fill:#fdf3d0,stroke:#9a7a12,color:#2e2400",
    "traffic": "fill:#e0f3e4,stroke:#3b7d4a,color:#10301a",
    "policy": "fill:#ffffff,stroke:#8a5a9e,stroke-dasharray:4 3,color:#3a1f47",
    "outside": "fill:#fff0e0,stroke:#b86b1d,color:#3b1f00",
}
"""The environment picture's colours, by what a node is; `styled=False` leaves them out."""


class Picture:
    """One environment's diagram under construction; the steps in `tools.diagram` add to it."""

    def __init__(self, manifests: Mapping[str, Mapping[str, Any]], styled: bool) -> None:
        self.objects = [KubeObject(f, m) for f, m in manifests.items()]
        self.diagram = Diagram(class_defs=dict(ROLE_CLASSES) if styled else {})
        self.styled = styled
        self.drawn: set[str] = set()
        """The files that have a node."""
        self.workloads: list[Workload] = []

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        return [o for o in self.objects if o.kind in kinds]

    def find(self, kind: str, name: Any, namespace: str | None) -> KubeObject | None:
        for obj in self.objects:
            if obj.kind == kind and obj.name == name and obj.namespace == namespace:
                return obj
        return None

    def shared(self, namespace: str | None) -> str | None:
        """The namespace-wide group of `namespace`."""
        return safe_id("ns", namespace, "shared") if namespace else None

    def home(self, users: Sequence[Workload], namespace: str | None) -> str | None:
        """The group of the one workload that uses an object, else the namespace-wide group."""
        return users[0].group if len(users) == 1 else self.shared(namespace)

    def node(
        self,
        obj: KubeObject,
        lines: Sequence[str],
        group: str | None,
        role: str,
        shape: Shape = "box",
    ) -> str:
        self.drawn.add(obj.file)
        css = role if self.styled else None
        return self.diagram.add_node(obj.id, [obj.title, *lines], shape, group, css)

    def outside(self, id: str, lines: Sequence[str], group: str | None, shape: Shape) -> str:
        """A node for something that is not an object of the render (a caller, a database)."""
        css = "outside" if self.styled else None
        return self.diagram.add_node(id, lines, shape, group, css)

    def selected(self, selector: Mapping[str, Any] | None, namespace: str | None) -> list[Workload]:
        return [
            w
            for w in self.workloads
            if w.obj.namespace == namespace and selects(selector, w.pod_labels)
        ]

    def owner(self, policy: KubeObject) -> Workload | None:
        """The one workload a NetworkPolicy is about; None for one meant for every pod."""
        selector = policy.spec.get("podSelector")
        selected = self.selected(selector, policy.namespace)
        return selected[0] if len(selected) == 1 and not selects_all(selector) else None

    def has_members(self, group: str) -> bool:
        return any(n.group == group for n in self.diagram.nodes.values())
