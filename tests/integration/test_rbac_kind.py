"""The pipeline's two identities (`python -m tools.rbac local`) on a real kind cluster.

What it proves with the real API server, CLI and Kubernetes provider, using nothing but the
ServiceAccounts' tokens (the kubeconfigs are built as docs/credentials.md builds them):

1. The API server authorizes what the deployer and the reader need and refuses the rest
   (`kubectl auth can-i` with each identity's own kubeconfig), and the admission policy stops
   the deployer from changing the namespace's Pod Security labels but admits the program's.
2. The bootstrap of docs/credentials.md works end to end: an administrator creates the namespace
   and applies the RBAC; the reader imports the namespace; the deployer runs `pulumi up`; the
   reader's `pulumi preview --refresh` sees what the deployer's sees, a reader preview of a
   change works (the provider falls back when its dry-run is forbidden), the reader's
   `pulumi up` is refused; the deployer's `pulumi destroy` removes the namespace.

It uses the cluster-scoped names `tools.rbac local` generates (ClusterRoles
`notification-delivery-local-*`) and deletes them afterwards: run it on the throw-away kind
cluster only, as the fixtures ensure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.catalog import CATALOG
from tests.integration.cluster import CONTEXT, NAMESPACE, kubectl
from tests.integration.test_kind_cluster import (  # noqa: F401 - fixtures
    DB_PASSWORD,
    PASSPHRASE,
    images,
    program,
)
from tools import rbac
from tools.render import render

pytestmark = pytest.mark.integration

STACK = "local"
IDENTITY_NAMESPACE = "notification-delivery-it-pipeline"
SELECTOR = "app.kubernetes.io/component=pipeline-credentials,app.kubernetes.io/instance=local"
PULUMI_TIMEOUT = 900
"""Longer than any rollout the stack waits for; a hang (say, a delete await that cannot watch)
fails the test instead of the CI job."""


def admin_apply(text: str, tmp: Path) -> None:
    path = tmp / "rbac.yaml"
    path.write_text(text)
    kubectl("apply", "--server-side", f"--field-manager={rbac.FIELD_MANAGER}", "-f", str(path))


def token_secret(name: str, timeout: float = 60) -> dict[str, str]:
    """The token controller fills the Secret's data shortly after it is created."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = kubectl("get", "secret", name, "-n", IDENTITY_NAMESPACE, "-o", "json").stdout
        data = json.loads(out).get("data") or {}
        if data.get("token") and data.get("ca.crt"):
            return data
        time.sleep(1)
    raise AssertionError(f"secret {name} got no token within {timeout}s")


