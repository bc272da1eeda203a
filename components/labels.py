"""Every label and annotation the program sets, in one place.

The selector is deliberately a subset that never changes across releases: a Deployment's selector
is immutable, so a label that carries the version would force a delete-and-recreate of every
Deployment on each release.
"""

from __future__ import annotations

from collections.abc import Iterable

from components.conventions import (
    ALLOWED_SERVICE_TYPES_ANNOTATION,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    PART_OF_LABEL,
    PROJECT,
    TIER_LABEL,
    VERSION_LABEL,
)

POD_SECURITY_LEVEL = "restricted"
TIMEOUT_ANNOTATION = "pulumi.com/timeoutSeconds"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def selector_labels(component: str, instance: str) -> dict[str, str]:
    """Labels that pick one environment's pods of one service; stable for the object's lifetime."""
    return {NAME_LABEL: component, INSTANCE_LABEL: instance}


def recommended_labels(component: str, instance: str, version: str | None = None) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` set, plus the original manifests' `app` label.

    `version` belongs only on what a release really changes (the Deployment and its pods): on
    every other object it would turn each release into an update of the whole environment.
    """
    labels = {
        **selector_labels(component, instance),
        PART_OF_LABEL: PROJECT,
        MANAGED_BY_LABEL: "pulumi",
        "app": instance,
    }
    if version is not None:
        labels[VERSION_LABEL] = version
    return labels


def environment_labels(prefix: str) -> dict[str, str]:
    """The environment's own objects (quota, limits, policies, database Services)."""
    return {PART_OF_LABEL: PROJECT, MANAGED_BY_LABEL: "pulumi", INSTANCE_LABEL: prefix}


def part_of_selector() -> dict[str, str]:
    """Every pod of the system, whatever service or release."""
    return {PART_OF_LABEL: PROJECT}


def namespace_labels(environment: str, prefix: str, production: bool) -> dict[str, str]:
    return {
        # The original manifests labelled each namespace `name: <namespace>`; policies and
        # dashboards select on it.
        "name": environment,
        PART_OF_LABEL: PROJECT,
        MANAGED_BY_LABEL: "pulumi",
        INSTANCE_LABEL: prefix,
        TIER_LABEL: "production" if production else "non-production",
        **{
            f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL
            for mode in ("enforce", "audit", "warn")
        },
        "pod-security.kubernetes.io/enforce-version": "latest",
    }


def namespace_annotations(allowed_service_types: Iterable[str]) -> dict[str, str]:
    # Read by the policy pack, which sees objects, not stack config.
    return {ALLOWED_SERVICE_TYPES_ANNOTATION: ",".join(allowed_service_types)}
