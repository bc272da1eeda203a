"""A small builder for Mermaid flowcharts: nodes in nested groups, edges, and CSS classes.

`tools.diagram` draws an environment with it; a picture of what a change touches can take that
`Diagram` and `mark()` nodes with the `CHANGE_CLASSES` (created, updated, replaced, rolled,
deleted). Output is deterministic: insertion order, no timestamps, no random ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Shape = Literal[
    "box", "rounded", "stadium", "subroutine", "cylinder", "circle", "hexagon", "parallelogram"
]
EdgeStyle = Literal["solid", "dotted", "thick", "invisible"]
Direction = Literal["LR", "RL", "TB", "BT"]

_SHAPES: Mapping[str, tuple[str, str]] = {
    "box": ("[", "]"),
    "rounded": ("(", ")"),
    "stadium": ("([", "])"),
    "subroutine": ("[[", "]]"),
    "cylinder": ("[(", ")]"),
    "circle": ("((", "))"),
    "hexagon": ("{{", "}}"),
    "parallelogram": ("[/", "/]"),
}
# `~~~` is a link that only takes part in the layout (Mermaid draws nothing, and takes no label).
_ARROWS: Mapping[str, str] = {"solid": "-->", "dotted": "-.->", "thick": "==>", "invisible": "~~~"}
# Words Mermaid's flowchart grammar reads as keywords where a node id stands.
_RESERVED_IDS = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click", "default"}
)
# Mermaid's entity codes (`#name;`) for what would end a quoted label or be read as HTML.
_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}

CHANGE_CLASSES: Mapping[str, str] = {
    "created": "fill:#d7f5dd,stroke:#1e7b34,stroke-width:3px,color:#0b3d18",
    "updated": "fill:#fff1bf,stroke:#a66f00,stroke-width:3px,color:#3d2900",
    "replaced": "fill:#ffd9c2,stroke:#b3400a,stroke-width:3px,color:#4a1800",
    "rolled": "fill:#d5e6ff,stroke:#1e56b3,stroke-width:3px,color:#0b2447",
    "deleted": "fill:#eeeeee,stroke:#8a8a8a,stroke-width:2px,stroke-dasharray:5 4,color:#555555",
}
"""Styles for a picture of what a change touches: `diagram.mark(node, "rolled")`."""


def escape(text: str) -> str:
    """Text safe inside a quoted Mermaid label: `"`, `<`, `>`, `&` and `#` as entity codes."""
    return "".join(_ENTITIES.get(c, c) for c in text)


def safe_id(*parts: str) -> str:
    """A node or group id from any text: letters, digits and underscores, never a keyword."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", "_".join(parts)).strip("_") or "node"
    if text[0].isdigit() or text.lower() in _RESERVED_IDS:
        text = f"n_{text}"
    return text


@dataclass
class Node:
    id: str
    lines: list[str]
    """Plain text, one entry per line (escaped when written); the first names the object."""
    shape: Shape = "box"
    group: str | None = None
    css_class: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    """A node id or a group id (Mermaid then draws the edge to the group's border)."""
    target: str
    label: str = ""
    style: EdgeStyle = "solid"


@dataclass
class Group:
    id: str
    title: str
    parent: str | None = None


@dataclass
class Diagram:
    """A Mermaid flowchart under construction."""

    direction: Direction = "LR"
    nodes: dict[str, Node] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    class_defs: dict[str, str] = field(default_factory=dict)
    """Class name to its CSS; only classes some node carries are written."""

    def add_group(self, id: str, title: str, parent: str | None = None) -> str:
        """Add a group (a Mermaid subgraph) once; return its id."""
        if parent is not None and parent not in self.groups:
            raise KeyError(f"no group {parent!r}")
        self.groups.setdefault(id, Group(id, title, parent))
        return id

    def add_node(
        self,
        id: str,
        lines: Sequence[str],
        shape: Shape = "box",
        group: str | None = None,
        css_class: str | None = None,
    ) -> str:
        """Add a node once (a second call with the same id keeps the first); return its id."""
        if group is not None and group not in self.groups:
            raise KeyError(f"no group {group!r}")
        self.nodes.setdefault(id, Node(id, list(lines), shape, group, css_class))
        return id

    def add_edge(
        self, source: str, target: str, label: str = "", style: EdgeStyle = "solid"
    ) -> None:
        for end in (source, target):
            if end not in self.nodes and end not in self.groups:
                raise KeyError(f"no node or group {end!r}")
        edge = Edge(source, target, "" if style == "invisible" else label, style)
        if edge not in self.edges:
            self.edges.append(edge)

    def touches(self, id: str) -> bool:
        """True when some drawn edge starts or ends at `id`."""
        return any(id in (e.source, e.target) for e in self.edges if e.style != "invisible")

    def mark(self, node: str, css_class: str, style: str | None = None) -> None:
        """Give `node` the class `css_class` instead of its own.

        The class's CSS is `style`, else one already defined, else the one in `CHANGE_CLASSES`.
        """
        if node not in self.nodes:
            raise KeyError(f"no node {node!r}")
        if style is not None:
            self.class_defs[css_class] = style
        elif css_class not in self.class_defs:
            if css_class not in CHANGE_CLASSES:
                raise KeyError(f"no style for class {css_class!r}: pass one")
            self.class_defs[css_class] = CHANGE_CLASSES[css_class]
        self.nodes[node].css_class = css_class

    def to_mermaid(self) -> str:
        out = [f"flowchart {self.direction}"]
        subgroups: dict[str | None, list[Group]] = {}
        for group in self.groups.values():
            subgroups.setdefault(group.parent, []).append(group)
        members: dict[str | None, list[Node]] = {}
        for node in self.nodes.values():
            members.setdefault(node.group, []).append(node)

        def write(parent: str | None, depth: int) -> None:
            pad = "  " * depth
            for node in members.get(parent, []):
                opening, closing = _SHAPES[node.shape]
                text = "<br/>".join(escape(line) for line in node.lines)
                out.append(f'{pad}{node.id}{opening}"{text}"{closing}')
            for group in subgroups.get(parent, []):
                out.append(f'{pad}subgraph {group.id}["{escape(group.title)}"]')
                write(group.id, depth + 1)
                out.append(f"{pad}end")

        write(None, 1)
        for edge in self.edges:
            label = f'|"{escape(edge.label)}"|' if edge.label else ""
            out.append(f"  {edge.source} {_ARROWS[edge.style]}{label} {edge.target}")
        by_class: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if node.css_class:
                by_class.setdefault(node.css_class, []).append(node.id)
        for name, style in self.class_defs.items():
            if name in by_class:
                out.append(f"  classDef {name} {style}")
        for name, ids in by_class.items():
            out.append(f"  class {','.join(ids)} {name}")
        return "\n".join(out) + "\n"
