"""Fixtures of the end-to-end suite: the built toolchain, control planes, and the CLI's home.

On a machine without the toolchain the suite skips with one line saying how to build it; in CI
(`CI=true`) a missing toolchain or a control plane that does not start fails it instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.engine import REPO_ROOT, Cluster, Project, new_project, run, toolchain_bin, versions

IN_CI = os.environ.get("CI") == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: drives the real Pulumi CLI against a real API server (scripts/cluster.sh)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def toolchain() -> Path:
    """The bin folder of scripts/toolchain.sh for the pinned versions."""
    found = toolchain_bin()
    if found is None:
        message = "real-engine toolchain not built: run scripts/toolchain.sh (docs/real-engine.md)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def clusters(
    toolchain: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Cluster]]:
    """Start a named control plane on first use; every one is stopped at the end of the run."""
    started: dict[str, Cluster] = {}
    script = REPO_ROOT / "scripts" / "cluster.sh"

    def cluster(name: str) -> Cluster:
        if name not in started:
            directory = tmp_path_factory.mktemp(f"cluster-{name}")
            result = run([script, "up", directory], check=False, timeout=300)
            if result.returncode != 0:
                pytest.fail(f"scripts/cluster.sh up failed:\n{result.stderr}")
            started[name] = Cluster(dir=directory, bin=toolchain)
        return started[name]

    try:
        yield cluster
    finally:
        for each in started.values():
            run([script, "down", each.dir], check=False, timeout=120)


@pytest.fixture(scope="session")
def cluster(clusters: Callable[[str], Cluster]) -> Cluster:
    """The control plane most tests deploy to."""
    return clusters("main")


@pytest.fixture(scope="session")
def pulumi_home(toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PULUMI_HOME holding the built provider, installed from its file with no lookup."""
    home = tmp_path_factory.mktemp("pulumi-home")
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    env["PATH"] = f"{toolchain}{os.pathsep}{env.get('PATH', '')}"
    run(
        ["pulumi", "plugin", "install", "resource", "kubernetes",
         versions()["PULUMI_KUBERNETES_VERSION"],
         "--file", toolchain / "pulumi-resource-kubernetes"],
        env=env,
    )  # fmt: skip
    return home


@pytest.fixture(scope="module")
def make_project(
    tmp_path_factory: pytest.TempPathFactory, cluster: Cluster, pulumi_home: Path
) -> Iterator[Callable[..., Project]]:
    """A copy of the program with a stack of the given name, shared by one test module's tests
    (a deploy takes tens of seconds); destroyed when the module is done."""
    made: list[Project] = []

    def make(stack: str, *, target: Cluster | None = None, secrets: bool = True) -> Project:
        root = tmp_path_factory.mktemp(stack)
        project = new_project(root, stack, target or cluster, pulumi_home, secrets=secrets)
        made.append(project)
        return project

    try:
        yield make
    finally:
        for project in made:
            project.kubeconfig = None
            project.pulumi("destroy", "--yes", "--remove", check=False)
