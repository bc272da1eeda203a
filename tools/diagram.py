"""Draw an environment as a Mermaid flowchart: `python -m tools.diagram STACK [--out FILE]`.

The picture is built from the render (`tools.render.render(stack).manifests`), never by hand.
Every Kubernetes object is one node (`node_id(file name)`), and every edge comes from a reference
or selector in the objects themselves: a workload's `envFrom`, `env` and volume references and
its `serviceAccountName`; the ConfigMap values that name a Service of the namespace (`DB_HOST`)
or an AWS resource (SNS topic, SQS queue, DynamoDB table); a Service's selector, an Ingress's
backends, the NetworkPolicies that select the pods and whom they let in or out, an autoscaler's
target, a disruption budget's selector. A Secret shows its key names, never a value.

`--write-docs` rewrites docs/environments.md with the diagram of every stack that has a
`Pulumi.<stack>.yaml` in the project folder; `--check-docs` says whether that file is current.

Exit codes: 0 written (with --check-docs: the file is current); 1 --check-docs found
docs/environments.md stale; 2 bad arguments, project, stack file or config (one line on stderr).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.conventions import TIER_LABEL
from tools.mermaid import Diagram, Shape, safe_id
from tools.stack_config import ROOT, StackFileError, add_project_dir, committed_stacks

ROLE_CLASSES: Mapping[str, str] = {
    "workload": "fill:#dbe9ff,stroke:#2f5f9e,color:#0d2344",
    "config": "fill:#f4f4f4,stroke:#777777,color:#222222",
    "secret": "fill:#fdf3d0,stroke:#9a7a12,color:#2e2400",
    "traffic": "fill:#e0f3e4,stroke:#3b7d4a,color:#10301a",
    "policy": "fill:#ffffff,stroke:#8a5a9e,stroke-dasharray:4 3,color:#3a1f47",
    "outside": "fill:#fff0e0,stroke:#b86b1d,color:#3b1f00",
}
"""The environment picture's colours, by what a node is; `styled=False` leaves them out."""

AWS_RESOURCE_KINDS: Mapping[str, str] = {
    "EVENT_TOPIC_ARN": "SNS topic",
    "EVENT_QUEUE_URL": "SQS queue",
    "NOTIFICATION_QUEUE_URL": "SQS queue",
    "EVENT_STORE": "DynamoDB table",
}
"""What each AWS variable of the catalog (`components.catalog.AWS_VARIABLES`) holds.

A value is recognised by its form first (an ARN, an SQS queue URL), so a new variable holding one
of those is drawn without an entry here; a bare name (a DynamoDB table's) needs its entry.
"""

