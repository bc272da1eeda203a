"""The `Environment` component: one stack's namespace and what applies to all of its services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import PROJECT
from components.network import POSTGRES_PORT, network_policies
from components.settings import EnvironmentSettings

TIER_LABEL = "notification-delivery/tier"
"""`production` or `non-production`: which rule set the policy pack applies to the namespace."""
ALLOWED_SERVICE_TYPES_ANNOTATION = "notification-delivery/allowed-service-types"
POD_SECURITY_LEVEL = "restricted"


@dataclass(frozen=True)
class EnvironmentArgs:
    """Attributes:
    settings: the checked stack config of this environment.
    """

    settings: EnvironmentSettings


class Environment(pulumi.ComponentResource):
    """The namespace (named after the environment) with its guard rails.

    Pod Security `restricted` enforced; NetworkPolicies that deny by default; a ResourceQuota and a
    LimitRange; one ExternalName Service per database, so pods use stable in-cluster names.
    In a protected environment the namespace survives `pulumi destroy` and renames.
    """

    if TYPE_CHECKING:
        # For type checkers only: the SDK evaluates a component's class annotations at every
        # registration (pulumi/_types.py `resource_types`); see components/microservice.py.
        namespace: k8s.core.v1.Namespace
        namespace_name: pulumi.Output[str]
        network_policies: list[k8s.networking.v1.NetworkPolicy]
        quota: k8s.core.v1.ResourceQuota
        limit_range: k8s.core.v1.LimitRange
        databases: dict[str, k8s.core.v1.Service]
        """Database name to its ExternalName Service."""

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
            **{
                f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL
                for mode in ("enforce", "audit", "warn")
            },
            "pod-security.kubernetes.io/enforce-version": "latest",
        }
        annotations = {
            # Read by the policy pack, which sees objects, not stack config.
            ALLOWED_SERVICE_TYPES_ANNOTATION: ",".join(settings.allowed_service_types),
        }
        self.namespace = k8s.core.v1.Namespace(
            settings.environment,
            metadata={"name": settings.environment, "labels": labels, "annotations": annotations},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Deleting a namespace deletes everything in it: a protected environment needs
                # `pulumi state unprotect` first, and even then the namespace is left in place.
                protect=settings.protect,
                retain_on_delete=settings.protect,
            ),
        )
        self.namespace_name = self.namespace.metadata.apply(lambda m: m.name)
        child = pulumi.ResourceOptions(parent=self)
        common = {
            "app.kubernetes.io/part-of": PROJECT,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/instance": settings.prefix,
        }

        def meta(name: str) -> dict:
            return {"name": name, "namespace": self.namespace_name, "labels": common}

        self.network_policies = network_policies(settings, self.namespace_name, common, child)
        self.quota = k8s.core.v1.ResourceQuota(
            f"{settings.prefix}-quota",
            metadata=meta(f"{settings.prefix}-quota"),
            spec={"hard": dict(settings.quota)},
            opts=child,
        )
        limits = {"type": "Container"}
        keys = {"defaultRequest": "default_request", "default": "default", "max": "max"}
        for section, values in settings.limit_range.items():
            if values:
                limits[keys[section]] = dict(values)
        self.limit_range = k8s.core.v1.LimitRange(
            f"{settings.prefix}-limits",
            metadata=meta(f"{settings.prefix}-limits"),
            spec={"limits": [limits]},
            opts=child,
        )
        self.databases = {}
        for database, host in settings.external.database_hosts.items():
            name = settings.database_service_name(database)
            self.databases[database] = k8s.core.v1.Service(
                name,
                metadata=meta(name),
                spec={
                    "type": "ExternalName",
                    "external_name": host,
                    "ports": [{"name": "postgres", "port": POSTGRES_PORT, "protocol": "TCP"}],
                },
                opts=child,
            )
        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "databases": {db: svc.metadata.name for db, svc in self.databases.items()},
            }
        )
