"""The one load path: raw stack config in, the checked config and each component's args out
(`Loaded`), or one error line.

`load()` is a pure function of the values it is given; the render, the tests, the benchmark and
`pulumi up` (through `components.config.engine.from_pulumi_config`) all call it. It checks, in
this order, and reports every problem of a stage together on one line:

1. the stack file as written: secrets stored `secure:`, nothing else (`stack_file`);
2. every key and value against the model (`components.config.model`): unknown keys, types,
   the grammars of names, hosts, images, ARNs, quantities;
3. what needs the catalog or several keys at once (`checks`), over the model and its
   resolution against the catalog (`resolution`).

Nothing is registered before it returns, so bad config creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components import catalog as catalog_module
from components.catalog import ServiceSpec
from components.config import checks
from components.config.errors import problems_of, raise_if_any
from components.config.model import StackSettings
from components.config.resolution import Loaded, resolve
from components.config.stack_file import namespace_problems, secure_problems
from components.conventions import PROJECT

__all__ = ["Loaded", "load"]


def load(
    values: Mapping[str, Any],
    *,
    other_keys: Iterable[str] = (),
    project: str = PROJECT,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    stack_file: tuple[str, Mapping[str, Any]] | None = None,
    catalog: Mapping[str, ServiceSpec] | None = None,
    project_dir: Path | None = None,
    stand_in_secrets: bool = False,
    offline: bool = False,
) -> Loaded:
    """Check the project's config (keys without the namespace) and resolve it.

    `other_keys`: the keys of other namespaces the engine gave (`kubernetes:context`), refused
    where the namespace is a misspelt `project`. `secret_keys`: the keys the engine marks
    secret. `stack_file`: the stack file's name and its project entries as written (with
    `secure:` leaves), when there is one to check.
    `catalog`: the services (default `components.catalog.CATALOG`). `project_dir`: where build
    contexts are looked up (default: the working directory, the project's under the engine).
    `stand_in_secrets`: an offline render's mode, where a missing required secret reads
    `[secret]` instead of being refused; `pulumi up` never sets it. `offline`: no cluster is
    reached (the render), so the stack need not pin one.
    """
    known = catalog_module.CATALOG if catalog is None else catalog
    problems = namespace_problems(other_keys, project)
    if stack_file is not None:
        problems += secure_problems(stack_file[1], stack_file[0])
    # A stack file's plain leaves are named above, each with its own command; say it once.
    named = any(p.startswith("secrets.") for p in problems)
    if values.get("secrets") and "secrets" not in secret_keys and not named:
        problems.append(
            "secrets: values are stored in plain text; set each with "
            "`pulumi config set --secret --path 'secrets.<service>.<VAR>' <value>`"
        )
    try:
        model = StackSettings.model_validate(dict(values))
    except ValidationError as error:
        raise_if_any(problems + problems_of(error))
        raise  # unreachable: a ValidationError always has at least one error
    if model.cluster is None and not offline:
        problems.append(
            "cluster: is required: pin the stack's cluster with `pulumi config set --path "
            "cluster.context <kube context>`, so `pulumi up` never deploys to whichever cluster "
            "kubectl points at"
        )
    raise_if_any(problems)
    loaded = resolve(model, known, stand_in_secrets=stand_in_secrets)
    raise_if_any(
        checks.problems(
            loaded,
            known,
            project_dir=project_dir or Path.cwd(),
            stand_in_secrets=stand_in_secrets,
        )
    )
    return loaded
