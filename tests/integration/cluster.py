"""Names and command helpers shared by the integration tests and their fixtures."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "notification-delivery"
CONTEXT = f"kind-{CLUSTER}"
"""kind names a cluster's kubeconfig context `kind-<cluster>`; Pulumi.local.yaml pins it."""
NAMESPACE = "local"
REQUIRED_TOOLS = ("pulumi", "kind", "kubectl", "docker")
CREATE_ENV = "NOTIFICATION_DELIVERY_KIND"


def run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command and capture its text output; a failure shows the command's stderr."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def kubectl(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    # Always the kind context, never the caller's current one: this test creates and deletes
    # namespaces and must not do so on a shared cluster.
    return run("kubectl", "--context", CONTEXT, *args, timeout=timeout, check=check)


def kind_clusters() -> list[str]:
    return run("kind", "get", "clusters").stdout.split()
