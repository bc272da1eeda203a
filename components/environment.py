"""The `Environment` component: the namespace one stack deploys into."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import PROJECT
from components.settings import EnvironmentSettings


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
        }
        self.namespace = k8s.core.v1.Namespace(
            settings.environment,
            metadata={"name": settings.environment, "labels": labels},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace_name = self.namespace.metadata.apply(lambda m: m.name)
        self.register_outputs({"namespace": self.namespace_name})
