"""What must stop a deploy before anything is created: bad config and the wrong cluster.

Each refusal is checked on both sides: the command fails with the program's one-line message
(never a Python traceback), and neither the cluster nor the stack's state holds anything new.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from components.conventions import PROJECT
from tests.e2e.engine import Cluster, Project

NAMESPACE = "development"


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def resources_in_state(project: Project) -> list[str]:
    """The URNs the stack's state holds."""
    exported = json.loads(project.pulumi("stack", "export").stdout)
    return [r["urn"] for r in exported.get("deployment", {}).get("resources") or []]


def services(config: dict[str, Any]) -> dict[str, Any]:
    return config[f"{PROJECT}:services"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda c: services(c)["event-service"].update(replicas="lots"), "replicas"),
        (lambda c: services(c)["event-service"].update(replicaz=2), "replicaz"),
        (lambda c: c.update({f"{PROJECT}:prefix": "Dev_1"}), "prefix"),
    ],
    ids=["wrong-type", "unknown-key", "invalid-name"],
)
def test_bad_config_fails_up_with_one_line_and_creates_nothing(
    make_project: Callable[..., Project], cluster: Cluster, change: Any, key: str
) -> None:
    project = make_project("dev")
    project.edit(change)
    result = project.up(check=False)
    assert result.returncode != 0
    text = output(result)
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if key in line and "error" in line.lower()]
    assert errors, text
    assert NAMESPACE not in cluster.namespaces()
    # The stack itself may be recorded; no Kubernetes object is.
    assert [urn for urn in resources_in_state(project) if "kubernetes:" in urn] == []


def test_a_context_that_points_at_another_api_server_is_refused(
    make_project: Callable[..., Project],
    cluster: Cluster,
    clusters: Callable[[str], Cluster],
) -> None:
    other = clusters("other")
    # The stack pins the main cluster's API server; its context, in the kubeconfig the deploy
    # is given, points at the other one.
    project = make_project("dev")
    project.edit(lambda c: c[f"{PROJECT}:cluster"].update(server=cluster.server))
    project.kubeconfig = other.kubeconfig
    result = project.up(check=False)
    assert result.returncode != 0
    assert "cluster.server" in output(result), output(result)
    assert "Traceback" not in output(result)
    assert NAMESPACE not in cluster.namespaces()
    assert NAMESPACE not in other.namespaces()


def test_a_missing_context_is_refused(
    make_project: Callable[..., Project], cluster: Cluster
) -> None:
    project = make_project("dev")
    project.edit(lambda c: c[f"{PROJECT}:cluster"].update(context="somebody-elses-cluster"))
    result = project.up(check=False)
    assert result.returncode != 0
    assert "cluster.context" in output(result), output(result)
    assert NAMESPACE not in cluster.namespaces()