def write_kubeconfig(path: Path, account: str) -> Path:
    """A kubeconfig holding only `account`'s token, under the context the stack pins."""
    server = kubectl(
        "config", "view", "--minify", "--raw", "-o", "jsonpath={.clusters[0].cluster.server}"
    ).stdout.strip()
    data = token_secret(f"{account}-token")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {"server": server, "certificate-authority-data": data["ca.crt"]},
            }
        ],
        "users": [{"name": account, "user": {"token": base64.b64decode(data["token"]).decode()}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": account, "namespace": NAMESPACE},
            }
        ],
        "current-context": CONTEXT,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def as_identity(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def can(kubeconfig: Path, verb: str, resource: str, namespace: str | None = NAMESPACE) -> bool:
    args = ["auth", "can-i", verb, resource]
    if namespace:
        args += ["-n", namespace]
    return as_identity(kubeconfig, *args).stdout.strip() == "yes"


@pytest.fixture
def identities(kind_cluster: str, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """An administrator's part of docs/credentials.md: the namespaces, the RBAC, two kubeconfigs."""
    result = render(STACK)
    objects = rbac.rbac_objects(result, identity_namespace=IDENTITY_NAMESPACE, token_secrets=True)
    text = rbac.to_yaml(objects, rbac.stack_namespace(result), IDENTITY_NAMESPACE)
    try:
        kubectl("create", "namespace", IDENTITY_NAMESPACE)
        kubectl("create", "namespace", NAMESPACE)
        admin_apply(text, tmp_path)
        yield {
            role: write_kubeconfig(tmp_path / f"{role}.kubeconfig", f"local-{role}")
            for role in ("deployer", "reader")
        }
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", timeout=300, check=False)
        kubectl("delete", "namespace", IDENTITY_NAMESPACE, "--ignore-not-found", check=False)
        kubectl(
            "delete",
            "clusterrole,clusterrolebinding,validatingadmissionpolicy,"
            "validatingadmissionpolicybinding",
            "-l",
            SELECTOR,
            check=False,
        )


def test_the_api_server_grants_what_each_identity_needs_and_nothing_else(
    identities: dict[str, Path],
) -> None:
    deployer, reader = identities["deployer"], identities["reader"]
    managed = [
        "configmaps", "secrets", "services", "serviceaccounts", "resourcequotas", "limitranges",
        "deployments.apps", "networkpolicies.networking.k8s.io",
    ]  # fmt: skip
    for resource in managed:
        for verb in ("create", "get", "list", "watch", "patch", "delete"):
            assert can(deployer, verb, resource), (verb, resource)
        assert not can(deployer, "update", resource), resource
        assert not can(deployer, "deletecollection", resource), resource
        assert can(reader, "get", resource), resource
        for verb in ("create", "patch", "delete", "watch"):
            assert not can(reader, verb, resource), (verb, resource)
    for resource in ("pods", "replicasets.apps", "persistentvolumeclaims", "endpoints", "events"):
        assert can(deployer, "list", resource) and can(deployer, "watch", resource), resource
        assert not can(deployer, "create", resource), resource
    for resource in ("pods", "replicasets.apps", "endpoints"):
        assert can(reader, "list", resource), resource
    assert can(deployer, "patch", f"namespaces/{NAMESPACE}", None)
    assert can(deployer, "delete", f"namespaces/{NAMESPACE}", None)
    assert can(reader, "get", f"namespaces/{NAMESPACE}", None)
    refused = [
        (deployer, "create", "namespaces", None),
        (deployer, "delete", "namespaces/kube-system", None),
        (deployer, "get", "secrets", "kube-system"),
        (deployer, "list", "secrets", "default"),
        (deployer, "create", "pods", NAMESPACE),
        (deployer, "create", "pods/exec", NAMESPACE),
        (deployer, "get", "pods/log", NAMESPACE),
        (deployer, "create", "serviceaccounts/token", NAMESPACE),
        (deployer, "create", "rolebindings.rbac.authorization.k8s.io", NAMESPACE),
        (deployer, "get", "secrets", IDENTITY_NAMESPACE),
        (reader, "list", "secrets", NAMESPACE),
        (reader, "get", "secrets", "kube-system"),
        (reader, "list", "namespaces", None),
    ]
    for kubeconfig, verb, resource, namespace in refused:
        assert not can(kubeconfig, verb, resource, namespace), (kubeconfig.name, verb, resource)


def test_the_deployer_cannot_lift_pod_security(identities: dict[str, Path], tmp_path: Path):
    deployer = identities["deployer"]
    namespace = next(
        m for m in render(STACK).manifests.values() if m["kind"] == "Namespace"
    )  # the program's own, with its Pod Security labels
    manifest = tmp_path / "namespace.yaml"
    manifest.write_text(yaml.safe_dump(namespace))
    # The policy takes a moment to be loaded after it is created.
    deadline = time.monotonic() + 60
    while True:
        lifted = as_identity(
            deployer, "label", "namespace", NAMESPACE, "--overwrite", "--dry-run=server",
            "pod-security.kubernetes.io/enforce=privileged",
        )  # fmt: skip
        if lifted.returncode != 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert lifted.returncode != 0, "the deployer relabelled its namespace privileged"
    assert "pod-security" in lifted.stderr, lifted.stderr
    applied = as_identity(
        deployer, "apply", "--server-side", "--dry-run=server", "--field-manager=pulumi-kubernetes",
        "-f", str(manifest),
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr


# --- the whole bootstrap with the Pulumi CLI ---------------------------------------------------


@pytest.fixture
def pulumi_env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
    )
    return env


def pulumi(
    work_dir: Path, env: dict[str, str], kubeconfig: Path | None, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    run_env = dict(env)
    if kubeconfig is not None:
        run_env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run(
        ["pulumi", *args, "--stack", STACK, "--non-interactive", "--color", "never"],
        cwd=work_dir,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=PULUMI_TIMEOUT,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"pulumi {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def namespace_uid() -> str:
    return kubectl("get", "namespace", NAMESPACE, "-o", "jsonpath={.metadata.uid}").stdout


def summary(done: subprocess.CompletedProcess) -> dict[str, int]:
    """The non-`same` counts of a `--json` preview."""
    steps = json.loads(done.stdout).get("changeSummary", {})
    return {op: n for op, n in steps.items() if op != "same" and n}


def test_bootstrap_up_drift_check_and_destroy_with_the_two_identities(
    identities: dict[str, Path],
    images: None,  # noqa: F811 - the fixtures imported above
    program: Path,  # noqa: F811
    pulumi_env: dict[str, str],
    tmp_path: Path,
) -> None:
    deployer, reader = identities["deployer"], identities["reader"]
    pulumi(program, pulumi_env, None, "stack", "init", "--secrets-provider", "passphrase")
    try:
        for spec in CATALOG.values():
            for name in spec.required_secrets:
                value = DB_PASSWORD if name == "DB_PASS" else f"local-placeholder-{name.lower()}"
                pulumi(
                    program, pulumi_env, None,
                    "config", "set", "--secret", "--path", f"secrets.{spec.name}.{name}", value,
                )  # fmt: skip

        # The namespace exists (the administrator made it): adopt it, with the reader's token.
        uid = namespace_uid()
        import_file = tmp_path / "import.json"
        document = rbac.namespace_import_file(render(STACK, root=program))
        import_file.write_text(json.dumps(document))
        pulumi(
            program, pulumi_env, reader,
            "import", "--file", str(import_file), "--yes", "--generate-code=false",
        )  # fmt: skip

        pulumi(program, pulumi_env, deployer, "up", "--yes", "--skip-preview")
        live = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)
        assert live["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert namespace_uid() == uid, "the import and the first update must not replace it"

        # The drift check: the reader sees exactly what the deployer sees.
        seen = {
            name: summary(pulumi(program, pulumi_env, kubeconfig, "preview", "--refresh", "--json"))
            for name, kubeconfig in (("deployer", deployer), ("reader", reader))
        }
        assert seen["reader"] == seen["deployer"], seen
        refreshed = pulumi(program, pulumi_env, reader, "refresh", "--preview-only", "--yes")
        assert "forbidden" not in (refreshed.stdout + refreshed.stderr).lower()

        # A change: the reader can preview it (no server-side dry-run), not apply it.
        pulumi(program, pulumi_env, None, "config", "set", "--path",
               "services.reminder-service.env.LOG_LEVEL", "debug")  # fmt: skip
        previewed = summary(pulumi(program, pulumi_env, reader, "preview", "--json"))
        assert previewed == {"replace": 1, "update": 1}, previewed
        refused = pulumi(program, pulumi_env, reader, "up", "--yes", "--skip-preview", check=False)
        assert refused.returncode != 0
        assert "forbidden" in (refused.stdout + refused.stderr).lower()

        # The delete await watches namespaces cluster-wide: without that grant this would hang.
        pulumi(program, pulumi_env, deployer, "destroy", "--yes", "--skip-preview")
        assert kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            # Whatever failed above, leave no stack objects behind (admin credentials).
            pulumi(program, pulumi_env, None, "destroy", "--yes", "--skip-preview", check=False)
        pulumi(program, pulumi_env, None, "stack", "rm", "--yes", "--force", check=False)
