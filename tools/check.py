"""The policy pack's rules over an offline render: what `python -m tools.render STACK --check` runs.

The rules live in `policy/rules.py`, shared with the CrossGuard pack, so a render that passes here
passes `pulumi preview --policy-pack policy` for the same objects (see docs/policy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policy.rules import Violation, check


def check_render(manifests: Mapping[str, Mapping[str, Any]]) -> list[Violation]:
    """Every violation among one render's manifests (file name to manifest, as `Render` has)."""
    return check(manifests.values())


def format_violations(violations: Iterable[Violation]) -> str:
    """One line per violation: `[rule-id] Kind/name: message`."""
    return "\n".join(f"[{v.rule}] {v.object}: {v.message}" for v in violations)
