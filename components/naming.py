"""Every name the program gives an object, in one place.

Names carry the environment's prefix (`prod-notification-service`) so that two environments never
share one, and some carry a digest of their content, so that a change of content is a change of
name (and of whatever refers to it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import pulumi
    from pulumi_kubernetes.meta.v1.outputs import ObjectMeta

HASH_LENGTH = 10
LONGEST_SUFFIX = "-allow-ingress"
"""The longest suffix appended to `instance()`, in a NetworkPolicy's name: a DNS subdomain (253
characters), so only `instance()` itself, a Service name and a label value, must stay within 63."""


def instance(prefix: str, service: str) -> str:
    """A service's objects in one environment: Deployment, Service, ServiceAccount, ... ."""
    return f"{prefix}-{service}"


def content_hash(data: Mapping[str, str]) -> str:
    """A short, stable digest of a mapping (key order does not matter).

    Used like Kustomize's ConfigMap generator: the ConfigMap's name ends in this digest, so a
    changed variable gives a new ConfigMap, the Deployment's reference to it changes and the pods
    roll. Only ever applied to non-secret data: a digest of a secret would leak it to brute force.
    """
    canonical = json.dumps(dict(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def config_map(prefix: str, service: str, data: Mapping[str, str]) -> str:
    return f"{instance(prefix, service)}-{content_hash(data)}"


def ingress_policy(prefix: str, service: str) -> str:
    """The NetworkPolicy that lets the ingress controller reach one service."""
    return f"{instance(prefix, service)}{LONGEST_SUFFIX}"


def database_service(prefix: str, database: str) -> str:
    """The ExternalName Service pods use for a database (their `DB_HOST`)."""
    return f"{prefix}-{database}-db"


def quota(prefix: str) -> str:
    return f"{prefix}-quota"


def limit_range(prefix: str) -> str:
    return f"{prefix}-limits"


def network_policy(prefix: str, purpose: str) -> str:
    """An environment-wide NetworkPolicy: `default-deny`, `allow-dns`, ... ."""
    return f"{prefix}-{purpose}"


def image_tag(version: str, prefix: str) -> str:
    """The published images' tag: a release of one environment."""
    return f"{version}-{prefix}"


def published_image(registry: str, service: str, version: str, prefix: str) -> str:
    return f"{registry}/{service}:{image_tag(version, prefix)}"


def service_dns(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def cluster_identifier(project: str, stack: str) -> str:
    """The provider's `clusterIdentifier`: fixed per stack (see `components.program.deploy`)."""
    return f"{project}-{stack}"


def name_of(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """A Kubernetes object's `metadata.name` as the provider reports it (known in a preview too:
    the provider assigns generated names in Check)."""
    metadata = cast("pulumi.Output[ObjectMeta]", resource.metadata)  # type: ignore[attr-defined]
    return metadata.apply(lambda m: cast(str, m.name))
