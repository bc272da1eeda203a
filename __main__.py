"""One stack, one environment: its namespace and one Microservice per catalog service."""

from pathlib import Path

from components.runtime import collect_less_under_engine

# Under `pulumi up`/`preview` the run builds one large heap and ends: no collection passes over
# it (under the tests' and the render's mock runtime this changes nothing).
collect_less_under_engine()

import pulumi  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402

from components import Environment, EnvironmentArgs, Microservice, MicroserviceArgs  # noqa: E402
from components.config import from_pulumi_config  # noqa: E402

# Every check runs before the first resource is registered, so bad config creates nothing.
settings = from_pulumi_config(Path(__file__).resolve().parent)

# Every Kubernetes object goes through this provider, built from the stack's pinned cluster; the
# default provider is disabled in each stack file (`pulumi:disable-default-providers`), so the
# ambient kubectl context is never used. A fixed cluster identifier keeps a kubeconfig change
# (new credentials, a renamed context) an update of the provider, never a replacement of every
# object (pulumi-kubernetes provider.go DiffConfig).
cluster = k8s.Provider(
    "cluster",
    context=settings.cluster.context if settings.cluster else None,
    cluster_identifier=f"{pulumi.get_project()}-{pulumi.get_stack()}",
)
in_cluster = pulumi.ResourceOptions(providers=[cluster])

environment = Environment(settings.prefix, EnvironmentArgs(settings=settings), opts=in_cluster)

services = {
    service.name: Microservice(
        settings.object_name(service.name),
        MicroserviceArgs(
            service=service,
            environment=settings,
            namespace=environment.namespace_name,
        ),
        opts=in_cluster,
    )
    for service in settings.services
}

pulumi.export("namespace", environment.namespace_name)
pulumi.export(
    "services",
    {
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
)
# The release ledger: what this update deployed, read back by the deploy workflow into the
# release tag, and by a rollback to say what it restores.
pulumi.export(
    "release",
    {
        "version": settings.version,
        "images": {name: ms.image_ref for name, ms in services.items()},
        "configMaps": {name: ms.config_map_name for name, ms in services.items()},
    },
)
