"""Kubernetes labels shared by every object the program creates.

The selector is deliberately a subset that never changes across releases: a Deployment's selector
is immutable, so a label that carries the version would force a delete-and-recreate of every
Deployment on each release.
"""

from __future__ import annotations

from components.catalog import PROJECT


def selector_labels(component: str, instance: str) -> dict[str, str]:
    """Labels that pick one environment's pods of one service; stable for the object's lifetime."""
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": instance,
    }


def recommended_labels(component: str, instance: str, version: str | None = None) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` set, plus the original manifests' `app` label.

    `version` belongs only on what a release really changes (the Deployment and its pods): on
    every other object it would turn each release into an update of the whole environment.
    """
    labels = {
        **selector_labels(component, instance),
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
        "app": instance,
    }
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    return labels
