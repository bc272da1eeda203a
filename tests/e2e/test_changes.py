"""Each kind of change does what `tools.changes` predicts, and nothing more, on the real engine.

One dev stack, deployed once; each test changes one thing, previews it (the engine's plan, from
`pulumi preview --json`), applies it, and checks three accounts against each other: the change
summary from two renders, the engine's steps, and the ReplicaSets the API server holds (a new
ReplicaSet is a rolled Deployment).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.catalog import CATALOG
from components.conventions import PROJECT
from tests.e2e.engine import Cluster, Project
from tools.changes import compare, load_render

SERVICE = "event-service"
DEPLOYMENT = f"dev-{SERVICE}"


@pytest.fixture(scope="module")
def dev(make_project: Callable[..., Project]) -> Project:
    project = make_project("dev")
    project.up()
    return project


def replica_sets(cluster: Cluster) -> dict[str, set[str]]:
    """Deployment name to the names of its ReplicaSets."""
    owned: dict[str, set[str]] = {}
    for rs in cluster.items("replicasets", "development"):
        for owner in rs["metadata"].get("ownerReferences", []):
            owned.setdefault(owner["name"], set()).add(rs["metadata"]["name"])
    return owned


def engine_steps(project: Project) -> set[tuple[str, str, str]]:
    """(operation, Kubernetes kind, logical name) of every Kubernetes step the engine plans."""
    plan = json.loads(project.preview("--json").stdout)
    steps: set[tuple[str, str, str]] = set()
    for step in plan.get("steps", []):
        urn = step["urn"]
        kind = urn.split("::")[-2].split("$")[-1]
        if not kind.startswith("kubernetes:") or step["op"] == "same":
            continue
        steps.add((step["op"], kind.split(":")[-1], urn.split("::")[-1]))
    return steps


def predicted(project: Project, tmp_path: Path, change: Callable[[], None]) -> dict[str, str]:
    """`tools.changes` over the renders before and after `change`: logical name to action."""
    project.render(tmp_path / "before")
    change()
    project.render(tmp_path / "after")
    changes = compare(load_render(tmp_path / "before"), load_render(tmp_path / "after"))
    return {f"{c.kind}/{c.name}": c.action for c in changes}


OPERATION = {"created": "create", "updated": "update", "replaced": "replace", "deleted": "delete"}


def as_steps(summary: dict[str, str]) -> set[tuple[str, str, str]]:
    """The engine steps a change summary stands for (a ConfigMap's logical name is its prefix)."""
    return {(OPERATION[action], *key.split("/", 1)) for key, action in summary.items()}  # type: ignore[misc]


def rolled(before: dict[str, set[str]], after: dict[str, set[str]]) -> set[str]:
    return {name for name, sets in after.items() if sets - before.get(name, set())}


def services(config: dict[str, Any]) -> dict[str, Any]:
    return config[f"{PROJECT}:services"]


def test_a_variable_change_replaces_one_config_map_and_rolls_one_deployment(
    dev: Project, cluster: Cluster, tmp_path: Path
) -> None:
    def change() -> None:
        dev.edit(lambda c: services(c)[SERVICE].setdefault("env", {}).update(LOG_LEVEL="debug"))

    summary = predicted(dev, tmp_path, change)
    assert summary == {
        f"ConfigMap/{DEPLOYMENT}": "replaced",
        f"Deployment/{DEPLOYMENT}": "updated",
    }
    assert engine_steps(dev) == as_steps(summary)
    before = replica_sets(cluster)
    dev.up()
    assert rolled(before, replica_sets(cluster)) == {DEPLOYMENT}


def test_a_secret_change_rolls_only_its_service(
    dev: Project, cluster: Cluster, tmp_path: Path
) -> None:
    def change() -> None:
        key = f"secrets.{SERVICE}.DB_PASS"
        dev.pulumi("config", "set", "--secret", "--path", key, "e2e-rotated")
        dev.secrets[SERVICE]["DB_PASS"] = "e2e-rotated"

    summary = predicted(dev, tmp_path, change)
    steps = engine_steps(dev)
    before = replica_sets(cluster)
    dev.up()
    assert rolled(before, replica_sets(cluster)) == {DEPLOYMENT}
    # The render cannot see a secret's value; the engine replaces the Secret and rolls its pods.
    assert ("update", "Deployment", DEPLOYMENT) in steps
    assert {kind for _, kind, name in steps if name == DEPLOYMENT} <= {"Secret", "Deployment"}
    assert {name for _, _, name in steps} == {DEPLOYMENT}, steps
    assert set(summary) <= {f"Secret/{DEPLOYMENT}", f"Deployment/{DEPLOYMENT}"}, summary


def test_a_replica_change_updates_in_place_and_rolls_nothing(
    dev: Project, cluster: Cluster, tmp_path: Path
) -> None:
    def change() -> None:
        dev.edit(lambda c: services(c)[SERVICE].update(replicas=2))

    summary = predicted(dev, tmp_path, change)
    # Two replicas bring a disruption budget with them (one pod may go at a time).
    assert summary == {
        f"Deployment/{DEPLOYMENT}": "updated",
        f"PodDisruptionBudget/{DEPLOYMENT}": "created",
    }
    assert engine_steps(dev) == as_steps(summary)
    before = replica_sets(cluster)
    dev.up()
    assert rolled(before, replica_sets(cluster)) == set()
    assert cluster.get("deployment", DEPLOYMENT, "development")["spec"]["replicas"] == 2  # type: ignore[index]


def test_an_image_version_change_rolls_every_deployment_and_replaces_nothing(
    dev: Project, cluster: Cluster, tmp_path: Path
) -> None:
    def change() -> None:
        dev.edit(lambda c: c.update({f"{PROJECT}:version": "1.0.1"}))

    summary = predicted(dev, tmp_path, change)
    deployments = {f"dev-{name}" for name in CATALOG}
    assert {k: v for k, v in summary.items() if k.startswith("Deployment/")} == {
        f"Deployment/{name}": "updated" for name in deployments
    }
    assert "replaced" not in summary.values() and "deleted" not in summary.values()
    assert engine_steps(dev) == as_steps(summary)
    before = replica_sets(cluster)
    dev.up()
    assert rolled(before, replica_sets(cluster)) == deployments
