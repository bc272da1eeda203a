"""Every stack, run as `pulumi preview` runs it: what the program knows before anything exists.

In a preview an output the provider does not return is unknown to the program (the SDK resolves
a missing output as unknown during a dry run, `sdk/python/lib/pulumi/runtime/rpc.py`
`resolve_outputs`). For this program that is only the digest of an image it builds: pulumi-docker
returns just the inputs in a preview unless `buildOnPreview` (`provider/provider.go` Create and
`canPreview`). A generated Kubernetes name is known: pulumi-kubernetes assigns it in Check, which
a preview runs too (`provider/pkg/metadata/naming.go` `AssignNameIfAutonamable`), though it is
not the name the update will draw. The harness's mocks do the same (tools/harness.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.catalog import CATALOG
from tests.conftest import stack_with_secrets
from tools.harness import (
    ProgramRun,
    ProviderMocks,
    contains_unknown,
    is_unknown,
    reveal,
    run_program,
)
from tools.stack_config import StackConfig, committed_stacks

STACKS = committed_stacks()
BUILT = "reminder-service"
GENERATED = "<generated name>"


def preview(config: StackConfig, mocks: ProviderMocks | None = None) -> ProgramRun:
    return run_program(config, mocks=mocks, preview=True)


def generated_names(run: ProgramRun) -> set[str]:
    """Names the provider chose (objects the program registers without a name)."""
    return {
        reveal(r.state)["metadata"]["name"]
        for r in run.kubernetes()
        if "name" not in reveal(r.inputs)["metadata"]
    }


def without(value: Any, names: set[str]) -> Any:
    """`value` with every generated name replaced by one token."""
    if isinstance(value, dict):
        return {k: without(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [without(v, names) for v in value]
    return GENERATED if isinstance(value, str) and value in names else value


def sent(run: ProgramRun) -> dict[str, Any]:
    names = generated_names(run)
    return {r.urn: without(reveal(r.inputs), names) for r in run.resources}


def container(run: ProgramRun, name: str) -> dict[str, Any]:
    spec = reveal(run.find("Deployment", name).inputs)["spec"]
    return spec["template"]["spec"]["containers"][0]


def test_every_stack_file_is_previewed() -> None:
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_a_preview_sends_what_the_update_sends(stack: str) -> None:
    config = stack_with_secrets(stack)
    planned, applied = preview(config), run_program(config)
    assert [r.urn for r in planned.resources] == [r.urn for r in applied.resources]
    # Nothing is built, so every input and every output is known before anything exists ...
    assert not any(contains_unknown(r.inputs) for r in planned.resources)
    assert not contains_unknown(planned.outputs)
    # ... and it is what the update will send, up to the names the provider draws anew.
    assert sent(planned) == sent(applied)
    assert without(planned.outputs, generated_names(planned)) == without(
        applied.outputs, generated_names(applied)
    )


@pytest.mark.parametrize("stack", STACKS)
def test_a_generated_name_is_known_in_a_preview(stack: str) -> None:
    config = stack_with_secrets(stack)
    run = preview(config)
    prefix = config.values["prefix"]
    for service in CATALOG:
        secret_ref = container(run, f"{prefix}-{service}")["envFrom"][1]["secretRef"]["name"]
        assert not is_unknown(secret_ref)
        assert secret_ref.startswith(f"{prefix}-{service}-")


# A build context must exist and hold a Dockerfile (the loader checks it), as pulumi-docker's own
# Check does even in a preview.
CONTEXT = Path(tempfile.mkdtemp(prefix="build-context-"))
(CONTEXT / "Dockerfile").write_text("FROM node:20-alpine\n")


def built(stack: str) -> StackConfig:
    config = stack_with_secrets(stack).edited(f"services.{BUILT}.build", {"context": str(CONTEXT)})
    config.values["services"][BUILT].pop("image", None)  # `local` deploys an image it loads
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_a_built_image_is_unknown_in_a_preview_and_nothing_else(stack: str) -> None:
    config = built(stack)
    prefix = config.values["prefix"]
    run = preview(config)

    name = f"{prefix}-{BUILT}"
    assert is_unknown(container(run, name)["image"])
    assert is_unknown(run.outputs["services"][BUILT]["image"])
    deployment = reveal(run.find("Deployment", name).inputs)
    deployment["spec"]["template"]["spec"]["containers"][0].pop("image")
    # The rest of its Deployment is known: name, namespace, labels, count, wiring.
    assert not contains_unknown(deployment)
    assert deployment["metadata"]["name"] == name
    assert deployment["metadata"]["namespace"] == config.values["environment"]
    assert deployment["metadata"]["labels"]["app.kubernetes.io/instance"] == name
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == name

    unknown = {(r.kind, r.name) for r in run.kubernetes() if contains_unknown(r.inputs)}
    assert unknown == {("Deployment", name)}
    for service, exported in run.outputs["services"].items():
        if service != BUILT:
            assert not contains_unknown(exported), service
    assert run.outputs["namespace"] == config.values["environment"]


class UnknownGeneratedNames(ProviderMocks):
    """The worst case, not the provider's behaviour: a generated name unknown in a preview."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource_id, state = super().new_resource(args)
        unnamed = not (reveal(args.inputs.get("metadata")) or {}).get("name")
        if args.typ.startswith("kubernetes:") and unnamed and pulumi.runtime.is_dry_run():
            state["metadata"] = {**state["metadata"], "name": pulumi.runtime.rpc.UNKNOWN}
        return resource_id, state


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_does_not_depend_on_a_generated_name_being_known(stack: str) -> None:
    config = stack_with_secrets(stack)
    prefix = config.values["prefix"]
    run = preview(config, UnknownGeneratedNames())
    unknown = {(r.kind, r.name) for r in run.kubernetes() if contains_unknown(r.inputs)}
    assert unknown == {("Deployment", f"{prefix}-{service}") for service in CATALOG}
    for service in CATALOG:
        env_from = container(run, f"{prefix}-{service}")["envFrom"]
        assert is_unknown(env_from[1]["secretRef"]["name"])
        assert env_from[0]["configMapRef"]["name"].startswith(f"{prefix}-{service}-")
    assert not contains_unknown(run.outputs)
