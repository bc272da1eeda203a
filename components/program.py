"""The program as a function: one loaded stack in, the resources it created out.

`run` is what `__main__.py` does under the engine and what the offline render does under the
mock runtime (`offline=True`): load the stack's config, call `deploy`, export `stack_outputs`.
The tests and the benchmark call `deploy` with a stack loaded their own way (a catalog of 300
services, a changed stack) instead of swapping module globals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.config import Loaded, from_pulumi_config
from components.environment import Environment
from components.microservice import Microservice


@dataclass(frozen=True)
class Deployed:
    """What `deploy` registered, for exports and for tests to inspect."""

    loaded: Loaded
    cluster: k8s.Provider
    """The one provider every Kubernetes object goes through (docs/safety.md, "Which cluster")."""
    environment: Environment
    services: Mapping[str, Microservice]
    """Catalog name to its component."""


def deploy(loaded: Loaded) -> Deployed:
    """Register the environment: its provider, namespace and guard rails, and every service."""
    # Built from the stack's pinned cluster; the default provider is disabled in each stack file
    # (`pulumi:disable-default-providers`), so the ambient kubectl context is never used. A fixed
    # cluster identifier keeps a kubeconfig change (new credentials, a renamed context) an update
    # of the provider, never a replacement of every object (pulumi-kubernetes DiffConfig).
    pinned = loaded.config.cluster
    cluster = k8s.Provider(
        "cluster",
        context=pinned.context if pinned else None,
        cluster_identifier=naming.cluster_identifier(pulumi.get_project(), pulumi.get_stack()),
    )
    in_cluster = pulumi.ResourceOptions(providers=[cluster])
    prefix = loaded.environment.prefix
    environment = Environment(prefix, loaded.environment, opts=in_cluster)
    # Each service's objects go into the namespace through its output, so it is created first.
    services = {
        args.name: Microservice(
            naming.instance(prefix, args.name),
            dataclasses.replace(args, namespace=environment.namespace_name),
            opts=in_cluster,
        )
        for args in loaded.services
    }
    return Deployed(loaded, cluster, environment, services)


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
                "replicas": None if ms.args.autoscaling else ms.args.replicas,
                "autoscaling": (
                    {
                        "minReplicas": ms.args.autoscaling.min_replicas,
                        "maxReplicas": ms.args.autoscaling.max_replicas,
                    }
                    if ms.args.autoscaling
                    else None
                ),
            }
            for name, ms in services.items()
        },
        # The release ledger: what this update deployed, read back by the deploy workflow into
        # the release tag, and by a rollback to say what it restores.
        "release": {
            "version": deployed.loaded.config.version,
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
    for key, value in stack_outputs(deploy(loaded)).items():
        pulumi.export(key, value)
    return loaded
