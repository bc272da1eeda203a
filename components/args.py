"""What each component takes: `EnvironmentArgs` and `MicroserviceArgs`, and their parts.

The second of the config's two shapes (the first is the validated model,
`components.config.model`): `components.config.resolution` fills them from a validated model
and the catalog, as a pure function. They carry no defaults of their own; every default is
declared once, in the model. Network, ingress, rollout, probe timings and autoscaling are the
validated model's own (frozen) sections. Each component's args carry only what that component
needs, never another service's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.catalog import ServiceSpec
from components.config.model import Autoscaling, Ingress, Network, ProbeTiming, Rollout


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
class EnvironmentArgs:
    """What the `Environment` needs, and nothing of the services (not their secrets).

    Attributes:
        environment: the environment's name, which is also its namespace's.
        prefix: the prefix of every other object's name (`prod`).
        production: the policy pack's production rules apply (the namespace's tier label).
        protect: the namespace survives `pulumi destroy` and renames.
        allowed_service_types: Service types its services may use (read by the policy pack).
        quota: the namespace's ResourceQuota `hard`.
        limit_range: `defaultRequest`, `default` and `max` of its container LimitRange, each
            resource to its quantity.
        database_hosts: database name to the endpoint its ExternalName Service points at.
        network: where pods may connect (databases, HTTPS).
    """

    environment: str
    prefix: str
    production: bool
    protect: bool
    allowed_service_types: tuple[str, ...]
    quota: Mapping[str, str]
    limit_range: Mapping[str, Mapping[str, str]]
    database_hosts: Mapping[str, str]
    network: Network


@dataclass(frozen=True)
class MicroserviceArgs:
    """What one `Microservice` needs: one catalog service as this environment runs it, and
    nothing of the other services (not their secrets).

    Attributes:
        spec: the catalog's entry.
        namespace: the namespace's name; `components.program.deploy` passes the Namespace's
            output instead, so that the namespace is created first.
        prefix: the environment's name prefix (`prod`).
        version: the release; the published image's tag is `{version}-{prefix}`.
        registry: where published images live and built ones are pushed.
        rollout: rollout timing and whether `pulumi up` waits for it.
        network: who may reach the service (the ingress controller's namespace, node ports).
        ingress: the environment's Ingress settings (host, class, TLS).
        node_port: a fixed node port for a NodePort Service (a kind cluster maps it to the host).
    """

    spec: ServiceSpec
    namespace: pulumi.Input[str]
    prefix: str
    version: str
    registry: RegistrySettings
    rollout: Rollout
    network: Network
    ingress: Ingress
    replicas: int
    env: Mapping[str, str]
    secrets: Mapping[str, Sensitive]
    probes: ProbeSettings
    resources: ResourceSettings
    build: BuildSettings | None
    image: str | None
    service_type: str
    image_pull_policy: str
    autoscaling: Autoscaling | None
    iam_role_arn: str | None
    ingress_path: str | None
    node_port: int | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def min_replicas(self) -> int:
        """The fewest pods that run: what a PodDisruptionBudget has to protect."""
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas
