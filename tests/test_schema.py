"""Every object of every committed stack validates against the official Kubernetes schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.conftest import stack_with_secrets
from tools.render import render
from tools.stack_config import ROOT

KUBERNETES_VERSION = "1.37.0"
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def test_there_are_stacks_to_check():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_objects_validate_strictly(stack: str):
    result = render(stack)
    assert result.manifests
    for name, manifest in result.manifests.items():
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{stack}/{name}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_with_real_secret_values_too(stack: str):
    for manifest in render(stack, config=stack_with_secrets(stack)).manifests.values():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_what_it_should():
    # Guard against a validator that passes everything: an unknown field must fail strictly.
    manifest = render("dev").manifests["deployment-dev-event-service.yaml"]
    manifest["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
