"""Namespace-wide network isolation: deny everything, then allow what the system needs.

Per-service ingress allows live with each `Microservice`; these are the environment's own.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import PROJECT
from components.settings import EnvironmentSettings

DNS_PORT = 53
POSTGRES_PORT = 5432
HTTPS_PORT = 443


def _egress_to(cidrs: tuple[str, ...], port: int) -> dict[str, Any]:
    return {
        "to": [{"ip_block": {"cidr": cidr}} for cidr in cidrs],
        "ports": [{"port": port, "protocol": "TCP"}],
    }


def network_policies(
    settings: EnvironmentSettings,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """default-deny, DNS, PostgreSQL (5432) and HTTPS (443, AWS and Firebase APIs)."""
    ours = {"match_labels": {"app.kubernetes.io/part-of": PROJECT}}
    specs: dict[str, dict[str, Any]] = {
        "default-deny": {"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
        "allow-dns": {
            "pod_selector": {},
            "policy_types": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespace_selector": {
                                "match_labels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [
                        {"port": DNS_PORT, "protocol": "UDP"},
                        {"port": DNS_PORT, "protocol": "TCP"},
                    ],
                }
            ],
        },
        "allow-postgres": {
            "pod_selector": ours,
            "policy_types": ["Egress"],
            "egress": [_egress_to(settings.network.database_cidrs, POSTGRES_PORT)],
        },
        "allow-https": {
            "pod_selector": ours,
            "policy_types": ["Egress"],
            "egress": [_egress_to(settings.network.https_cidrs, HTTPS_PORT)],
        },
    }
    policies = []
    for suffix, spec in specs.items():
        name = f"{settings.prefix}-{suffix}"
        policies.append(
            k8s.networking.v1.NetworkPolicy(
                name,
                metadata={"name": name, "namespace": namespace, "labels": labels},
                spec=spec,
                opts=opts,
            )
        )
    return policies
