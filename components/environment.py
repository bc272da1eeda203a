"""The `Environment` component: one stack's namespace and what applies to all of its services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from components import labels, naming
from components.args import EnvironmentArgs
from components.network import POSTGRES_PORT, network_policies

if TYPE_CHECKING:
    from pulumi_kubernetes.core.v1 import LimitRangeItemArgsDict
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict


_LIMIT_RANGE_FIELDS = {"defaultRequest": "default_request", "default": "default", "max": "max"}


class Environment(pulumi.ComponentResource):
    """The namespace (named after the environment) with its guard rails.

    Pod Security `restricted` enforced; NetworkPolicies that deny by default; a ResourceQuota and a
    LimitRange; one ExternalName Service per database, so pods use stable in-cluster names.
    In a protected environment the namespace survives `pulumi destroy` and renames.
    """

    def __init__(
        self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("notification-delivery:index:Environment", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            args.environment,
            metadata={
                "name": args.environment,
                "labels": labels.namespace_labels(args.environment, args.prefix, args.production),
                "annotations": labels.namespace_annotations(args.allowed_service_types),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Deleting a namespace deletes everything in it: a protected environment needs
                # `pulumi state unprotect` first, and even then the namespace is left in place.
                protect=args.protect,
                retain_on_delete=args.protect,
            ),
        )
        self.namespace_name: pulumi.Output[str] = naming.name_of(self.namespace)
        child = pulumi.ResourceOptions(parent=self)
        common = labels.environment_labels(args.prefix)

        def meta(name: str) -> ObjectMetaArgsDict:
            return {"name": name, "namespace": self.namespace_name, "labels": common}

        self.network_policies = network_policies(
            args.prefix, args.network, self.namespace_name, common, child
        )
        self.quota = k8s.core.v1.ResourceQuota(
            naming.quota(args.prefix),
            metadata=meta(naming.quota(args.prefix)),
            spec={"hard": dict(args.quota)},
            opts=child,
        )
        limits: LimitRangeItemArgsDict = {"type": "Container"}
        for section, values in args.limit_range.items():
            if values:
                limits[_LIMIT_RANGE_FIELDS[section]] = dict(values)  # type: ignore[literal-required]
        self.limit_range = k8s.core.v1.LimitRange(
            naming.limit_range(args.prefix),
            metadata=meta(naming.limit_range(args.prefix)),
            spec={"limits": [limits]},
            opts=child,
        )
        self.databases: dict[str, k8s.core.v1.Service] = {}
        """Database name to its ExternalName Service."""
        for database, host in args.database_hosts.items():
            name = naming.database_service(args.prefix, database)
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
