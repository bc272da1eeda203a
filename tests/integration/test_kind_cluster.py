"""The `local` stack on a real kind cluster, driven by the Pulumi Automation API.

What it proves, end to end, with the real CLI and the real Kubernetes provider:

1. `up` of the `local` stack rolls out every Deployment, and reminder-service answers HTTP.
2. Changing ONE variable of ONE service replaces only that service's ConfigMap and updates only
   its Deployment: nothing else changes in the plan, in the update, or in the cluster (the other
   Deployments keep their `.metadata.generation`).
3. `destroy` removes the namespace.

Honest limits: event-service and notification-service cannot become Ready on a laptop (they need
AWS SQS/DynamoDB/SNS, and notification-service a real Firebase service account; see
docs/local.md), and Pulumi waits for each Deployment to be Ready. The test therefore runs them
with `replicas: 0`: their Deployments, ConfigMaps and Secrets are still created, diffed and
destroyed, and their rollouts are complete, but no pod of theirs runs. reminder-service runs for
real against a throw-away Postgres (backends.yaml).

State lives in a file backend under `tmp_path`, and the program runs from a copy of the repo
there, because `create_or_select_stack` and `set_config` write the stack file of their work
dir (an `encryptionsalt`, the test's secrets and overrides) and must not rewrite the committed
Pulumi.local.yaml. `project_settings` is not passed for the same reason: it would rewrite
Pulumi.yaml, dropping its project-level config defaults (`version`, `registry`).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.catalog import CATALOG
from components.conventions import PROJECT
from tests.integration.cluster import (
    CONTEXT,
    DB_PASSWORD,
    NAMESPACE,
    PASSPHRASE,
    REPO_ROOT,
    STACK,
    backend_env,
    kubectl,
    local_stack,
    run,
)

__all__ = ["DB_PASSWORD", "PASSPHRASE", "STACK"]  # names the other kind tests import from here

pytestmark = pytest.mark.integration

PREFIX = "local"
ROLLOUT_TIMEOUT = "180s"

RUNNING = "reminder-service"
"""The one service that can really run locally (needs only Postgres to start)."""
SCALED_TO_ZERO = ("event-service", "notification-service")
CHANGED_KEY = f"services.{RUNNING}.env.LOG_LEVEL"
"""The variable the test changes. None of the services reads LOG_LEVEL, so the change cannot
break start-up; what matters is that it is new ConfigMap data."""

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
REPLACE_STEPS = {"replace", "create-replacement", "delete-replaced"}
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".ruff_cache", ".pytest_cache", "__pycache__", "rendered", "tests", "benchmark"
)


def object_name(service: str) -> str:
    return f"{PREFIX}-{service}"


# --- helpers ----------------------------------------------------------------------------------


class StepRecorder:
    """Collects the engine's steps (`ResourcePreEvent`s) of one preview or update."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []

    def __call__(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None:
            self.steps.append((pre.metadata.urn, _op(pre.metadata.op)))

    def changed(self) -> dict[tuple[str, str], set[str]]:
        """(type, logical name) to the set of non-`same` ops the engine ran on it."""
        out: dict[tuple[str, str], set[str]] = {}
        for urn, op in self.steps:
            if op in ("same", "read"):
                continue
            # urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>
            parts = urn.split("::")
            out.setdefault((parts[-2].split("$")[-1], parts[-1]), set()).add(op)
        return out


def _op(op: object) -> str:
    # OpType is a str Enum; str() of it would be "OpType.UPDATE", its value is "update".
    return str(getattr(op, "value", op))


def non_same(summary: Mapping[Any, int] | None) -> dict[str, int]:
    return {_op(op): n for op, n in (summary or {}).items() if _op(op) != "same" and n}


def deployment_generations() -> dict[str, int]:
    out = kubectl(
        "get", "deployments", "-n", NAMESPACE,
        "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.generation}{\"\\n\"}{end}",
    ).stdout  # fmt: skip
    return {
        name: int(generation)
        for name, generation in (line.split("=") for line in out.split() if line)
    }


def config_map_names(service: str) -> list[str]:
    out = kubectl(
        "get", "configmaps", "-n", NAMESPACE,
        "-l", f"app.kubernetes.io/instance={object_name(service)}",
        "-o", "jsonpath={.items[*].metadata.name}",
    ).stdout  # fmt: skip
    return sorted(out.split())


def assert_rolled_out(service: str) -> None:
    kubectl(
        "rollout", "status", f"deployment/{object_name(service)}", "-n", NAMESPACE,
        f"--timeout={ROLLOUT_TIMEOUT}",
        timeout=240,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_http_ok(service: str, path: str = "/docs") -> None:
    """GET `path` through `kubectl port-forward`: a rollout without probes only proves that a
    container started, this proves the API answers (and therefore reached its database)."""
    port = _free_port()
    forward = subprocess.Popen(
        [
            "kubectl", "--context", CONTEXT, "-n", NAMESPACE,
            "port-forward", f"service/{object_name(service)}", f"{port}:80",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                    assert reply.status == 200
                    return
            except OSError as error:  # not forwarding yet, or the app still starting
                last_error = error
                time.sleep(2)
        raise AssertionError(f"{service} did not answer GET {path}: {last_error}")
    finally:
        forward.terminate()
        forward.wait(timeout=10)


def namespace_gone(timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0:
            return True
        time.sleep(2)
    return False


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def images(kind_cluster: str) -> None:
    """reminder-service's image in the cluster, built or pulled as `make local-up` does it.

    Only reminder-service: the others run with 0 replicas, so no node ever pulls theirs.
    """
    run(str(REPO_ROOT / "scripts" / "local-images.sh"), RUNNING, timeout=1200)


@pytest.fixture
def program(tmp_path: Path, backends: str) -> Path:
    """A copy of the Pulumi program whose Pulumi.local.yaml carries the test's overrides."""
    work_dir = tmp_path / "program"
    shutil.copytree(REPO_ROOT, work_dir, ignore=COPY_IGNORE)
    # Pulumi.yaml runs the program with `.venv`; the repo's has every dependency.
    (work_dir / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)

    stack_file = work_dir / f"Pulumi.{STACK}.yaml"
    committed = yaml.safe_load(stack_file.read_text())
    config = dict(committed["config"])
    # A developer's `make local-up` may have added secrets and a salt for another passphrase;
    # the test sets its own, so start from the committed, non-secret config only.
    config.pop(f"{PROJECT}:secrets", None)
    services = json.loads(json.dumps(config[f"{PROJECT}:services"]))
    services[RUNNING].setdefault("env", {})["DB_HOST"] = backends
    for name in SCALED_TO_ZERO:
        services[name]["replicas"] = 0
    config[f"{PROJECT}:services"] = services
    # Written here rather than with set_config so that `replicas` stays a YAML integer.
    stack_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return work_dir


@pytest.fixture
def stack(tmp_path: Path, program: Path) -> Iterator[auto.Stack]:
    state = tmp_path / "state"
    state.mkdir()
    with local_stack(program, backend_env(state)) as stack:
        yield stack


# --- the test ---------------------------------------------------------------------------------


def test_local_stack_rolls_out_changes_one_service_and_destroys(
    images: None, stack: auto.Stack
) -> None:
    # 1. First deployment: everything rolls out, and the one runnable API answers.
    first = stack.up(color="never", on_output=print)
    assert first.summary.result == "succeeded"
    for service in CATALOG:
        assert_rolled_out(service)
    assert_http_ok(RUNNING)
    generations_before = deployment_generations()
    assert set(generations_before) == {object_name(s) for s in CATALOG}
    config_maps_before = config_map_names(RUNNING)
    assert len(config_maps_before) == 1

    # 2. One variable of one service changes.
    stack.set_config(CHANGED_KEY, auto.ConfigValue(value="debug"), path=True)
    expected = {
        (CONFIG_MAP, object_name(RUNNING)): "replace",
        (DEPLOYMENT, object_name(RUNNING)): "update",
    }

    planned = StepRecorder()
    preview = stack.preview(color="never", on_event=planned)
    assert non_same(preview.change_summary) == {"replace": 1, "update": 1}
    assert_only(planned, expected)

    applied = StepRecorder()
    second = stack.up(color="never", on_output=print, on_event=applied)
    assert non_same(second.summary.resource_changes) == {"replace": 1, "update": 1}
    assert_only(applied, expected)

    # The cluster agrees: one rollout, one new ConfigMap in place of the old one.
    assert_rolled_out(RUNNING)
    generations_after = deployment_generations()
    for name, generation in generations_before.items():
        if name == object_name(RUNNING):
            assert generations_after[name] == generation + 1, name
        else:
            assert generations_after[name] == generation, f"{name} rolled but did not change"
    config_maps_after = config_map_names(RUNNING)
    assert len(config_maps_after) == 1 and config_maps_after != config_maps_before
    assert_http_ok(RUNNING)

    # 3. Teardown removes the namespace (and with it every object of the stack).
    stack.destroy(color="never", on_output=print)
    assert namespace_gone(), f"namespace {NAMESPACE} still exists after destroy"
    assert kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    stack.workspace.remove_stack(STACK)


def assert_only(recorder: StepRecorder, expected: dict[tuple[str, str], str]) -> None:
    """The engine touched exactly the `expected` resources, each with the expected kind of op."""
    changed = recorder.changed()
    assert set(changed) == set(expected), f"unexpected changes: {changed}"
    for resource, op in expected.items():
        ops = changed[resource]
        if op == "replace":
            # A replacement shows as its parts (create-replacement, replace, delete-replaced).
            assert "replace" in ops and ops <= REPLACE_STEPS, (resource, ops)
        else:
            assert ops == {op}, (resource, ops)
