"""Names and command helpers shared by the integration tests and their fixtures."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from pulumi import automation as auto

from components.catalog import CATALOG
from tests.e2e import engine

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "notification-delivery"
CONTEXT = f"kind-{CLUSTER}"
"""kind names a cluster's kubeconfig context `kind-<cluster>`; Pulumi.local.yaml pins it."""
NAMESPACE = "local"
REQUIRED_TOOLS = ("pulumi", "kind", "kubectl", "docker")
CREATE_ENV = "NOTIFICATION_DELIVERY_KIND"
STACK = "local"
PASSPHRASE = "notification-delivery-integration-test"
"""Encrypts placeholder secrets in a backend that lives for one test run; public on purpose."""
DB_PASSWORD = "integration-test-only"  # must match backends.yaml
BACKENDS_NAMESPACE = "notification-delivery-it-backends"
"""Where backends.yaml runs the tests' Postgres."""


def run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """The end-to-end suite's `run`, with the command as arguments and a shorter timeout."""
    return engine.run(args, timeout=timeout, check=check)


def kubectl(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    # Always the kind context, never the caller's current one: this test creates and deletes
    # namespaces and must not do so on a shared cluster.
    return run("kubectl", "--context", CONTEXT, *args, timeout=timeout, check=check)


def kind_clusters() -> list[str]:
    return run("kind", "get", "clusters").stdout.split()


def backend_env(state: Path) -> dict[str, str]:
    """A file state backend in `state` that lives for one test, and its passphrase."""
    return {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


@contextlib.contextmanager
def local_stack(work_dir: Path, env_vars: Mapping[str, str]) -> Iterator[auto.Stack]:
    """The `local` stack of the program in `work_dir`, every required secret set to a local
    placeholder; destroyed and removed afterwards, whatever failed, so that no namespace is left
    behind for the next run to skip on."""
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), secrets_provider="passphrase", env_vars=dict(env_vars)
    )
    stack = auto.create_or_select_stack(STACK, work_dir=str(work_dir), opts=opts)
    for spec in CATALOG.values():
        for name in spec.required_secrets:
            value = DB_PASSWORD if name == "DB_PASS" else f"local-placeholder-{name.lower()}"
            stack.set_config(
                f"secrets.{spec.name}.{name}", auto.ConfigValue(value=value, secret=True), path=True
            )
    try:
        yield stack
    finally:
        with contextlib.suppress(auto.errors.CommandError):
            stack.destroy(color="never", on_output=print)
        with contextlib.suppress(auto.errors.CommandError):
            stack.workspace.remove_stack(STACK, force=True)
