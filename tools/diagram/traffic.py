"""How requests reach the pods: caller, Ingress, Service, NetworkPolicy, pods."""

from __future__ import annotations

from tools.diagram.network import peer, ports_text
from tools.diagram.objects import KubeObject, Workload, dig, selects
from tools.diagram.picture import Picture
from tools.diagram.policies import policy_node


def traffic(picture: Picture) -> None:
    for workload in picture.workloads:
        _ways_in(picture, workload)


def _ways_in(picture: Picture, workload: Workload) -> None:
    obj = workload.obj
    services = [
        s
        for s in picture.of_kind("Service")
        if s.namespace == obj.namespace
        and s.spec.get("selector")
        and selects({"matchLabels": s.spec["selector"]}, workload.pod_labels)
    ]
    gates = [
        p
        for p in picture.of_kind("NetworkPolicy")
        if p.namespace == obj.namespace
        and p.spec.get("ingress")
        and selects(p.spec.get("podSelector"), workload.pod_labels)
    ]
    for gate in gates:
        policy_node(picture, gate, picture.owner(gate))
    ingresses: list[KubeObject] = []
    for svc in services:
        ports = svc.spec.get("ports") or []
        kind = svc.spec.get("type", "ClusterIP")
        lines = [" ".join([kind, *(f":{p.get('port')}" for p in ports)])]
        lines += [f"node port {p['nodePort']}" for p in ports if "nodePort" in p]
        picture.node(svc, lines, workload.group, "traffic")
        label = ", ".join(f":{p.get('port')} → {p.get('targetPort', p.get('port'))}" for p in ports)
        for target in gates or [obj]:
            picture.diagram.add_edge(svc.id, target.id, label)
        for ingress in picture.of_kind("Ingress"):
            routes = _ingress_routes(ingress, svc.name)
            if ingress.namespace == obj.namespace and routes:
                _ingress_node(picture, ingress, workload.group)
                picture.diagram.add_edge(ingress.id, svc.id, ", ".join(routes))
                ingresses.append(ingress)
    for gate in gates:
        rules = gate.spec.get("ingress") or []
        picture.diagram.add_edge(
            gate.id, obj.id, "; ".join(ports_text(r.get("ports")) for r in rules)
        )
        for rule in rules:
            for raw in rule.get("from") or [{}]:
                caller = peer(raw, gate.namespace)
                picture.outside(caller.id, [caller.text], "callers", "stadium")
                # Another namespace's pods (the ingress controller's) come through the
                # Ingress where there is one; addresses come in through the Service.
                elsewhere = caller.namespace not in (None, gate.namespace)
                entries = (ingresses if elsewhere else []) or services or [gate]
                for entry in entries:
                    picture.diagram.add_edge(caller.id, entry.id)


def _ingress_routes(ingress: KubeObject, service: str) -> list[str]:
    routes = []
    if dig(ingress.spec, "defaultBackend", "service", "name") == service:
        routes.append("default backend")
    for rule in ingress.spec.get("rules") or []:
        for path in dig(rule, "http", "paths") or []:
            if dig(path, "backend", "service", "name") == service:
                routes.append(f"{rule.get('host', '*')}{path.get('path', '/')}")
    return routes


def _ingress_node(picture: Picture, ingress: KubeObject, group: str) -> None:
    spec = ingress.spec
    lines = [f"class {spec['ingressClassName']}"] if spec.get("ingressClassName") else []
    lines += [
        f"host {h}" for h in sorted({r["host"] for r in spec.get("rules") or [] if r.get("host")})
    ]
    lines += [f"TLS Secret {t['secretName']}" for t in spec.get("tls") or [] if t.get("secretName")]
    picture.node(ingress, lines, group, "traffic", "parallelogram")
