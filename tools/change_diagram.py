"""A picture of what a change touches, for the change summary.

Drawn from the environment diagram of the head render (`tools.diagram`), cut down to the objects
the change creates, updates, replaces, rolls or deletes and their direct neighbours, each touched
object coloured by what happens to it (`tools.mermaid.CHANGE_CLASSES`). A Deployment whose pods
roll is marked `rolled`, not `updated`, so a replica change (an update that restarts nothing)
looks different from a new image or a changed variable. Deleted objects come from the base
render's diagram.

It knows nothing of how changes are found: `tools.changes` compares the renders, works out
which pods roll, and hands both over, so the two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from tools.diagram import environment_graph, node_id
from tools.mermaid import Diagram

Manifests = Mapping[str, Mapping[str, Any]]

LEGEND = (
    "green: created · yellow: updated in place · orange: replaced · blue: its pods roll · "
    "grey, dashed: deleted · white: untouched neighbours, for context"
)


class Touched(Protocol):
    """What the picture needs of one change (`tools.changes.Change` is one)."""

    @property
    def action(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def file(self) -> str: ...


def change_graph(
    base: Manifests,
    head: Manifests,
    changes: Sequence[Touched],
    rolled: Collection[tuple[str, str]],
) -> Diagram | None:
    """The touched objects and their neighbours, marked; None when nothing changes.

    `rolled`: `(kind, name)` of each workload whose pods roll (`tools.changes.rolled`).
    """
    if not changes:
        return None
    diagram = environment_graph(head, styled=False)
    deleted = [c for c in changes if c.action == "deleted"]
    before = environment_graph(base, styled=False) if deleted else None
    touched: set[str] = set()
    for change in changes:
        node = node_id(change.file)
        if change.action == "deleted":
            assert before is not None
            old = before.nodes[node]
            group = old.group if old.group in diagram.groups else None
            diagram.add_node(node, old.lines, old.shape, group)
        css = "rolled" if (change.kind, change.name) in rolled else change.action
        diagram.mark(node, css)
        touched.add(node)
    _keep_around(diagram, touched)
    return diagram


def _keep_around(diagram: Diagram, touched: set[str]) -> None:
    """Drop every node that is neither touched nor linked to a touched one, and empty groups."""
    drawn = [e for e in diagram.edges if e.style != "invisible"]
    keep = set(touched)
    for edge in drawn:
        if edge.source in touched:
            keep.add(edge.target)
        if edge.target in touched:
            keep.add(edge.source)
    diagram.nodes = {k: v for k, v in diagram.nodes.items() if k in keep}
    groups_in_use: set[str] = set()
    for node in diagram.nodes.values():
        group = node.group
        while group is not None and group not in groups_in_use:
            groups_in_use.add(group)
            group = diagram.groups[group].parent
    diagram.groups = {k: v for k, v in diagram.groups.items() if k in groups_in_use}
    present = set(diagram.nodes) | set(diagram.groups)
    diagram.edges = [e for e in drawn if e.source in present and e.target in present]


def change_diagram(
    base: Manifests,
    head: Manifests,
    changes: Sequence[Touched],
    rolled: Collection[tuple[str, str]],
) -> str | None:
    """Mermaid source of `change_graph`, or None when nothing changes."""
    graph = change_graph(base, head, changes, rolled)
    return graph.to_mermaid() if graph is not None else None


def details_block(mermaid: str) -> list[str]:
    """The diagram as a collapsed section of a GitHub comment or job summary."""
    return [
        "<details><summary>Diagram of what this change touches</summary>",
        "",
        LEGEND,
        "",
        "```mermaid",
        *mermaid.rstrip("\n").splitlines(),
        "```",
        "",
        "</details>",
    ]
