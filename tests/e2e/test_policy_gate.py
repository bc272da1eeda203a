"""A policy violation stops a deploy at its preview, before the cluster or the state changes.

CI previews every deploy with the policy pack first (stack policies run only after the changes
in an `up`, docs/policy.md); this runs that preview through the real engine and pack.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.conventions import PROJECT
from tests.e2e.engine import Cluster, Project, policy_packs_run

pytestmark = pytest.mark.skipif(policy_packs_run() is not None, reason=policy_packs_run() or "")

NAMESPACE = "development"


def live_versions(cluster: Cluster, namespace: str) -> dict[str, str]:
    """kind/name to resourceVersion of every object the program manages in `namespace`."""
    kinds = "configmaps,secrets,services,deployments,serviceaccounts,networkpolicies"
    listing = json.loads(cluster.kubectl("get", kinds, "-n", namespace, "-o", "json").stdout)
    return {
        f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
        for i in listing["items"]
    }


@pytest.fixture(scope="module")
def dev(make_project: Callable[..., Project]) -> Project:
    project = make_project("dev")
    project.up()
    return project


def test_a_policy_violation_is_refused_at_preview_and_nothing_changes(
    dev: Project, cluster: Cluster
) -> None:
    state_before = dev.pulumi("stack", "export").stdout
    live_before = live_versions(cluster, NAMESPACE)
    # The production tier needs two replicas and a PodDisruptionBudget per Deployment; dev has
    # one replica each (the config accepts this; the policy pack is what refuses it).
    dev.edit(lambda c: c.update({f"{PROJECT}:production": True}))
    result = dev.preview("--policy-pack", "policy", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "production-availability" in text, text
    assert dev.pulumi("stack", "export").stdout == state_before
    assert live_versions(cluster, NAMESPACE) == live_before
    dev.edit(lambda c: c.pop(f"{PROJECT}:production"))


def namespace_tier(cluster: Cluster) -> str:
    namespace = cluster.get("namespace", NAMESPACE)
    assert namespace is not None
    return namespace["metadata"]["labels"]["notification-delivery/tier"]


def test_without_the_preview_a_stack_policy_runs_after_the_changes(
    dev: Project, cluster: Cluster
) -> None:
    # docs/engine.md section 4: an `up --skip-preview` (what the Automation API and
    # pulumi/actions run) applies every step, then runs the stack policies.
    assert namespace_tier(cluster) == "non-production"

    def production(config: dict) -> None:
        config[f"{PROJECT}:production"] = True
        config[f"{PROJECT}:protect"] = False  # the module must be able to destroy it

    dev.edit(production)
    result = dev.up("--policy-pack", "policy", check=False)
    assert result.returncode != 0
    assert "production-availability" in result.stdout + result.stderr
    assert namespace_tier(cluster) == "production"
    dev.edit(lambda c: [c.pop(f"{PROJECT}:production"), c.pop(f"{PROJECT}:protect")])
    dev.up()
    assert namespace_tier(cluster) == "non-production"


def test_a_resource_policy_stops_its_object_before_its_step(dev: Project, cluster: Cluster) -> None:
    deployment = "dev-reminder-service"
    generation = cluster.get("deployment", deployment, NAMESPACE)["metadata"]["generation"]  # type: ignore[index]

    def latest(config: dict) -> None:
        service = config[f"{PROJECT}:services"]["reminder-service"]
        service["image"] = "notification-delivery/reminder-service:latest"

    dev.edit(latest)
    result = dev.up("--policy-pack", "policy", check=False)
    assert result.returncode != 0
    assert "image-pinned" in result.stdout + result.stderr
    live = cluster.get("deployment", deployment, NAMESPACE)
    assert live is not None and live["metadata"]["generation"] == generation
    dev.edit(lambda c: c[f"{PROJECT}:services"]["reminder-service"].pop("image"))
