"""Operating a deployed stack on a real kind cluster: drift detection, remediation, rollback.

What it proves, with the real CLI, the real Kubernetes provider and the repository's tools:

1. `pulumi refresh --preview-only --expect-no-changes --json`, read by `pipeline.drift`, reports
   no drift right after `up`, and leaves the state exactly as it was (read-only).
2. A `kubectl patch` of a field the program sets is reported as drift, naming the object and
   the field; a remediating `up --refresh` with patch force (docs/operations.md) removes it.
3. A release recorded as an annotated git tag (`pipeline.release` record and message) can be
   restored with `pipeline.release restore` after a later release changed reminder-service's
   image; the `up` that follows runs the first release's image again, and the stack output
   `release` says so.

Same honest limits as test_kind_cluster.py: only reminder-service runs (against a throw-away
Postgres); the other two services run with `replicas: 0`. The program runs from a copy of the
repository in a fresh git repository under `tmp_path`, with a file backend there too, so
nothing of the developer's is touched. The second image is reminder-service's own image under a
second tag, loaded into the node the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pulumi import automation as auto

from components.catalog import CATALOG
from components.conventions import PROJECT
from pipeline import drift, release
from tests.integration.cluster import (
    CLUSTER,
    NAMESPACE,
    REPO_ROOT,
    STACK,
    backend_env,
    kubectl,
    local_stack,
    run,
)

pytestmark = pytest.mark.integration

RUNNING = "reminder-service"
SCALED_TO_ZERO = ("event-service", "notification-service")
DEPLOYMENT_NAME = f"local-{RUNNING}"
FIRST_IMAGE = f"notification-delivery/{RUNNING}:local"
SECOND_IMAGE = f"notification-delivery/{RUNNING}:rollback-test"
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".ruff_cache", ".pytest_cache", "__pycache__", "rendered", "tests", "benchmark"
)


def git(repo: Path, *args: str) -> str:
    return run(
        "git", "-C", str(repo), "-c", "user.email=it@example.com", "-c", "user.name=it", *args
    ).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def deployed_image() -> str:
    return kubectl(
        "get", "deployment", DEPLOYMENT_NAME, "-n", NAMESPACE,
        "-o", "jsonpath={.spec.template.spec.containers[0].image}",
    ).stdout  # fmt: skip


def rolled_out() -> None:
    kubectl(
        "rollout", "status", f"deployment/{DEPLOYMENT_NAME}", "-n", NAMESPACE, "--timeout=180s",
        timeout=240,
    )  # fmt: skip


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def images(kind_cluster: str) -> None:
    """reminder-service's image in the node under both tags the test deploys."""
    run(str(REPO_ROOT / "scripts" / "local-images.sh"), RUNNING, timeout=1200)
    run("docker", "tag", FIRST_IMAGE, SECOND_IMAGE)
    run("kind", "load", "docker-image", SECOND_IMAGE, "--name", CLUSTER, timeout=600)


