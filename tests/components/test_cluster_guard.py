"""No deploy to the wrong cluster: a pinned context, an explicit provider, the default one off."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml

from components.config.cluster import cluster_problems, kubeconfig_paths, server_of
from components.config.errors import PREFIX
from components.config.model import Cluster
from tests.conftest import CountingMocks, stack_with_secrets
from tools.harness import run_program
from tools.render import render
from tools.stack_config import ROOT, committed_stacks

STACKS = committed_stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_pins_its_cluster_and_disables_the_default_provider(stack):
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert config["pulumi:disable-default-providers"] == ["kubernetes"]
    assert config["notification-delivery:cluster"]["context"]
    assert "kubernetes:context" not in config  # that key configures only the default provider


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_kubernetes_object_goes_through_the_stack_provider(stack):
    run = run_program(stack_with_secrets(stack))
    providers = [r for r in run.resources if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider.inputs["context"] == f"notification-delivery-{stack}"
    assert provider.inputs["clusterIdentifier"] == f"notification-delivery-{stack}"
    ref = f"{provider.urn}::{provider.urn.rsplit('::', 1)[-1]}-id"
    objects = run.kubernetes()
    assert objects
    assert {r.provider for r in objects} == {ref}


def test_up_refuses_a_stack_without_a_pinned_cluster():
    config = stack_with_secrets("dev")
    del config.values["cluster"]
    mocks = CountingMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_program(config, mocks=mocks)
    assert str(error.value) == PREFIX + (
        "cluster: is required: pin the stack's cluster with `pulumi config set --path "
        "cluster.context <kube context>`, so `pulumi up` never deploys to whichever cluster "
        "kubectl points at"
    )
    assert mocks.created == []


def test_the_offline_render_needs_no_cluster():
    config = stack_with_secrets("dev")
    del config.values["cluster"]
    result = render("dev", config=config)
    assert result.manifests


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "eks-prod", "cluster": {"server": server}}],
                "contexts": [
                    {"name": "notification-delivery-prod", "context": {"cluster": "eks-prod"}}
                ],
                "current-context": "somewhere-else",
            }
        )
    )
    return path


def test_a_context_that_points_at_another_api_server_is_refused(tmp_path: Path):
    paths = [_kubeconfig(tmp_path / "config", "https://10.9.9.9:6443")]
    pinned = Cluster(context="notification-delivery-prod", server="https://prod.example.com")
    assert cluster_problems(pinned, paths) == [
        "cluster.server: context 'notification-delivery-prod' points at https://10.9.9.9:6443, "
        "not at https://prod.example.com; refusing to deploy this stack to another cluster"
    ]


def test_the_pinned_server_and_context_pass(tmp_path: Path):
    paths = [_kubeconfig(tmp_path / "config", "https://prod.example.com/")]
    pinned = Cluster(context="notification-delivery-prod", server="https://prod.example.com")
    assert cluster_problems(pinned, paths) == []
    unpinned = Cluster(context="notification-delivery-prod", server=None)
    assert cluster_problems(unpinned, paths) == []


def test_a_context_missing_from_the_kubeconfig_is_refused(tmp_path: Path):
    paths = [_kubeconfig(tmp_path / "config", "https://prod.example.com")]
    (problem,) = cluster_problems(Cluster(context="notification-delivery-dev", server=None), paths)
    assert problem.startswith(
        "cluster.context: 'notification-delivery-dev' is not a context in the kubeconfig ("
    )


def test_kubeconfig_files_merge_first_wins_as_kubectl_does(tmp_path: Path):
    first = _kubeconfig(tmp_path / "a", "https://first.example.com")
    second = _kubeconfig(tmp_path / "b", "https://second.example.com")
    assert server_of("notification-delivery-prod", [first, second]) == "https://first.example.com"
    environ = {"KUBECONFIG": f"{first}:{second}"}
    assert kubeconfig_paths(environ) == [first, second]
    assert kubeconfig_paths({}) == [Path.home() / ".kube" / "config"]
