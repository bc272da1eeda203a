"""An environment drawn as a Mermaid flowchart, from its render, never by hand.

Every Kubernetes object is one node (`node_id(file name)`), and every edge comes from a reference
or selector in the objects themselves: a workload's `envFrom`, `env` and volume references and
its `serviceAccountName`; the ConfigMap values that name a Service of the namespace (`DB_HOST`)
or an AWS resource (SNS topic, SQS queue, DynamoDB table); a Service's selector, an Ingress's
backends, the NetworkPolicies that select the pods and whom they let in or out, an autoscaler's
target, a disruption budget's selector. A Secret shows its key names, never a value.

`environment_graph` takes the steps below in order, each in the module named for what it draws;
they share the `Picture` (`picture.py`). `python -m tools.diagram` is the command (`cli.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.diagram import destinations, layout, policies, scaling, traffic, workloads
from tools.diagram.objects import node_id
from tools.diagram.picture import Picture
from tools.mermaid import Diagram

__all__ = ["environment_diagram", "environment_graph", "node_id"]


def environment_graph(manifests: Mapping[str, Mapping[str, Any]], styled: bool = True) -> Diagram:
    """The environment as a `Diagram` to mark or add to: one node per manifest (`node_id`).

    `styled=False` leaves out the colours by role, for a picture that colours by change instead.
    """
    picture = Picture(manifests, styled)
    layout.groups(picture)
    workloads.namespaces(picture)
    workloads.workloads(picture)
    workloads.service_accounts(picture)
    workloads.config(picture)
    traffic.traffic(picture)
    destinations.named_services(picture)
    destinations.aws_resources(picture)
    policies.policies(picture)
    scaling.scaling(picture)
    layout.the_rest(picture)
    layout.tidy(picture)
    return picture.diagram


def environment_diagram(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """Mermaid source of the environment in `manifests` (file name to manifest, as rendered)."""
    return environment_graph(manifests).to_mermaid()
