"""The program as a function: one environment's settings in, the resources it created out.

`run` is what `__main__.py` does under the engine and what the offline render does under the
mock runtime (`offline=True`): load the stack's config, call `deploy`, export `stack_outputs`.
The tests and the benchmark call `deploy` with settings of their own (a catalog of 300
services, a changed stack) instead of swapping module globals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.config import Loaded, from_pulumi_config
from components.environment import Environment, EnvironmentArgs
from components.microservice import Microservice, MicroserviceArgs
from components.settings import EnvironmentSettings


@dataclass(frozen=True)
class Deployed:
    """What `deploy` registered, for exports and for tests to inspect."""

    settings: EnvironmentSettings
    cluster: k8s.Provider
    """The one provider every Kubernetes object goes through (README "Which cluster...")."""
    environment: Environment
    services: Mapping[str, Microservice]
    """Catalog name to its component."""


def deploy(settings: EnvironmentSettings) -> Deployed:
    """Register the environment: its provider, namespace and guard rails, and every service."""
    # Built from the stack's pinned cluster; the default provider is disabled in each stack file
    # (`pulumi:disable-default-providers`), so the ambient kubectl context is never used. A fixed
    # cluster identifier keeps a kubeconfig change (new credentials, a renamed context) an update
    # of the provider, never a replacement of every object (pulumi-kubernetes DiffConfig).
    cluster = k8s.Provider(
        "cluster",
        context=settings.cluster.context if settings.cluster else None,
        cluster_identifier=naming.cluster_identifier(pulumi.get_project(), pulumi.get_stack()),
    )
    in_cluster = pulumi.ResourceOptions(providers=[cluster])
    environment = Environment(settings.prefix, EnvironmentArgs.of(settings), opts=in_cluster)
    services = {
        service.name: Microservice(
            naming.instance(settings.prefix, service.name),
            MicroserviceArgs.of(settings, service, environment.namespace_name),
            opts=in_cluster,
        )
        for service in settings.services
    }
    return Deployed(settings, cluster, environment, services)


def stack_outputs(deployed: Deployed) -> dict[str, Any]:
    """The stack's exports: names for people and scripts, and the release ledger's record."""
    services = deployed.services
    return {
        "namespace": deployed.environment.namespace_name,
        "services": {
            name: {
                "deployment": ms.deployment_name,
                "service": ms.service_name,
                "serviceDns": ms.service_dns,
                "image": ms.image_ref,
                "replicas": None if ms.settings.autoscaling else ms.settings.replicas,
                "autoscaling": (
                    {
                        "minReplicas": ms.settings.autoscaling.min_replicas,
                        "maxReplicas": ms.settings.autoscaling.max_replicas,
                    }
                    if ms.settings.autoscaling
                    else None
                ),
            }
            for name, ms in services.items()
        },
        # The release ledger: what this update deployed, read back by the deploy workflow into
        # the release tag, and by a rollback to say what it restores.
        "release": {
            "version": deployed.settings.version,
            "images": {name: ms.image_ref for name, ms in services.items()},
            "configMaps": {name: ms.config_map_name for name, ms in services.items()},
        },
    }


def run(project_dir: Path, *, offline: bool = False) -> Loaded:
    """Load the running stack's config, deploy it and export what it runs.

    `offline`: the offline render's mode (no cluster needed, a missing required secret stood in
    by `[secret]`); `pulumi up` never sets it. Every check runs before the first resource is
    registered, so bad config creates nothing.
    """
    loaded = from_pulumi_config(project_dir, offline=offline)
    for key, value in stack_outputs(deploy(loaded.settings)).items():
        pulumi.export(key, value)
    return loaded
