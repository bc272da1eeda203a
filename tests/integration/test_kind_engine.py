"""What only the real engine, provider and API server can show, on a kind cluster.

The mock-runtime tests check what the program sends; these check what then happens
(docs/engine.md explains each from the sources):

1. Autoscaling transitions keep every pod. Fixed 3 -> autoscaled: `spec.replicas` never leaves 3
   (the field is handed over, not released and defaulted to 1). The autoscaler's first scale
   takes the field (manager `kube-controller-manager`, subresource `scale`), and a later update of
   the Deployment leaves its count alone. Autoscaled -> fixed, in the two documented steps (pin
   the autoscaler at the count, then the fixed count): the count never drops, the forced apply
   takes the field back, and a later change of the count applies without a field conflict.
2. A policy violation stops an update before anything changes when the preview runs first with
   the policy pack (what CI does). Without that preview, the Automation API's `up` runs with
   `--skip-preview`, and a stack policy only runs after every step: the cluster has changed by the
   time the update fails. The test shows both.

No metrics server is needed, nor assumed: without metrics the autoscaler moves the count only
into [minReplicas, maxReplicas], which is what the test uses to make it act.
Same cluster, fixtures and limits as test_kind_cluster.py (reminder-service runs for real; the
other two services run with 0 replicas).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.conventions import PROJECT
from tests.e2e.live import pulumi_owned, replicas_owners
from tests.integration import test_kind_cluster as kind_cluster_test
from tests.integration.cluster import NAMESPACE, REPO_ROOT, backend_env, kubectl, local_stack
from tests.integration.test_kind_cluster import (
    COPY_IGNORE,
    RUNNING,
    SCALED_TO_ZERO,
    STACK,
    assert_rolled_out,
    deployment_generations,
    object_name,
)

pytestmark = pytest.mark.integration

# The same image and Postgres fixtures as the first integration test.
images = kind_cluster_test.images

DEPLOYMENT = object_name(RUNNING)
SERVICES_KEY = f"{PROJECT}:services"
HPA_MANAGER = "kube-controller-manager"
HPA_SYNC_TIMEOUT = 120.0
"""The HPA controller syncs every 15 s; allow for a slow node."""


# --- helpers ----------------------------------------------------------------------------------


def edit_config(work_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the stack file's config in place (keeps the secrets and the salt)."""
    path = work_dir / f"Pulumi.{STACK}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def reminder(config: dict[str, Any]) -> dict[str, Any]:
    return config[SERVICES_KEY][RUNNING]


def set_fixed(work_dir: Path, replicas: int) -> None:
    def change(config: dict[str, Any]) -> None:
        reminder(config).pop("autoscaling", None)
        reminder(config)["replicas"] = replicas

    edit_config(work_dir, change)


def set_autoscaled(work_dir: Path, minimum: int, maximum: int) -> None:
    def change(config: dict[str, Any]) -> None:
        reminder(config).pop("replicas", None)
        reminder(config)["autoscaling"] = {"minReplicas": minimum, "maxReplicas": maximum}

    edit_config(work_dir, change)


def deployment_json() -> dict[str, Any]:
    out = kubectl(
        "get", "deployment", DEPLOYMENT, "-n", NAMESPACE, "-o", "json", "--show-managed-fields"
    ).stdout  # fmt: skip
    return json.loads(out)


def spec_replicas() -> int:
    return int(deployment_json()["spec"]["replicas"])


def wait_for_replicas(expected: int) -> None:
    deadline = time.monotonic() + HPA_SYNC_TIMEOUT
    while time.monotonic() < deadline:
        if spec_replicas() == expected:
            return
        time.sleep(3)
    raise AssertionError(f"{DEPLOYMENT} did not reach {expected} replicas: {spec_replicas()}")


@contextlib.contextmanager
def watching_replicas() -> Iterator[list[tuple[int, int]]]:
    """Sample (spec.replicas, status.availableReplicas) twice a second while the block runs."""
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result = kubectl(
                "get", "deployment", DEPLOYMENT, "-n", NAMESPACE,
                "-o", "jsonpath={.spec.replicas} {.status.availableReplicas}",
                check=False, timeout=10,
            )  # fmt: skip
            parts = result.stdout.split()
            if result.returncode == 0 and len(parts) == 2:
                samples.append((int(parts[0]), int(parts[1])))
            stop.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=15)


def up(stack: auto.Stack, **kwargs: Any) -> auto.UpResult:
    result = stack.up(color="never", on_output=print, **kwargs)
    assert result.summary.result == "succeeded"
    return result


