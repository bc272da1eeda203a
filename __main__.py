"""One stack, one environment: its namespace and one Microservice per catalog service."""

from pathlib import Path

import pulumi

from components import Environment, EnvironmentArgs, Microservice, MicroserviceArgs
from components.config import from_pulumi_config

# Every check runs before the first resource is registered, so bad config creates nothing.
settings = from_pulumi_config(Path(__file__).resolve().parent)

environment = Environment(settings.prefix, EnvironmentArgs(settings=settings))

services = {
    service.name: Microservice(
        settings.object_name(service.name),
        MicroserviceArgs(
            service=service,
            environment=settings,
            namespace=environment.namespace_name,
        ),
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
