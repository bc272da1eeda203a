"""Turn recorded registrations into Kubernetes manifests fit for review and schema validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from tools.harness import Registered, is_secret
from tools.stack_config import mask


def _clean(value: Any) -> Any:
    """Wire format to manifest: secrets masked, whole floats back to ints, nulls dropped."""
    if is_secret(value):
        return mask(value["value"])
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_manifest(resource: Registered) -> dict[str, Any]:
    manifest = _clean(resource.state)
    if manifest.get("kind") == "Secret":
        # Belt and braces: whatever reached a Secret's data is shown as the placeholder.
        for key in ("data", "stringData"):
            if key in manifest:
                manifest[key] = mask(manifest[key])
    return manifest


def file_name(resource: Registered) -> str:
    """Stable per object: kind plus the program's logical name, not the content-hashed name."""
    return f"{resource.kind.lower()}-{resource.name}.yaml"


# libyaml's emitter where PyYAML was built with it (ten times faster); same output either way.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(manifest: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(manifest), Dumper=_DUMPER, sort_keys=True, default_flow_style=False, width=100
    )