def namespace_tier() -> str:
    out = kubectl(
        "get", "namespace", NAMESPACE, "-o",
        "jsonpath={.metadata.labels.notification-delivery/tier}",
    ).stdout  # fmt: skip
    return out.strip()


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def work_dir(tmp_path: Path, backends: str) -> Path:
    """A copy of the program (with the policy pack runnable) for a `local` stack of the test's."""
    copy = tmp_path / "program"
    shutil.copytree(REPO_ROOT, copy, ignore=COPY_IGNORE)
    (copy / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    # policy/PulumiPolicy.yaml runs the pack in policy/.venv; the repo's has pulumi-policy.
    (copy / "policy" / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)

    def change(config: dict[str, Any]) -> None:
        config.pop(f"{PROJECT}:secrets", None)
        reminder(config).setdefault("env", {})["DB_HOST"] = backends
        for name in SCALED_TO_ZERO:
            config[SERVICES_KEY][name]["replicas"] = 0

    edit_config(copy, change)
    return copy


@pytest.fixture
def stack(tmp_path: Path, work_dir: Path) -> Iterator[auto.Stack]:
    state = tmp_path / "state"
    state.mkdir()
    with local_stack(work_dir, backend_env(state)) as stack:
        yield stack


# --- 1. autoscaling transitions ---------------------------------------------------------------


def test_switching_to_autoscaling_and_back_never_drops_a_pod(
    images: None, work_dir: Path, stack: auto.Stack
) -> None:
    # A fixed count of 3, applied by Pulumi's own field manager.
    set_fixed(work_dir, 3)
    up(stack)
    assert_rolled_out(RUNNING)
    assert spec_replicas() == 3

    # Fixed -> autoscaled (2-4): the count is handed over at 3, never released.
    set_autoscaled(work_dir, 2, 4)
    with watching_replicas() as samples:
        up(stack)
        time.sleep(35)  # two HPA syncs: in range and without metrics, it leaves the count
    assert samples and min(s for s, _ in samples) == 3, samples
    assert min(a for _, a in samples) >= 3, samples
    owners = replicas_owners(deployment_json())
    assert pulumi_owned(owners) and (HPA_MANAGER, "scale") not in owners, owners

    # The autoscaler acts (a floor above the count): its scale takes the field over.
    set_autoscaled(work_dir, 4, 4)
    up(stack)
    wait_for_replicas(4)
    owners = replicas_owners(deployment_json())
    assert owners == {(HPA_MANAGER, "scale")}, owners

    # A change that rolls the Deployment leaves the autoscaler's count alone, without a conflict.
    def new_variable(config: dict[str, Any]) -> None:
        reminder(config)["env"]["LOG_LEVEL"] = "debug"

    edit_config(work_dir, new_variable)
    with watching_replicas() as samples:
        up(stack)
        assert_rolled_out(RUNNING)
    assert min(s for s, _ in samples) == 4, samples

    # Autoscaled -> fixed, step 2 of 2 (step 1, the autoscaler pinned at 4-4, is in place):
    # the forced apply takes the field back at the same count; the autoscaler goes last.
    set_fixed(work_dir, 4)
    with watching_replicas() as samples:
        up(stack)
    assert min(s for s, _ in samples) == 4, samples
    assert min(a for _, a in samples) >= 4, samples
    assert kubectl("get", "hpa", DEPLOYMENT, "-n", NAMESPACE, check=False).returncode != 0
    owners = replicas_owners(deployment_json())
    # The same value conflicts with nobody: the deleted autoscaler's controller stays a co-owner.
    assert pulumi_owned(owners) and (HPA_MANAGER, "scale") in owners, owners

    # The count is the program's again: a deliberate change applies (forced past the stale
    # co-owner the deleted autoscaler's controller left).
    set_fixed(work_dir, 2)
    up(stack)
    assert spec_replicas() == 2
    owners = replicas_owners(deployment_json())
    assert pulumi_owned(owners) and (HPA_MANAGER, "scale") not in owners, owners


# --- 2. policies ------------------------------------------------------------------------------


def test_a_policy_violation_stops_the_update_when_the_preview_runs_first(
    images: None, work_dir: Path, stack: auto.Stack
) -> None:
    policy = str(work_dir / "policy")
    up(stack, policy_packs=[policy])
    assert_rolled_out(RUNNING)
    generations = deployment_generations()
    assert namespace_tier() == "non-production"

    # Production tier with one replica and no disruption budget: a stack policy violation.
    def production(config: dict[str, Any]) -> None:
        config[f"{PROJECT}:production"] = True
        config[f"{PROJECT}:protect"] = False  # the test must be able to destroy it

    edit_config(work_dir, production)

    # What CI does: preview with the pack; it fails, so the update never starts.
    with pytest.raises(auto.errors.CommandError) as preview_error:
        stack.preview(color="never", policy_packs=[policy])
    assert "production-availability" in str(preview_error.value)
    assert namespace_tier() == "non-production"
    assert deployment_generations() == generations

    # Without the preview (Automation API `up` passes --skip-preview), the stack policy runs
    # after the steps: the update fails, but the namespace has already changed.
    with pytest.raises(auto.errors.CommandError) as up_error:
        stack.up(color="never", on_output=print, policy_packs=[policy])
    assert "production-availability" in str(up_error.value)
    assert namespace_tier() == "production"

    # A resource policy, by contrast, stops its object before its step even then.
    def back_and_latest(config: dict[str, Any]) -> None:
        config.pop(f"{PROJECT}:production")
        reminder(config)["image"] = "notification-delivery/reminder-service:latest"

    edit_config(work_dir, back_and_latest)
    generations = deployment_generations()
    with pytest.raises(auto.errors.CommandError) as image_error:
        stack.up(color="never", on_output=print, policy_packs=[policy])
    assert "image-pinned" in str(image_error.value)
    assert deployment_generations()[DEPLOYMENT] == generations[DEPLOYMENT]
