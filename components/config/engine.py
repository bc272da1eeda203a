"""The engine adapter: the running stack's config as the Pulumi SDK hands it to the program.

`from_pulumi_config` reads every key of the project's namespace the CLI gave the program (not
only the ones it expects, so a misspelt key is refused too), checks `Pulumi.<stack>.yaml` beside
the program where it exists, and loads the lot with `components.config.loading.load`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from components.config.cluster import cluster_problems, kubeconfig_paths
from components.config.errors import ConfigError, raise_if_any
from components.config.loading import Loaded, load
from components.config.stack_file import StackFileError, project_values, stack_file_config
from components.runtime import under_engine


def given_config() -> dict[str, Any]:
    """Every config entry the SDK was given, by its full `namespace:key`."""
    return {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def engine_values(project: str) -> tuple[dict[str, Any], set[str]]:
    """Every config entry of `project` the SDK was given, decoded, and the secret ones."""
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key, text in given_config().items():
        namespace, _, key = full_key.rpartition(":")
        if namespace != project:
            continue
        values[key] = _decode(text)
        if pulumi.runtime.is_config_secret(full_key):
            secret.add(key)
    return values, secret


def _decode(text: Any) -> Any:
    # Objects and lists arrive as JSON; a scalar stays the string the CLI stored ("1.10" is a
    # version, not a number).
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def from_pulumi_config(project_dir: Path, *, offline: bool = False) -> Loaded:
    """Load the running stack's config, checking `Pulumi.<stack>.yaml` in `project_dir` too.

    `offline`: an offline render under the mock runtime, which reaches no cluster (the stack
    need not pin one) and stands in `[secret]` for a missing required secret; `pulumi up`
    never sets it.
    """
    project = pulumi.get_project()
    values, secret_keys = engine_values(project)
    stack_path = project_dir / f"Pulumi.{pulumi.get_stack()}.yaml"
    stack_file = None
    if stack_path.is_file():
        try:
            stack_file = (stack_path.name, project_values(stack_file_config(stack_path), project))
        except StackFileError as error:
            raise ConfigError(str(error)) from None
    loaded = load(
        values,
        other_keys=[key for key in given_config() if not key.startswith(f"{project}:")],
        project=project,
        secret_keys=secret_keys,
        stack_file=stack_file,
        project_dir=project_dir,
        stand_in_secrets=offline,
        offline=offline,
    )
    cluster = loaded.config.cluster
    if cluster is not None and under_engine():
        # Only a real engine has a kubeconfig to compare; under mocks nothing is reached.
        raise_if_any(cluster_problems(cluster, kubeconfig_paths()))
    return loaded
