"""Namespace-wide network isolation: deny everything, then allow what the system needs.

Per-service ingress allows live with each `Microservice`; these are the environment's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from components import labels, naming
from components.config.model import Network

if TYPE_CHECKING:
    from pulumi_kubernetes.meta.v1 import LabelSelectorArgsDict
    from pulumi_kubernetes.networking.v1 import (
        NetworkPolicyEgressRuleArgsDict,
        NetworkPolicySpecArgsDict,
    )

DNS_PORT = 53
POSTGRES_PORT = 5432
HTTPS_PORT = 443


def _egress_to(cidrs: tuple[str, ...], port: int) -> NetworkPolicyEgressRuleArgsDict:
    return {
        "to": [{"ip_block": {"cidr": cidr}} for cidr in cidrs],
        "ports": [{"port": port, "protocol": "TCP"}],
    }


def network_policies(
    prefix: str,
    network: Network,
    namespace: pulumi.Input[str],
    common_labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """default-deny, DNS, PostgreSQL (5432) and HTTPS (443, AWS and Firebase APIs)."""
    ours: LabelSelectorArgsDict = {"match_labels": labels.part_of_selector()}
    specs: dict[str, NetworkPolicySpecArgsDict] = {
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
            "egress": [_egress_to(network.database_cidrs, POSTGRES_PORT)],
        },
        "allow-https": {
            "pod_selector": ours,
            "policy_types": ["Egress"],
            "egress": [_egress_to(network.https_cidrs, HTTPS_PORT)],
        },
    }
    policies = []
    for suffix, spec in specs.items():
        name = naming.network_policy(prefix, suffix)
        policies.append(
            k8s.networking.v1.NetworkPolicy(
                name,
                metadata={"name": name, "namespace": namespace, "labels": common_labels},
                spec=spec,
                opts=opts,
            )
        )
    return policies
