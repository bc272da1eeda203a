"""Integration tests against a real kind cluster; they skip themselves where there is none.

`pytest -m integration` runs only these, `pytest -m "not integration"` leaves them out. A
cluster is used when kind reports one named `notification-delivery` (`make local-up` makes
it); with `NOTIFICATION_DELIVERY_KIND=1` the fixture creates it, and deletes it afterwards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import (
    BACKENDS_NAMESPACE,
    CLUSTER,
    CONTEXT,
    CREATE_ENV,
    NAMESPACE,
    REPO_ROOT,
    REQUIRED_TOOLS,
    kind_clusters,
    kubectl,
    run,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: needs docker, kind, kubectl and the Pulumi CLI, and a kind cluster "
        f"named {CLUSTER} (or {CREATE_ENV}=1 to create one)",
    )


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[str]:
    """The kind cluster's kubeconfig context, or a one-line skip saying what is missing."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH (not found); see docs/local.md")
    if run("docker", "info", check=False, timeout=30).returncode != 0:
        pytest.skip("docker is installed but its engine is not reachable (`docker info` failed)")

    created = False
    if CLUSTER not in kind_clusters():
        if os.environ.get(CREATE_ENV) != "1":
            pytest.skip(
                f"no kind cluster {CLUSTER!r}: run `make local-up`, or set {CREATE_ENV}=1 "
                "to let the test create one"
            )
        run(
            "kind", "create", "cluster", "--name", CLUSTER,
            "--config", str(REPO_ROOT / "scripts" / "kind-config.yaml"),
            timeout=600,
        )  # fmt: skip
        created = True

    # The test's stack creates namespace `local`; a developer's `make local-up` stack owns it
    # already, and Pulumi does not adopt existing objects (nor should the test touch them).
    if kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0:
        pytest.skip(
            f"namespace {NAMESPACE!r} already exists in {CONTEXT} (a `make local-up` stack?); "
            "run `make local-down` or `KEEP_CLUSTER=1 scripts/local-down.sh` first"
        )
    try:
        yield CONTEXT
    finally:
        if created:
            run("kind", "delete", "cluster", "--name", CLUSTER, timeout=300, check=False)


@pytest.fixture
def backends(kind_cluster: str) -> Iterator[str]:
    """A Postgres for reminder-service; yields its in-cluster DNS name."""
    manifest = str(Path(__file__).with_name("backends.yaml"))
    kubectl("apply", "-f", manifest)
    try:
        kubectl(
            "rollout", "status", "deployment/postgres", "-n", BACKENDS_NAMESPACE,
            "--timeout=300s", timeout=360,
        )  # fmt: skip
        yield f"postgres.{BACKENDS_NAMESPACE}.svc.cluster.local"
    finally:
        kubectl("delete", "-f", manifest, "--wait=false", check=False)
