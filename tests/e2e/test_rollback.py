"""A rollback to an earlier release tag restores exactly that release's objects.

The workflows' steps, run by hand on a git history of the test's own (docs/operations.md "The
release ledger" and "Rolling back"): deploy, record the release and tag it as record-release.yml
does; deploy a change; then resolve the tag, restore its program files keeping today's secrets,
and deploy again, as rollback.yml does. The live objects must then be the first release's render.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from components.conventions import PROJECT
from tests.e2e.engine import VENV_BIN, Cluster, Project
from tests.e2e.live import compare


def git(project: Project, *args: str) -> str:
    return project.run("git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid",
                       *args).stdout.strip()  # fmt: skip


def release(project: Project, cluster: Cluster, folder: Path) -> str:
    """Deploy the work tree's commit and tag it as the next release; the tag's name."""
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a release", "--allow-empty")
    project.up()
    commit = git(project, "rev-parse", "HEAD")
    outputs = folder / "outputs.json"
    outputs.write_text(project.pulumi("stack", "output", "release", "--json").stdout)
    pods = folder / "pods.json"
    pods.write_text(cluster.kubectl("get", "pods", "-n", "development", "-o", "json").stdout)
    python = str(VENV_BIN / "python")
    record = project.run(
        python, "-m", "pipeline.release", "record", "--stack", "dev", "--commit", commit,
        "--outputs", outputs, "--pods", pods,
    ).stdout  # fmt: skip
    (folder / "record.json").write_text(record)
    (folder / "refs.txt").write_text(git(project, "tag", "--list", "release/dev/*") + "\n")
    prepared = project.run(
        python, "-m", "pipeline.release", "prepare-tag", "--record", folder / "record.json",
        "--refs", folder / "refs.txt", "--message-out", folder / "message.txt",
    ).stdout.split()  # fmt: skip
    tag, tagged = prepared
    assert tagged == commit
    git(project, "tag", "-a", tag, commit, "-F", str(folder / "message.txt"))
    return tag


def test_a_rollback_restores_exactly_the_release(
    make_project: Callable[..., Project], cluster: Cluster, tmp_path: Path
) -> None:
    project = make_project("dev")
    git(project, "init", "-q", "-b", "development")
    first = release(project, cluster, tmp_path)
    first_render = project.render(tmp_path / "first")
    first_config_maps = json.loads(project.pulumi("stack", "output", "release", "--json").stdout)

    def change(config: dict) -> None:
        services = config[f"{PROJECT}:services"]
        services["event-service"].setdefault("env", {})["LOG_LEVEL"] = "debug"
        services["event-service"]["replicas"] = 2

    project.edit(change)
    (tmp_path / "second").mkdir()
    release(project, cluster, tmp_path / "second")
    assert cluster.get("deployment", "dev-event-service", "development")["spec"]["replicas"] == 2  # type: ignore[index]

    python = str(VENV_BIN / "python")
    resolved = project.run(
        python, "-m", "pipeline.release", "resolve", "--stack", "dev", "--tag", first,
        "--branch", "development",
    ).stdout  # fmt: skip
    commit = dict(line.split("=", 1) for line in resolved.splitlines() if "=" in line)["commit"]
    project.run(
        python, "-m", "pipeline.release", "restore", "--stack", "dev", "--commit", commit,
        "--keep-current-secrets",
    )  # fmt: skip
    project.up()
    assert compare(cluster, first_render, project.secrets) == []
    now = json.loads(project.pulumi("stack", "output", "release", "--json").stdout)
    assert now["configMaps"] == first_config_maps["configMaps"]
    # The second release's ConfigMap is gone, not left beside the restored one.
    config_maps = {c["metadata"]["name"] for c in cluster.items("configmaps", "development")}
    assert config_maps >= set(now["configMaps"].values())
    assert len([n for n in config_maps if n.startswith("dev-event-service")]) == 1