@pytest.fixture
def program(tmp_path: Path, backends: str) -> Path:
    """A git repository holding a copy of the program, its local stack file set for the test."""
    work_dir = tmp_path / "program"
    shutil.copytree(REPO_ROOT, work_dir, ignore=COPY_IGNORE)
    (work_dir / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    (work_dir / ".gitignore").write_text(".venv\n__pycache__/\n")
    stack_file = work_dir / f"Pulumi.{STACK}.yaml"
    config = dict(yaml.safe_load(stack_file.read_text())["config"])
    config.pop(f"{PROJECT}:secrets", None)
    services = json.loads(json.dumps(config[f"{PROJECT}:services"]))
    services[RUNNING].setdefault("env", {})["DB_HOST"] = backends
    for name in SCALED_TO_ZERO:
        services[name]["replicas"] = 0
    config[f"{PROJECT}:services"] = services
    stack_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    git(work_dir, "init", "-q", "-b", "local")
    commit_all(work_dir, "the program as the test starts it")
    return work_dir


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    return backend_env(state)


@pytest.fixture
def stack(program: Path, env: dict[str, str], images: None) -> Iterator[auto.Stack]:
    with local_stack(program, env) as stack:
        yield stack


# --- helpers that run what the workflows run --------------------------------------------------


def check_drift(program: Path, env: dict[str, str]) -> tuple[int, drift.Report]:
    """drift.yml's two steps: the read-only refresh, then pipeline.drift's verdict."""
    done = subprocess.run(
        ["pulumi", "refresh", "--preview-only", "--expect-no-changes", "--json",
         "--non-interactive", "--stack", STACK],
        cwd=program, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    document = drift.load_document(done.stdout)
    report = drift.classify(document, STACK)
    status, reason = drift.decide(report, done.returncode)
    assert status != drift.ERROR, f"{reason}\n{done.stderr}"
    return status, report


def exported_state(stack: auto.Stack) -> Any:
    deployment = stack.export_stack().deployment
    return deployment["resources"] if isinstance(deployment, dict) else deployment


def record_release(program: Path, stack: auto.Stack, commit: str, n: int) -> dict[str, Any]:
    """deploy.yml's record step and record-release.yml's tag, with git instead of the API."""
    outputs = stack.outputs()["release"].value
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)
    record = release.make_record(STACK, commit, outputs, pods=pods)
    tag = f"release/{STACK}/{n}"
    git(program, "tag", "-a", tag, "-m", release.message(tag, record), commit)
    return record


# --- the test ---------------------------------------------------------------------------------


def test_drift_is_detected_and_remediated_and_a_release_is_restored(
    program: Path, env: dict[str, str], stack: auto.Stack
) -> None:
    # Release 1.
    first = stack.up(color="never", on_output=print)
    assert first.summary.result == "succeeded"
    rolled_out()
    assert deployed_image() == FIRST_IMAGE
    first_commit = commit_all(program, "release 1 (the stack file now holds its secrets)")
    first_record = record_release(program, stack, first_commit, 1)
    assert first_record["images"][RUNNING] == FIRST_IMAGE
    assert set(first_record["configMaps"]) == set(CATALOG)

    # 1. Straight after a deploy: no drift, and the check changed nothing in the state.
    before = exported_state(stack)
    status, report = check_drift(program, env)
    assert status == drift.NO_DRIFT, drift.render_text(report, status)
    assert exported_state(stack) == before

    # 2. Someone changes a field the program sets, by hand.
    kubectl(
        "patch", "deployment", DEPLOYMENT_NAME, "-n", NAMESPACE, "--type", "merge",
        "-p", '{"spec": {"minReadySeconds": 3}}',
    )  # fmt: skip
    status, report = check_drift(program, env)
    assert status == drift.DRIFT
    assert (f"Deployment {NAMESPACE}/{DEPLOYMENT_NAME}", "spec.minReadySeconds") in set(
        drift.iter_fields(report)
    )
    assert exported_state(stack) == before  # still read-only

    # Remediation as docs/operations.md has it: a refreshed update that overrides the
    # hand-made field ownership.
    # `local_stack` gives the workspace a dict of its own (tests/integration/cluster.py).
    env_vars = cast("dict[str, str]", stack.workspace.env_vars)
    env_vars["PULUMI_K8S_ENABLE_PATCH_FORCE"] = "true"
    try:
        fixed = stack.up(color="never", on_output=print, refresh=True)
    finally:
        del env_vars["PULUMI_K8S_ENABLE_PATCH_FORCE"]
    assert fixed.summary.result == "succeeded"
    status, report = check_drift(program, env)
    assert status == drift.NO_DRIFT, drift.render_text(report, status)

    # Release 2 runs another image.
    stack.set_config(f"services.{RUNNING}.image", auto.ConfigValue(value=SECOND_IMAGE), path=True)
    second = stack.up(color="never", on_output=print)
    assert second.summary.result == "succeeded"
    rolled_out()
    assert deployed_image() == SECOND_IMAGE
    record_release(program, stack, commit_all(program, "release 2"), 2)

    # 3. Roll back to release 1: restore its program files, then a normal update.
    tag_record = release.parse_message(
        git(program, "for-each-ref", "--format=%(contents)", f"refs/tags/release/{STACK}/1")
    )
    assert tag_record == first_record
    commit = git(program, "rev-parse", f"release/{STACK}/1^{{commit}}")
    # No digest pinning here: images loaded into a kind node come from no registry, so what
    # their pods report is no reference a node could pull (tests/pipeline/test_release.py covers
    # pins).
    release.restore(STACK, commit, root=program, keep_current_secrets=True, digests={})
    back = stack.up(color="never", on_output=print)
    assert back.summary.result == "succeeded"
    rolled_out()
    assert deployed_image() == first_record["images"][RUNNING]
    assert stack.outputs()["release"].value["images"] == first_record["images"]
    assert stack.outputs()["release"].value["configMaps"] == first_record["configMaps"]
