"""What the components build from: one environment's checked config, resolved against the catalog.

These types carry no defaults of their own: every default is declared once, in
`components.config.model`, and `components.config.loading` fills these from a validated model (the
catalog's defaults merged in, derived names and variables worked out). Network, ingress, rollout,
probe timings and autoscaling are the validated config's own (frozen) model sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.catalog import ServiceSpec
from components.config.model import Autoscaling, Cluster, Ingress, Network, ProbeTiming, Rollout

__all__ = [
    "Autoscaling",
    "Ingress",
    "Network",
    "Rollout",
    "BuildSettings",
    "Cluster",
    "EnvironmentSettings",
    "ExternalSettings",
    "ProbeSettings",
    "ProbeTiming",
    "RegistrySettings",
    "ResourceSettings",
    "Sensitive",
    "ServiceSettings",
]


@dataclass(frozen=True)
class Sensitive:
    """A secret value in transit from config to a Pulumi secret; never shows in a repr."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "[secret]"


@dataclass(frozen=True)
class RegistrySettings:
    server: str
    username: str | None
    password: Sensitive | None


@dataclass(frozen=True)
class ExternalSettings:
    """The AWS services outside the cluster (the seed's "Interaction with external services")."""

    database_hosts: Mapping[str, str]
    """Database name to its RDS endpoint; each becomes an ExternalName Service."""
    aws: Mapping[str, str]
    """`AWS_VARIABLES` keys to their values (topic ARN, queue URLs, table name)."""


@dataclass(frozen=True)
class BuildSettings:
    """Build the image from source instead of deploying the published one."""

    context: str
    dockerfile: str | None
    platform: str | None


@dataclass(frozen=True)
class ProbeSettings:
    """HTTP GET on `path` or, with no path, a TCP check, all three on the service's own port
    (`spec.port`: the stack may only confirm it, never change it)."""

    path: str | None
    timings: Mapping[str, ProbeTiming]
    """`startup`, `readiness` and `liveness`."""


@dataclass(frozen=True)
class ResourceSettings:
    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class ServiceSettings:
    """One catalog service as this environment runs it."""

    spec: ServiceSpec
    replicas: int
    env: Mapping[str, str]
    secrets: Mapping[str, Sensitive]
    probes: ProbeSettings
    resources: ResourceSettings
    build: BuildSettings | None
    image: str | None
    service_type: str
    image_pull_policy: str | None
    """None: `IfNotPresent` for a digest, `Always` for a tag (tags are re-pushed per commit)."""
    autoscaling: Autoscaling | None
    iam_role_arn: str | None
    ingress_path: str | None
    node_port: int | None
    """A fixed node port for a NodePort Service (a kind cluster maps it to the host)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def min_replicas(self) -> int:
        """The fewest pods that run: what a PodDisruptionBudget has to protect."""
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas


@dataclass(frozen=True)
class EnvironmentSettings:
    """Everything one stack (one environment) deploys."""

    environment: str
    prefix: str
    version: str
    cluster: Cluster | None
    """None only in an offline render, which reaches no cluster."""
    registry: RegistrySettings
    services: tuple[ServiceSettings, ...]
    production: bool
    """Production rules apply (protect, 2+ replicas)."""
    protect: bool
    """Guard the namespace against `pulumi destroy` and renames."""
    allowed_service_types: tuple[str, ...]
    external: ExternalSettings
    network: Network
    ingress: Ingress
    quota: Mapping[str, str]
    limit_range: Mapping[str, Mapping[str, str]]
    """`defaultRequest`, `default` and `max`, each resource to its quantity."""
    rollout: Rollout
