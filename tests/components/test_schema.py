"""Every object of every committed stack validates against the official Kubernetes schemas.

The schemas are kubernetes-validate's, checked the way its `validate(..., strict=True)` checks
them, but each is loaded once: the library re-reads and re-parses its 1.8 MB `_definitions.json`
for every object, which made these tests the slowest part of the suite.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate import utils
from referencing import Registry, Resource

from tests.conftest import stack_with_secrets
from tools.render import render
from tools.stack_config import committed_stacks

KUBERNETES_VERSION = "1.37.0"
STACKS = committed_stacks()

Manifest = dict[str, Any]


@functools.cache
def _schema_dir() -> str:
    """The strict schema folder kubernetes-validate picks for KUBERNETES_VERSION."""
    wanted = utils.major_minor(KUBERNETES_VERSION)
    version = [v for v in utils.all_versions() if utils.major_minor(v) <= wanted][-1]
    return f"kubernetes-json-schema/v{version}-local-strict"


def _load(name: str) -> Any:
    return utils.schema_contents(f"{_schema_dir()}/{name}", KUBERNETES_VERSION)


@functools.cache
def _definitions() -> Registry:
    return Resource.from_contents(_load("_definitions.json")) @ Registry()


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    # The library's file naming: rbac.authorization.k8s.io/v1 -> rbac-v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _load(f"{kind.lower()}-{group_version}.json")
    registry = Resource.from_contents(schema) @ _definitions()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(manifest: Manifest) -> None:
    """Raise `jsonschema.ValidationError` when `manifest` breaks its strict schema."""
    _validator(manifest["kind"], manifest["apiVersion"]).validate(manifest)


@functools.cache
def _rendered(stack: str) -> dict[str, Manifest]:
    return render(stack).manifests


def test_there_are_stacks_to_check():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_objects_validate_strictly(stack: str):
    manifests = _rendered(stack)
    assert manifests
    for name, manifest in manifests.items():
        try:
            validate(manifest)
        except jsonschema.ValidationError as error:
            pytest.fail(f"{stack}/{name}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_with_real_secret_values_too(stack: str):
    for manifest in render(stack, config=stack_with_secrets(stack)).manifests.values():
        validate(manifest)


def test_the_validator_rejects_what_it_should():
    # Guard against a validator that passes everything (the cached one and the library's alike):
    # both accept a rendered Deployment and both reject it with an unknown field.
    manifest = json.loads(json.dumps(_rendered("dev")["deployment-dev-event-service.yaml"]))
    validate(manifest)
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    manifest["spec"]["replica"] = 2
    with pytest.raises(jsonschema.ValidationError):
        validate(manifest)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
