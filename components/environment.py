"""The `Environment` component: the namespace one stack deploys into."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import PROJECT
from components.settings import EnvironmentSettings

TIER_LABEL = "notification-delivery/tier"
"""`production` or `non-production`: which rule set the policy pack applies to the namespace."""
ALLOWED_SERVICE_TYPES_ANNOTATION = "notification-delivery/allowed-service-types"


@dataclass(frozen=True)
class EnvironmentArgs:
    """Attributes:
    settings: the checked stack config of this environment.
    """

    settings: EnvironmentSettings


class Environment(pulumi.ComponentResource):
    """One environment's namespace, named after the environment (`development`, `production`)."""

    namespace: k8s.core.v1.Namespace
    namespace_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("notification-delivery:index:Environment", name, None, opts)
        settings = args.settings
        labels = {
            # The original manifests labelled each namespace `name: <namespace>`; policies and
            # dashboards select on it.
            "name": settings.environment,
            "app.kubernetes.io/part-of": PROJECT,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/instance": settings.prefix,
            TIER_LABEL: "production" if settings.production else "non-production",
        }
        annotations = {
            # Read by the policy pack, which sees objects, not stack config.
            ALLOWED_SERVICE_TYPES_ANNOTATION: ",".join(settings.allowed_service_types),
        }
        self.namespace = k8s.core.v1.Namespace(
            settings.environment,
            metadata={
                "name": settings.environment,
                "labels": labels,
                "annotations": annotations,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace_name = self.namespace.metadata.apply(lambda m: m.name)
        self.register_outputs({"namespace": self.namespace_name})
