"""What the pods call, by the names in their variables: Services, the databases behind
ExternalName Services (`DB_HOST`), and AWS resources."""

from __future__ import annotations

from tools.diagram.aws import aws_resource
from tools.diagram.network import ports_text
from tools.diagram.objects import KubeObject
from tools.diagram.picture import Picture
from tools.mermaid import safe_id

DATABASE_NAME_VARIABLE = "DB_NAME"


def named_services(picture: Picture) -> None:
    """Services a workload reaches by a name in its variables (`DB_HOST`), and for an
    ExternalName Service the host behind it, with the databases the workloads use there."""
    hosts: dict[str, set[str]] = {}
    for svc in picture.of_kind("Service"):
        users = [
            (w, variable)
            for w in picture.workloads
            for variable, value in sorted(w.values.items())
            if names_service(value, svc)
        ]
        workloads = list(dict.fromkeys(w for w, _ in users))
        host = svc.spec.get("externalName")
        if svc.spec.get("type") == "ExternalName" and host:
            ports = svc.spec.get("ports")
            lines = ["ExternalName" + (f" {ports_text(ports)}" if ports else "")]
            picture.node(svc, lines, picture.home(workloads, svc.namespace), "traffic")
            hosts.setdefault(str(host), set()).update(
                w.values[DATABASE_NAME_VARIABLE]
                for w in workloads
                if DATABASE_NAME_VARIABLE in w.values
            )
        elif users and svc.file not in picture.drawn:
            kind = str(svc.spec.get("type", "ClusterIP"))
            picture.node(svc, [kind], picture.shared(svc.namespace), "traffic")
        for workload, variable in users:
            picture.diagram.add_edge(workload.obj.id, svc.id, variable)
    for svc in picture.of_kind("Service"):
        host = str(svc.spec.get("externalName"))
        if svc.spec.get("type") != "ExternalName" or host not in hosts:
            continue
        kind = "RDS PostgreSQL" if ".rds.amazonaws.com" in host else "PostgreSQL"
        lines = [kind, host]
        if hosts[host]:
            lines.append(f"databases {', '.join(sorted(hosts[host]))}")
        target = picture.outside(safe_id("db", host), lines, "databases", "cylinder")
        picture.diagram.add_edge(svc.id, target, "DNS alias")


def names_service(value: str, svc: KubeObject) -> bool:
    """`value` is the Service's short or DNS name (`svc`, `svc.ns`, `svc.ns.svc...`)."""
    parts = value.split(".")
    return (
        parts[0] == svc.name
        and (len(parts) < 2 or parts[1] == svc.namespace)
        and (len(parts) < 3 or parts[2] == "svc")
    )


def aws_resources(picture: Picture) -> None:
    for workload in picture.workloads:
        for variable, value in sorted(workload.values.items()):
            resource = aws_resource(variable, value)
            if resource is None:
                continue
            kind, name, where = resource
            lines = [kind, name] + ([where] if where else [])
            target = picture.outside(safe_id("aws", kind, name, where), lines, "aws", "stadium")
            picture.diagram.add_edge(workload.obj.id, target, variable)