DATABASE_NAME_VARIABLE = "DB_NAME"
HTTPS_PORT = 443
"""The AWS APIs are HTTPS: an egress rule to this port is the way out to them."""
# Kinds whose name the provider completes with a random suffix when it creates the object. The
# render's suffix is the mock's stand-in (tools/harness.py), so the picture shows `<logical>-*`.
AUTO_NAMED_KINDS = frozenset({"Secret"})
# Where each workload kind keeps its pod template.
_POD_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_SQS_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d+)/([^/?#]+)$")
_ARN = re.compile(r"^arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):(\d*):(.+)$")
_ARN_SERVICES = {"sns": "SNS topic", "sqs": "SQS queue", "dynamodb": "DynamoDB table"}

DOCS_FILE = Path("docs") / "environments.md"


def node_id(file_name: str) -> str:
    """The node that stands for the manifest `file_name` (a key of `Render.manifests`)."""
    return safe_id(file_name.removesuffix(".yaml"))


# --- reading the manifests ---------------------------------------------------------------------


@dataclass
class _Object:
    file: str
    manifest: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.manifest.get("metadata") or {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str | None:
        return self.meta.get("namespace")

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.manifest.get("spec") or {}

    @property
    def id(self) -> str:
        return node_id(self.file)

    @property
    def title(self) -> str:
        name = self.name
        if self.kind in AUTO_NAMED_KINDS:
            logical = self.file.removesuffix(".yaml").removeprefix(f"{self.kind.lower()}-")
            if name.startswith(f"{logical}-"):
                name = f"{logical}-*"
        return f"{self.kind} {name}"

    def key_names(self) -> list[str]:
        """A ConfigMap's or Secret's keys; never the values."""
        keys = set()
        for section in ("data", "stringData", "binaryData"):
            keys.update(self.manifest.get(section) or {})
        return sorted(keys)


@dataclass(eq=False)  # one per workload: compared and hashed by identity
class _Workload:
    obj: _Object
    group: str
    template: Mapping[str, Any]
    refs: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, name, how) of each ConfigMap and Secret the pods read."""
    values: dict[str, str] = field(default_factory=dict)
    """Every variable the containers see with a plain value (ConfigMaps via envFrom, env)."""

    @property
    def pod_labels(self) -> Mapping[str, str]:
        return _dig(self.template, "metadata", "labels") or {}

    @property
    def pod_spec(self) -> Mapping[str, Any]:
        return self.template.get("spec") or {}


@dataclass
class _Peer:
    """One `from` or `to` entry of a NetworkPolicy rule."""

    id: str
    text: str
    namespace: str | None = None
    cidr: str | None = None


def _dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against one object's labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        present, values = key in labels, expression.get("values") or []
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _selects_all(selector: Mapping[str, Any] | None) -> bool:
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")


def _labels_text(selector: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in ((selector or {}).get("matchLabels") or {}).items())


def _wrap(items: Iterable[str], per_line: int = 3) -> list[str]:
    items = list(items)
    return [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]


def _ports(ports: Iterable[Mapping[str, Any]] | None) -> str:
    if not ports:
        return "any port"
    by_port: dict[str, list[str]] = {}
    for port in ports:
        by_port.setdefault(str(port.get("port", "any")), []).append(port.get("protocol", "TCP"))
    return ", ".join(f":{port} {'/'.join(protocols)}" for port, protocols in by_port.items())


def _peer(peer: Mapping[str, Any], policy_namespace: str | None) -> _Peer:
    """An empty peer stands for a rule without `from` or `to`: any address at all."""
    if not peer:
        return _Peer("peer_anywhere", "anywhere", cidr="0.0.0.0/0")
    if "ipBlock" in peer:
        cidr = str(peer["ipBlock"].get("cidr"))
        text = f"addresses {cidr}"
        if peer["ipBlock"].get("except"):
            text += f" except {', '.join(peer['ipBlock']['except'])}"
        return _Peer(safe_id("peer", text), text, cidr=cidr)
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        namespace, where = policy_namespace, f"namespace {policy_namespace}"
    else:
        namespace = (namespace_selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        where = (
            f"namespace {namespace}"
            if namespace
            else f"namespaces {_labels_text(namespace_selector) or 'all'}"
        )
        namespace = namespace or "*"
    pods = _labels_text(peer.get("podSelector"))
    text = f"pods {pods} in {where}" if pods else f"{where}, all pods"
    return _Peer(safe_id("peer", where, pods), text, namespace=namespace)


def _aws_resource(variable: str, value: str) -> tuple[str, str, str] | None:
    """(kind, short name, region and account) of the AWS resource a value names, else None."""
    sqs = _SQS_URL.match(value)
    if sqs:
        region, account, name = sqs.groups()
        return "SQS queue", name, f"{region} · {account}"
    arn = _ARN.match(value)
    if arn:
        service, region, account, resource = arn.groups()
        name = resource.split("/", 1)[-1] if "/" in resource else resource.split(":")[-1]
        where = " · ".join(part for part in (region, account) if part)
        return _ARN_SERVICES.get(service, f"AWS {service}"), name, where
    if variable in AWS_RESOURCE_KINDS and value:
        return AWS_RESOURCE_KINDS[variable], value, ""
    return None


def _ingress_routes(ingress: _Object, service: str) -> list[str]:
    routes = []
    if _dig(ingress.spec, "defaultBackend", "service", "name") == service:
        routes.append("default backend")
    for rule in ingress.spec.get("rules") or []:
        for path in _dig(rule, "http", "paths") or []:
            if _dig(path, "backend", "service", "name") == service:
                routes.append(f"{rule.get('host', '*')}{path.get('path', '/')}")
    return routes


# --- the environment picture -------------------------------------------------------------------


class _Builder:
    """Lays the picture out left to right: who may call in, the namespace, what it calls out to."""

    def __init__(self, manifests: Mapping[str, Mapping[str, Any]], styled: bool) -> None:
        self.objects = [_Object(f, m) for f, m in manifests.items()]
        self.diagram = Diagram(class_defs=dict(ROLE_CLASSES) if styled else {})
        self.styled = styled
        self.drawn: set[str] = set()
        self.workloads: list[_Workload] = []

    def build(self) -> Diagram:
        # Groups first, in the order they should be written: callers, namespaces, destinations.
        self.diagram.add_group("callers", "let in by NetworkPolicies")
        namespaces = {o.namespace for o in self.objects if o.namespace}
        namespaces.update(o.name for o in self.of_kind("Namespace"))
        for namespace in sorted(namespaces):
            group = self.diagram.add_group(safe_id("ns", namespace), f"namespace {namespace}")
            self.diagram.add_group(safe_id("ns", namespace, "shared"), "namespace-wide", group)
        self.diagram.add_group("beyond", "what the pods call")
        self.diagram.add_group("cluster", "cluster services", "beyond")
        self.diagram.add_group("databases", "PostgreSQL (ExternalName targets)", "beyond")
        self.diagram.add_group("aws", "AWS (named in ConfigMaps)", "beyond")

        for obj in self.of_kind("Namespace"):
            labels = obj.meta.get("labels") or {}
            lines = []
            if "pod-security.kubernetes.io/enforce" in labels:
                lines.append(f"Pod Security {labels['pod-security.kubernetes.io/enforce']}")
            if TIER_LABEL in labels:
                lines.append(f"tier {labels[TIER_LABEL]}")
            self.node(obj, lines, self.shared(obj.name), "config", "subroutine")
        for obj in self.of_kind(*_POD_TEMPLATE_PATHS):
            self.add_workload(obj)
        self.service_accounts()
        self.config()
        for workload in self.workloads:
            self.traffic(workload)
        self.named_services()
        self.aws()
        self.policies()
        self.scaling()
        self.the_rest()
        self.tidy()
        return self.diagram

    # helpers

    def of_kind(self, *kinds: str) -> list[_Object]:
        return [o for o in self.objects if o.kind in kinds]

    def find(self, kind: str, name: Any, namespace: str | None) -> _Object | None:
        for obj in self.objects:
            if obj.kind == kind and obj.name == name and obj.namespace == namespace:
                return obj
        return None

    def shared(self, namespace: str | None) -> str | None:
        return safe_id("ns", namespace, "shared") if namespace else None

    def home(self, users: Sequence[_Workload], namespace: str | None) -> str | None:
        """The group of the one workload that uses an object, else the namespace-wide group."""
        return users[0].group if len(users) == 1 else self.shared(namespace)

    def node(
        self, obj: _Object, lines: Sequence[str], group: str | None, role: str, shape: Shape = "box"
    ) -> str:
        self.drawn.add(obj.file)
        css = role if self.styled else None
        return self.diagram.add_node(obj.id, [obj.title, *lines], shape, group, css)

    def outside(self, id: str, lines: Sequence[str], group: str | None, shape: Shape) -> str:
        css = "outside" if self.styled else None
        return self.diagram.add_node(id, lines, shape, group, css)

    def selected(
        self, selector: Mapping[str, Any] | None, namespace: str | None
    ) -> list[_Workload]:
        return [
            w
            for w in self.workloads
            if w.obj.namespace == namespace and _selects(selector, w.pod_labels)
        ]

    def owner(self, policy: _Object) -> _Workload | None:
        """The one workload a NetworkPolicy is about; None for one meant for every pod."""
        selector = policy.spec.get("podSelector")
        selected = self.selected(selector, policy.namespace)
        return selected[0] if len(selected) == 1 and not _selects_all(selector) else None

    # the steps, in the order `build` takes them

    def add_workload(self, obj: _Object) -> None:
        template = _dig(obj.manifest, *_POD_TEMPLATE_PATHS[obj.kind]) or {}
        app = (obj.meta.get("labels") or {}).get("app.kubernetes.io/name") or obj.name
        parent = safe_id("ns", obj.namespace) if obj.namespace else None
        group = self.diagram.add_group(safe_id("app", obj.id), app, parent)
        workload = _Workload(obj, group, template)
        spec = workload.pod_spec
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            for source in container.get("envFrom") or []:
                if "configMapRef" in source:
                    name = source["configMapRef"].get("name")
                    workload.refs.append(("ConfigMap", name, "envFrom"))
                    config_map = self.find("ConfigMap", name, obj.namespace)
                    data = config_map.manifest.get("data") if config_map else None
                    workload.values.update({k: v for k, v in (data or {}).items()})
                if "secretRef" in source:
                    workload.refs.append(("Secret", source["secretRef"].get("name"), "envFrom"))
            for variable in container.get("env") or []:
                name, value_from = variable.get("name"), variable.get("valueFrom") or {}
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if key in value_from:
                        workload.refs.append((kind, value_from[key].get("name"), f"env {name}"))
                if isinstance(variable.get("value"), str):
                    workload.values[str(name)] = variable["value"]
        for volume in spec.get("volumes") or []:
            if "configMap" in volume:
                workload.refs.append(("ConfigMap", volume["configMap"].get("name"), "volume"))
            if "secret" in volume:
                workload.refs.append(("Secret", volume["secret"].get("secretName"), "volume"))
        self.workloads.append(workload)

        images = [c.get("image", "") for c in spec.get("containers") or []]
        lines = [image.rsplit("/", 1)[-1] for image in images]
        if any(
            _dig(h.spec, "scaleTargetRef", "kind") == obj.kind
            and _dig(h.spec, "scaleTargetRef", "name") == obj.name
            for h in self.of_kind("HorizontalPodAutoscaler")
            if h.namespace == obj.namespace
        ):
            lines.append("replicas set by the autoscaler")
        elif obj.spec.get("replicas") is not None:
            lines.append(f"replicas {obj.spec['replicas']}")
        self.node(obj, lines, group, "workload", "rounded")

    def service_accounts(self) -> None:
        for account in self.of_kind("ServiceAccount"):
            users = [
                w
                for w in self.workloads
                if w.obj.namespace == account.namespace
                and w.pod_spec.get("serviceAccountName", "default") == account.name
            ]
            lines = []
            if account.manifest.get("automountServiceAccountToken") is False:
                lines.append("no API token mounted")
            role = (account.meta.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
            if role:
                lines.append(f"IAM role {str(role).rsplit('/', 1)[-1]}")
            self.node(account, lines, self.home(users, account.namespace), "config")
            for workload in users:
                self.diagram.add_edge(account.id, workload.obj.id, "runs as")

    def config(self) -> None:
        """ConfigMaps and Secrets, each next to the workload that reads it."""
        for obj in self.of_kind("ConfigMap", "Secret"):
            uses = [
                (w, how)
                for w in self.workloads
                for kind, name, how in w.refs
                if kind == obj.kind and name == obj.name and w.obj.namespace == obj.namespace
            ]
            role = "config" if obj.kind == "ConfigMap" else "secret"
            users = list(dict.fromkeys(w for w, _ in uses))
            self.node(obj, _wrap(obj.key_names()), self.home(users, obj.namespace), role)
            for workload, how in uses:
                self.diagram.add_edge(obj.id, workload.obj.id, how)

    def named_services(self) -> None:
        """Services a workload reaches by a name in its variables (`DB_HOST`), and for an
        ExternalName Service the host behind it, with the databases the workloads use there."""
        hosts: dict[str, set[str]] = {}
        for svc in self.of_kind("Service"):
            users = [
                (w, variable)
                for w in self.workloads
                for variable, value in sorted(w.values.items())
                if self.names_service(value, svc)
            ]
            workloads = list(dict.fromkeys(w for w, _ in users))
            host = svc.spec.get("externalName")
            if svc.spec.get("type") == "ExternalName" and host:
                ports = svc.spec.get("ports")
                lines = ["ExternalName" + (f" {_ports(ports)}" if ports else "")]
                self.node(svc, lines, self.home(workloads, svc.namespace), "traffic")
                hosts.setdefault(str(host), set()).update(
                    w.values[DATABASE_NAME_VARIABLE]
                    for w in workloads
                    if DATABASE_NAME_VARIABLE in w.values
                )
            elif users and svc.file not in self.drawn:
                kind = str(svc.spec.get("type", "ClusterIP"))
                self.node(svc, [kind], self.shared(svc.namespace), "traffic")
            for workload, variable in users:
                self.diagram.add_edge(workload.obj.id, svc.id, variable)
        for svc in self.of_kind("Service"):
            host = str(svc.spec.get("externalName"))
            if svc.spec.get("type") != "ExternalName" or host not in hosts:
                continue
            kind = "RDS PostgreSQL" if ".rds.amazonaws.com" in host else "PostgreSQL"
            lines = [kind, host]
            if hosts[host]:
                lines.append(f"databases {', '.join(sorted(hosts[host]))}")
            target = self.outside(safe_id("db", host), lines, "databases", "cylinder")
            self.diagram.add_edge(svc.id, target, "DNS alias")

    @staticmethod
    def names_service(value: str, svc: _Object) -> bool:
        """`value` is the Service's short or DNS name (`svc`, `svc.ns`, `svc.ns.svc...`)."""
        parts = value.split(".")
        return (
            parts[0] == svc.name
            and (len(parts) < 2 or parts[1] == svc.namespace)
            and (len(parts) < 3 or parts[2] == "svc")
        )

    def aws(self) -> None:
        for workload in self.workloads:
            for variable, value in sorted(workload.values.items()):
                resource = _aws_resource(variable, value)
                if resource is None:
                    continue
                kind, name, where = resource
                lines = [kind, name] + ([where] if where else [])
                target = self.outside(safe_id("aws", kind, name, where), lines, "aws", "stadium")
                self.diagram.add_edge(workload.obj.id, target, variable)

    def traffic(self, workload: _Workload) -> None:
        """How requests reach the pods: caller, Ingress, Service, NetworkPolicy, pods."""
        obj = workload.obj
        services = [
            s
            for s in self.of_kind("Service")
            if s.namespace == obj.namespace
            and s.spec.get("selector")
            and _selects({"matchLabels": s.spec["selector"]}, workload.pod_labels)
        ]
        gates = [
            p
            for p in self.of_kind("NetworkPolicy")
            if p.namespace == obj.namespace
            and p.spec.get("ingress")
            and _selects(p.spec.get("podSelector"), workload.pod_labels)
        ]
        for gate in gates:
            self.policy_node(gate, self.owner(gate))
        ingresses: list[_Object] = []
        for svc in services:
            ports = svc.spec.get("ports") or []
            kind = svc.spec.get("type", "ClusterIP")
            lines = [" ".join([kind, *(f":{p.get('port')}" for p in ports)])]
            lines += [f"node port {p['nodePort']}" for p in ports if "nodePort" in p]
            self.node(svc, lines, workload.group, "traffic")
            label = ", ".join(
                f":{p.get('port')} → {p.get('targetPort', p.get('port'))}" for p in ports
            )
            for target in gates or [obj]:
                self.diagram.add_edge(svc.id, target.id, label)
            for ingress in self.of_kind("Ingress"):
                routes = _ingress_routes(ingress, svc.name)
                if ingress.namespace == obj.namespace and routes:
                    self.ingress_node(ingress, workload.group)
                    self.diagram.add_edge(ingress.id, svc.id, ", ".join(routes))
                    ingresses.append(ingress)
        for gate in gates:
            rules = gate.spec.get("ingress") or []
            self.diagram.add_edge(gate.id, obj.id, "; ".join(_ports(r.get("ports")) for r in rules))
            for rule in rules:
                for raw in rule.get("from") or [{}]:
                    peer = _peer(raw, gate.namespace)
                    self.outside(peer.id, [peer.text], "callers", "stadium")
                    # Another namespace's pods (the ingress controller's) come through the
                    # Ingress where there is one; addresses come in through the Service.
                    elsewhere = peer.namespace not in (None, gate.namespace)
                    entries = (ingresses if elsewhere else []) or services or [gate]
                    for entry in entries:
                        self.diagram.add_edge(peer.id, entry.id)

    def ingress_node(self, ingress: _Object, group: str) -> None:
        spec = ingress.spec
        lines = [f"class {spec['ingressClassName']}"] if spec.get("ingressClassName") else []
        lines += [
            f"host {h}"
            for h in sorted({r["host"] for r in spec.get("rules") or [] if r.get("host")})
        ]
        lines += [
            f"TLS Secret {t['secretName']}" for t in spec.get("tls") or [] if t.get("secretName")
        ]
        self.node(ingress, lines, group, "traffic", "parallelogram")

    def policy_node(self, policy: _Object, owner: _Workload | None) -> None:
        spec = policy.spec
        selector = spec.get("podSelector")
        if _selects_all(selector):
            lines = ["every pod"]
        elif owner is not None:
            lines = [f"pods of {owner.obj.name}"]
        else:
            lines = [f"pods {_labels_text(selector)}"]
        for direction in spec.get("policyTypes") or []:
            way = direction.lower()
            rules = spec.get(way) or []
            if not rules:
                lines.append(f"{way}: nothing allowed")
            for rule in rules:
                peers = rule.get("from" if way == "ingress" else "to") or [{}]
                texts = "; ".join(_peer(p, policy.namespace).text for p in peers)
                side = "from" if way == "ingress" else "to"
                lines.append(f"{way} {_ports(rule.get('ports'))} {side} {texts}")
        group = owner.group if owner else self.shared(policy.namespace)
        self.node(policy, lines, group, "policy", "hexagon")

    def policies(self) -> None:
        """Policies not drawn as a gate yet, and where their egress rules let pods go."""
        for policy in self.of_kind("NetworkPolicy"):
            if policy.file not in self.drawn:
                self.policy_node(policy, self.owner(policy))
            for rule in policy.spec.get("egress") or []:
                ports = {
                    int(p["port"]) for p in rule.get("ports") or [] if str(p.get("port")).isdigit()
                }
                label = f"egress {_ports(rule.get('ports'))}"
                database_ports = {
                    int(p["port"])
                    for s in self.of_kind("Service")
                    if s.spec.get("type") == "ExternalName"
                    for p in s.spec.get("ports") or []
                }
                for raw in rule.get("to") or [{}]:
                    peer = _peer(raw, policy.namespace)
                    if peer.cidr and ports & database_ports and self.has_members("databases"):
                        self.diagram.add_edge(policy.id, "databases", label, "dotted")
                    elif peer.cidr and HTTPS_PORT in ports and self.has_members("aws"):
                        self.diagram.add_edge(policy.id, "aws", label, "dotted")
                    else:
                        group = "cluster" if peer.namespace else None
                        self.outside(peer.id, [peer.text], group, "stadium")
                        self.diagram.add_edge(policy.id, peer.id, label, "dotted")

    def has_members(self, group: str) -> bool:
        return any(n.group == group for n in self.diagram.nodes.values())

    def scaling(self) -> None:
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            target = _dig(hpa.spec, "scaleTargetRef") or {}
            users = [
                w
                for w in self.workloads
                if (w.obj.kind, w.obj.name, w.obj.namespace)
                == (target.get("kind"), target.get("name"), hpa.namespace)
            ]
            lines = [f"{hpa.spec.get('minReplicas', 1)} to {hpa.spec.get('maxReplicas')} pods"]
            for metric in hpa.spec.get("metrics") or []:
                utilization = _dig(metric, "resource", "target", "averageUtilization")
                if utilization is not None:
                    lines.append(f"aiming at {utilization}% {_dig(metric, 'resource', 'name')}")
            self.node(hpa, lines, self.home(users, hpa.namespace), "config")
            for workload in users:
                self.diagram.add_edge(hpa.id, workload.obj.id, "scales", "dotted")
        for pdb in self.of_kind("PodDisruptionBudget"):
            users = self.selected(pdb.spec.get("selector"), pdb.namespace)
            names = {"maxUnavailable": "max unavailable", "minAvailable": "min available"}
            lines = [f"{text} {pdb.spec[key]}" for key, text in names.items() if key in pdb.spec]
            self.node(pdb, lines, self.home(users, pdb.namespace), "config")
            for workload in users:
                self.diagram.add_edge(pdb.id, workload.obj.id, "limits evictions", "dotted")

    def the_rest(self) -> None:
        """Every object gets a node, even one that no rule above connects."""
        for obj in self.objects:
            if obj.file in self.drawn:
                continue
            lines: list[str] = []
            if obj.kind == "ResourceQuota":
                hard = obj.spec.get("hard") or {}
                lines = _wrap((f"{k} {v}" for k, v in sorted(hard.items())), 2)
            elif obj.kind == "LimitRange":
                for limit in obj.spec.get("limits") or []:
                    for key in ("defaultRequest", "default", "max", "min"):
                        values = ", ".join(
                            f"{k} {v}" for k, v in sorted((limit.get(key) or {}).items())
                        )
                        if values:
                            lines.append(f"{limit.get('type', '')} {key}: {values}".strip())
            elif obj.kind == "Service":
                lines = [str(obj.spec.get("type", "ClusterIP"))]
            self.node(obj, lines, self.shared(obj.namespace), "config")

    def tidy(self) -> None:
        """Line up the unconnected nodes of each namespace-wide group side by side (Mermaid would
        stack them into one tall column) and drop the groups that stayed empty."""
        for group in list(self.diagram.groups):
            loose = [
                n.id
                for n in self.diagram.nodes.values()
                if n.group == group and not self.diagram.touches(n.id)
            ]
            for left, right in zip(loose, loose[1:], strict=False):
                self.diagram.add_edge(left, right, style="invisible")
        used = {n.group for n in self.diagram.nodes.values()}
        for group in list(self.diagram.groups.values()):
            if group.id in used:
                continue
            nested = any(g.parent == group.id for g in self.diagram.groups.values())
            linked = any(group.id in (e.source, e.target) for e in self.diagram.edges)
            if not nested and not linked:
                del self.diagram.groups[group.id]


def environment_graph(manifests: Mapping[str, Mapping[str, Any]], styled: bool = True) -> Diagram:
    """The environment as a `Diagram` to mark or add to: one node per manifest (`node_id`).

    `styled=False` leaves out the colours by role, for a picture that colours by change instead.
    """
    return _Builder(manifests, styled).build()


def environment_diagram(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """Mermaid source of the environment in `manifests` (file name to manifest, as rendered)."""
    return environment_graph(manifests).to_mermaid()


# --- the committed stacks' page ----------------------------------------------------------------

DOCS_HEADER = """\
# The environments, drawn

<!-- Generated by `python -m tools.diagram --write-docs`; do not edit by hand.
     tests/test_diagram.py fails when this file no longer matches the stacks. -->

One diagram per committed stack (`Pulumi.<stack>.yaml`), drawn from the offline render
(`python -m tools.render STACK`): what the program creates, not what was meant. After a change to
the stacks or the components, run `python -m tools.diagram --write-docs`.

How to read them:

- Every Kubernetes object of the environment is one box, titled with its kind and name. A Secret
  shows its key names only, and its name ends in `-*`: Pulumi picks the suffix when it creates
  it. A ConfigMap's name ends in a hash of its data, so a new hash means a changed value.
- Blue rounded boxes are the workloads. Arrows into one come from what its pods read (`envFrom`,
  the ServiceAccount) and from the way requests reach it: a caller that a NetworkPolicy lets in,
  the Ingress where the environment has one, the Service, then the NetworkPolicy (hexagon) that
  admits the traffic. Arrows out of one are labelled with the variable that names the target: a
  database Service (`DB_HOST`, an ExternalName alias of the PostgreSQL host) or an AWS resource.
- Dotted arrows are rules, not requests: where egress policies let every pod go, which
  Deployment an autoscaler scales, which pods a disruption budget protects.
- `namespace-wide` holds what applies to all pods: the namespace, the default-deny and egress
  policies, the quota and the default limits.

GitHub draws these in the page; its diagram viewer zooms and pans. `tests/test_diagram.py` checks
every diagram here with Mermaid's own parser (`diagram/parse.mjs`, after `npm ci --prefix
diagram`). [environment-dev.png](environment-dev.png) is the dev diagram as Chromium draws it,
made by `scripts/diagram-png.sh dev docs/environment-dev.png`; unlike this page, nothing checks
that the picture is current, so run that command again when the dev diagram changes.
"""


def stack_diagram(stack: str, root: Path = ROOT) -> tuple[list[str], str]:
    """(namespaces, Mermaid source) of one stack's render."""
    from tools.render import render  # runs the Pulumi program: loaded only when a stack is drawn

    manifests = render(stack, root=root).manifests
    namespaces = [m["metadata"]["name"] for m in manifests.values() if m.get("kind") == "Namespace"]
    return namespaces, environment_diagram(manifests)


def docs_text(root: Path = ROOT) -> str:
    """docs/environments.md as `--write-docs` writes it."""
    stacks = committed_stacks(root)
    if not stacks:
        raise StackFileError(f"no Pulumi.<stack>.yaml in {root}")
    parts = [DOCS_HEADER]
    for stack in stacks:
        namespaces, source = stack_diagram(stack, root)
        where = ", ".join(f"`{n}`" for n in namespaces)
        parts.append(f"\n## {stack} (namespace {where})\n\n```mermaid\n{source}```\n")
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.diagram", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("stack", nargs="?", help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="write the Mermaid source here (default: stdout)")
    add_project_dir(parser)
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--write-docs", action="store_true", help=f"rewrite {DOCS_FILE} from every stack file"
    )
    docs.add_argument(
        "--check-docs", action="store_true", help=f"exit 1 when {DOCS_FILE} is out of date"
    )
    args = parser.parse_args(argv)
    for_docs = args.write_docs or args.check_docs
    if for_docs == (args.stack is not None):
        parser.error("give either a STACK or one of --write-docs, --check-docs")
    if for_docs and args.out:
        parser.error("--out goes with a STACK")
    try:
        text = (
            docs_text(args.project_dir)
            if for_docs
            else stack_diagram(args.stack, args.project_dir)[1]
        )
    except (StackFileError, pulumi.RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    path = args.project_dir / DOCS_FILE
    if args.check_docs:
        if not path.exists() or path.read_text() != text:
            print(f"{DOCS_FILE} is stale: run `python -m tools.diagram --write-docs`")
            return 1
        print(f"{DOCS_FILE} is up to date")
    elif args.write_docs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    elif args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    from tools.harness import shutdown

    # Here rather than in main(), which the tests call more than once in one process: after
    # shutdown() no program can run again.
    try:
        code = main()
    finally:
        shutdown()
    sys.exit(code)
