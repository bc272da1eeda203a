"""The policy pack's rules over an offline render: what `python -m tools.render STACK --check` runs.

The rules live in `policy/rules.py`, shared with the CrossGuard pack, so a render that passes here
passes `pulumi preview --policy-pack policy` for the same objects (see docs/policy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.conventions import NAME_LABEL
from policy.rules import Violation, check


def check_render(manifests: Mapping[str, Mapping[str, Any]]) -> list[Violation]:
    """Every violation among one render's manifests (file name to manifest, as `Render` has)."""
    return check(manifests.values())


def stack_keys(manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """`Kind/name` of each service's Deployment to its stack key, `services.<service>`."""
    keys = {}
    for manifest in manifests.values():
        if manifest.get("kind") != "Deployment":
            continue
        template = manifest.get("spec", {}).get("template", {})
        service = (template.get("metadata", {}).get("labels") or {}).get(NAME_LABEL)
        if service:
            keys[f"Deployment/{manifest['metadata']['name']}"] = f"services.{service}"
    return keys


def format_violations(
    violations: Iterable[Violation], keys: Mapping[str, str] | None = None
) -> str:
    """One line per violation: `[rule-id] Kind/name: message`.

    With `keys` (`stack_keys`), a production-availability line also names the stack key to change.
    """
    lines = []
    for v in violations:
        line = f"[{v.rule}] {v.object}: {v.message}"
        key = (keys or {}).get(v.object)
        if key and v.rule == "production-availability":
            line += (
                f"; in the stack file set {key}.replicas to 2 or more, or "
                f"{key}.autoscaling with minReplicas 2 or more"
            )
        lines.append(line)
    return "\n".join(lines)
