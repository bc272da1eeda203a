"""Drift: a change made with kubectl is reported by the drift check, with the field named.

`scripts/drift.sh STACK` (what `make drift` runs) is `pulumi refresh --preview-only` read by
`pipeline.drift`: exit 0 without drift, 3 with it (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.engine import Cluster, Project

DEPLOYMENT = "dev-event-service"


@pytest.fixture(scope="module")
def dev(make_project: Callable[..., Project]) -> Project:
    project = make_project("dev")
    project.up()
    return project


def test_no_drift_right_after_a_deploy(dev: Project) -> None:
    result = dev.run("scripts/drift.sh", "dev", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_kubectl_change_is_reported_with_its_field(dev: Project, cluster: Cluster) -> None:
    cluster.kubectl(
        "patch", "deployment", DEPLOYMENT, "-n", "development", "--type=merge",
        "-p", '{"spec":{"revisionHistoryLimit":9}}',
    )  # fmt: skip
    result = dev.run("scripts/drift.sh", "dev", check=False)
    text = result.stdout + result.stderr
    assert result.returncode == 3, text
    assert DEPLOYMENT in text and "revisionHistoryLimit" in text, text
    # A deploy puts the program's value back; the drift is gone.
    dev.pulumi("up", "--yes", "--refresh", "--skip-preview")
    assert cluster.get("deployment", DEPLOYMENT, "development")["spec"]["revisionHistoryLimit"] == 5  # type: ignore[index]
    assert dev.run("scripts/drift.sh", "dev", check=False).returncode == 0
