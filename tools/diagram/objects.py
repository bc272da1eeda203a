"""The manifests as the picture reads them: objects, workloads and label selectors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.mermaid import safe_id

# Kinds whose name the provider completes with a random suffix when it creates the object. The
# render's suffix is the mock's stand-in (tools/harness.py), so the picture shows `<logical>-*`.
AUTO_NAMED_KINDS = frozenset({"Secret"})
POD_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind keeps its pod template."""


def node_id(file_name: str) -> str:
    """The node that stands for the manifest `file_name` (a key of `Render.manifests`)."""
    return safe_id(file_name.removesuffix(".yaml"))


@dataclass
class KubeObject:
    """One rendered manifest and the node that stands for it."""

    file: str
    manifest: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.manifest.get("metadata") or {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str | None:
        return self.meta.get("namespace")

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.manifest.get("spec") or {}

    @property
    def id(self) -> str:
        return node_id(self.file)

    @property
    def title(self) -> str:
        name = self.name
        if self.kind in AUTO_NAMED_KINDS:
            logical = self.file.removesuffix(".yaml").removeprefix(f"{self.kind.lower()}-")
            if name.startswith(f"{logical}-"):
                name = f"{logical}-*"
        return f"{self.kind} {name}"

    def key_names(self) -> list[str]:
        """A ConfigMap's or Secret's keys; never the values."""
        keys = set()
        for section in ("data", "stringData", "binaryData"):
            keys.update(self.manifest.get(section) or {})
        return sorted(keys)


@dataclass(eq=False)  # one per workload: compared and hashed by identity
class Workload:
    """A workload object, the group its node sits in, and what its pods read."""

    obj: KubeObject
    group: str
    template: Mapping[str, Any]
    refs: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, name, how) of each ConfigMap and Secret the pods read."""
    values: dict[str, str] = field(default_factory=dict)
    """Every variable the containers see with a plain value (ConfigMaps via envFrom, env)."""

    @property
    def pod_labels(self) -> Mapping[str, str]:
        return dig(self.template, "metadata", "labels") or {}

    @property
    def pod_spec(self) -> Mapping[str, Any]:
        return self.template.get("spec") or {}


def dig(value: Any, *path: str) -> Any:
    """The value at `path` under nested mappings, None where one is missing."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against one object's labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        present, values = key in labels, expression.get("values") or []
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selects_all(selector: Mapping[str, Any] | None) -> bool:
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


def labels_text(selector: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in ((selector or {}).get("matchLabels") or {}).items())


def wrap(items: Iterable[str], per_line: int = 3) -> list[str]:
    """`items` as lines of `per_line` comma-separated items."""
    items = list(items)
    return [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
