"""The pipeline's identities on a real API server, set up as docs/credentials.md says.

As the administrator: the two namespaces, then `tools.rbac dev` applied server-side. Then a token
minted for each ServiceAccount, a kubeconfig for each with the stack's pinned context, the
namespace imported as the reader, `pulumi up` and `pulumi destroy` as the deployer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.engine import VENV_BIN, Cluster, Project, run

NAMESPACE = "development"
PIPELINE = "notification-delivery-pipeline"
CONTEXT = "notification-delivery-dev"


def rendered_namespace(project: Project) -> dict:
    folder = project.dir.parent / "namespace-render"
    rendered = project.render(folder)
    return dict(rendered[("Namespace", NAMESPACE)])


def kubeconfig_for(cluster: Cluster, account: str, out: Path) -> Path:
    token = cluster.kubectl("create", "token", account, "-n", PIPELINE, "--duration=1h").stdout
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": cluster.server,
            "certificate-authority": str(cluster.dir / "pki" / "ca.crt")}}],
        "users": [{"name": account, "user": {"token": token.strip()}}],
        "contexts": [{"name": CONTEXT, "context": {
            "cluster": CONTEXT, "user": account, "namespace": NAMESPACE}}],
        "current-context": CONTEXT,
    }  # fmt: skip
    out.write_text(yaml.safe_dump(document))
    out.chmod(0o600)
    return out


@pytest.fixture(scope="module")
def identities(
    cluster: Cluster, make_project: Callable[..., Project], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Project, Path, Path]]:
    project = make_project("dev")
    for namespace in (PIPELINE, NAMESPACE):
        cluster.kubectl("create", "namespace", namespace)
    # docs/credentials.md step 1: the environment's namespace gets the render's Pod Security
    # labels when it is made; the admission policy requires them on every deployer write, the
    # provider's first (a managed-fields patch, before its apply) included.
    labels = rendered_namespace(project)["metadata"]["labels"]
    cluster.kubectl(
        "label", "namespace", NAMESPACE,
        *(f"{k}={v}" for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")),
    )  # fmt: skip
    rbac = run([VENV_BIN / "python", "-m", "tools.rbac", "dev", "-C", project.dir], cwd=project.dir)
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=notification-delivery-rbac", "-f", "-",
        stdin=rbac.stdout,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("identities")
    deployer = kubeconfig_for(cluster, "dev-deployer", folder / "deployer.kubeconfig")
    reader = kubeconfig_for(cluster, "dev-reader", folder / "reader.kubeconfig")
    try:
        yield project, deployer, reader
    finally:
        cluster.kubectl("delete", "namespace", PIPELINE, "--wait=false", check=False)


def test_the_deployer_deploys_after_the_reader_imports_the_namespace(
    identities: tuple[Project, Path, Path], cluster: Cluster
) -> None:
    project, deployer, reader = identities
    imports = run(
        [VENV_BIN / "python", "-m", "tools.rbac", "dev", "--namespace-import-file", "-C",
         project.dir], cwd=project.dir,
    ).stdout  # fmt: skip
    (project.dir / "import-dev.json").write_text(imports)
    project.kubeconfig = reader
    project.pulumi("import", "--file", "import-dev.json", "--generate-code=false", "--yes")
    project.kubeconfig = deployer
    project.up()
    deployments = cluster.items("deployments", NAMESPACE)
    assert len(deployments) == 3
    assert all(d["status"].get("availableReplicas") == d["spec"]["replicas"] for d in deployments)


def can_i(cluster: Cluster, kubeconfig: Path, *args: str) -> bool:
    result = cluster.kubectl("auth", "can-i", *args, kubeconfig=kubeconfig, check=False)
    return result.stdout.strip() == "yes"


def test_the_deployer_is_held_to_its_namespace_and_its_kinds(
    identities: tuple[Project, Path, Path], cluster: Cluster
) -> None:
    _, deployer, _ = identities
    assert can_i(cluster, deployer, "patch", "deployments.apps", "-n", NAMESPACE)
    assert not can_i(cluster, deployer, "get", "secrets", "-n", "kube-system")
    assert not can_i(cluster, deployer, "get", "secrets", "-n", PIPELINE)
    # Kinds the render does not contain.
    assert not can_i(
        cluster, deployer, "create", "roles.rbac.authorization.k8s.io", "-n", NAMESPACE
    )  # noqa: E501
    assert not can_i(cluster, deployer, "create", "daemonsets.apps", "-n", NAMESPACE)
    # And the API server itself refuses, not only the review.
    refused = cluster.kubectl(
        "create", "secret", "generic", "stolen", "-n", "kube-system", "--from-literal=a=b",
        kubeconfig=deployer, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()


def test_the_reader_checks_drift_and_cannot_write(
    identities: tuple[Project, Path, Path], cluster: Cluster
) -> None:
    project, _, reader = identities
    project.kubeconfig = reader
    drift = project.run("scripts/drift.sh", "dev", check=False)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert not can_i(cluster, reader, "patch", "deployments.apps", "-n", NAMESPACE)
    refused = cluster.kubectl(
        "scale", "deployment", "dev-event-service", "-n", NAMESPACE, "--replicas=2",
        kubeconfig=reader, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()


def test_the_deployer_destroys_what_it_deployed(
    identities: tuple[Project, Path, Path], cluster: Cluster
) -> None:
    project, deployer, _ = identities
    project.kubeconfig = deployer
    project.pulumi("destroy", "--yes")
    exported = json.loads(project.pulumi("stack", "export").stdout)
    assert not exported["deployment"].get("resources")
    if NAMESPACE in cluster.namespaces():  # a dev namespace is deleted, which takes a moment
        assert cluster.items("deployments", NAMESPACE) == []
