"""Read a stack's config from `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the CLI does.

Project-level config (`config:` in `Pulumi.yaml`, each key's `value` or `default`) comes first;
the stack file overrides it key by key, whole objects at a time. `secure:` values are never
decrypted: they become the placeholder `[secret]` and their key is marked secret, as the CLI
marks it.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config.stack_file import (
    SECRET_PLACEHOLDER,
    StackFileError,
    is_secure,
    read_yaml,
    stack_file_config,
)

__all__ = [
    "ROOT",
    "SECRET_PLACEHOLDER",
    "StackConfig",
    "StackFileError",
    "committed_stacks",
    "load_stack",
    "mask",
]

ROOT = Path(__file__).resolve().parent.parent


def mask(value: Any) -> Any:
    """Keep a secret's shape (its keys), never its values."""
    if isinstance(value, Mapping):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return SECRET_PLACEHOLDER


@dataclass
class StackConfig:
    """One stack's config: project-namespace keys without their prefix, plus secret keys."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: set[str] = field(default_factory=set)
    other: dict[str, Any] = field(default_factory=dict)
    """Keys of other namespaces (`kubernetes:context`), passed through unchanged."""

    def edited(self, path: str, value: Any) -> StackConfig:
        """A deep copy with the dotted `path` set, as `pulumi config set --path` would set it."""
        result = copy.deepcopy(self)
        keys = path.split(".")
        node = result.values
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        return result

    def with_secrets(self, secrets: Mapping[str, Mapping[str, str]]) -> StackConfig:
        """A deep copy with `secrets` set as `pulumi config set --secret --path` would set them."""
        result = copy.deepcopy(self)
        result.values["secrets"] = {service: dict(values) for service, values in secrets.items()}
        result.secret_keys.add("secrets")
        return result

    def to_pulumi(self) -> tuple[dict[str, str], list[str]]:
        """The config map and secret-key list as the CLI hands them to a program."""
        config: dict[str, str] = {}
        for key, value in self.values.items():
            config[f"{self.project}:{key}"] = _wire(value)
        for key, value in self.other.items():
            config[key] = _wire(value)
        secret = [f"{self.project}:{key}" for key in sorted(self.secret_keys)]
        return config, secret


def _wire(value: Any) -> str:
    if isinstance(value, (Mapping, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unsecure(value: Any) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves with the placeholder; say whether there were any."""
    if isinstance(value, Mapping):
        if is_secure(value):
            return SECRET_PLACEHOLDER, True
        found = False
        out = {}
        for key, item in value.items():
            out[key], secret = _unsecure(item)
            found = found or secret
        return out, found
    if isinstance(value, list):
        items = [_unsecure(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def _project_defaults(project_file: Mapping[str, Any], project: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, entry in (project_file.get("config") or {}).items():
        name = key.split(":", 1)[1] if key.startswith(f"{project}:") else key
        if ":" in name:
            continue
        if isinstance(entry, Mapping) and (
            "value" in entry or "default" in entry or "type" in entry
        ):
            if "value" in entry:
                values[name] = entry["value"]
            elif "default" in entry:
                values[name] = entry["default"]
        else:
            values[name] = entry
    return values


def add_project_dir(parser: argparse.ArgumentParser) -> None:
    """The `-C/--project-dir` option every stack-reading CLI takes (default: this repo)."""
    parser.add_argument(
        "-C",
        "--project-dir",
        type=Path,
        default=ROOT,
        help="folder holding Pulumi.yaml, the stack files and __main__.py (default: this repo)",
    )


def committed_stacks(root: Path = ROOT) -> list[str]:
    """Every stack whose `Pulumi.<stack>.yaml` git tracks in `root`, sorted by name.

    An untracked stack file (a sandbox copied from dev, as the README's deploy quickstart does)
    is nobody else's environment: no golden render, diagram or test is kept for it. In a folder
    that is not a git checkout every stack file there counts.
    """
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", "Pulumi.*.yaml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        names = [n for n in listed.split("\0") if n and "/" not in n and (root / n).is_file()]
    else:
        names = [p.name for p in root.glob("Pulumi.*.yaml")]
    return sorted(n.removeprefix("Pulumi.").removesuffix(".yaml") for n in names)


def load_stack(stack: str, root: Path = ROOT) -> StackConfig:
    """Merge `Pulumi.yaml` project config and `Pulumi.<stack>.yaml` for `stack`."""
    project_file = read_yaml(root / "Pulumi.yaml")
    if not isinstance(project_file, Mapping) or not project_file.get("name"):
        raise StackFileError("Pulumi.yaml: must be a mapping with a project `name`")
    project = str(project_file["name"])
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        here = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
        )
        listed = ", ".join(here) if here else "none"
        raise StackFileError(
            f"{stack_path.name}: no such file; the stacks here are {listed} (Pulumi.<stack>.yaml)"
        )
    config = stack_file_config(stack_path)

    values = _project_defaults(project_file, project)
    other: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, raw in config.items():
        value, secret = _unsecure(raw)
        namespace, _, name = str(key).rpartition(":")
        if namespace in ("", project):
            values[name] = value
            if secret:
                secret_keys.add(name)
        else:
            other[str(key)] = value
    return StackConfig(
        project=project, stack=stack, values=values, secret_keys=secret_keys, other=other
    )
