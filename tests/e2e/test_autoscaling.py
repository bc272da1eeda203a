"""Switching a service to autoscaling and back never drops its ready replicas (docs/engine.md).

Fixed 3 -> autoscaled 2-4: `spec.replicas` never leaves 3 (the field is handed over, not released
and defaulted to 1). Autoscaled -> fixed, in the two documented steps (pin the autoscaler at the
count, then the fixed count): the count never drops. Without a metrics server the autoscaler
moves the count only into [minReplicas, maxReplicas], which is how the test makes it act.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.conventions import PROJECT
from tests.e2e.engine import Cluster, Project
from tests.e2e.live import pulumi_owned, replicas_owners

SERVICE = "reminder-service"
DEPLOYMENT = f"dev-{SERVICE}"
NAMESPACE = "development"
HPA_MANAGER = "kube-controller-manager"
HPA_SYNC_TIMEOUT = 90.0
"""The autoscaler syncs every 15 s."""


def set_fixed(project: Project, replicas: int) -> None:
    def change(config: dict[str, Any]) -> None:
        service = config[f"{PROJECT}:services"][SERVICE]
        service.pop("autoscaling", None)
        service["replicas"] = replicas

    project.edit(change)


def set_autoscaled(project: Project, minimum: int, maximum: int) -> None:
    def change(config: dict[str, Any]) -> None:
        service = config[f"{PROJECT}:services"][SERVICE]
        service.pop("replicas", None)
        service["autoscaling"] = {"minReplicas": minimum, "maxReplicas": maximum}

    project.edit(change)


def deployment(cluster: Cluster) -> dict[str, Any]:
    found = cluster.get("deployment", DEPLOYMENT, NAMESPACE, managed_fields=True)
    assert found is not None
    return found


def wait_for_replicas(cluster: Cluster, expected: int) -> None:
    deadline = time.monotonic() + HPA_SYNC_TIMEOUT
    while time.monotonic() < deadline:
        if deployment(cluster)["spec"]["replicas"] == expected:
            return
        time.sleep(2)
    raise AssertionError(f"{DEPLOYMENT} did not reach {expected} replicas")


@contextlib.contextmanager
def watching(cluster: Cluster) -> Iterator[list[tuple[int, int]]]:
    """Sample (spec.replicas, status.readyReplicas) while the block runs."""
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            live = cluster.get("deployment", DEPLOYMENT, NAMESPACE)
            if live is not None:
                ready = live.get("status", {}).get("readyReplicas", 0)
                samples.append((live["spec"]["replicas"], ready))
            stop.wait(0.3)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def dev(make_project: Callable[..., Project]) -> Project:
    return make_project("dev")


def test_switching_to_autoscaling_and_back_never_drops_a_ready_pod(
    dev: Project, cluster: Cluster
) -> None:
    set_fixed(dev, 3)
    dev.up()
    assert deployment(cluster)["status"]["readyReplicas"] == 3

    # Fixed -> autoscaled (2-4): the count is handed over at 3, never released.
    set_autoscaled(dev, 2, 4)
    with watching(cluster) as samples:
        dev.up()
        time.sleep(32)  # two autoscaler syncs: in range and without metrics, it keeps the count
    assert samples and min(s for s, _ in samples) == 3, samples
    assert min(r for _, r in samples) >= 3, samples

    # The autoscaler acts (a floor above the count): its scale takes the field over.
    set_autoscaled(dev, 4, 4)
    dev.up()
    wait_for_replicas(cluster, 4)
    assert replicas_owners(deployment(cluster)) == {(HPA_MANAGER, "scale")}

    # Autoscaled -> fixed, step 2 of 2 (step 1, the autoscaler pinned at 4-4, is in place):
    # the forced apply takes the field back at the same count; the autoscaler goes last.
    set_fixed(dev, 4)
    with watching(cluster) as samples:
        dev.up()
    assert min(s for s, _ in samples) == 4, samples
    assert min(r for _, r in samples) >= 4, samples
    assert cluster.get("horizontalpodautoscaler", DEPLOYMENT, NAMESPACE) is None
    assert pulumi_owned(replicas_owners(deployment(cluster)))

    # The count is the program's again: a deliberate change applies.
    set_fixed(dev, 2)
    dev.up()
    assert deployment(cluster)["spec"]["replicas"] == 2
