"""The namespaces, the workloads, and what their pods run as and read (ConfigMaps, Secrets)."""

from __future__ import annotations

from components.conventions import TIER_LABEL
from tools.diagram.objects import POD_TEMPLATE_PATHS, KubeObject, Workload, dig, wrap
from tools.diagram.picture import Picture
from tools.mermaid import safe_id


def namespaces(picture: Picture) -> None:
    for obj in picture.of_kind("Namespace"):
        labels = obj.meta.get("labels") or {}
        lines = []
        if "pod-security.kubernetes.io/enforce" in labels:
            lines.append(f"Pod Security {labels['pod-security.kubernetes.io/enforce']}")
        if TIER_LABEL in labels:
            lines.append(f"tier {labels[TIER_LABEL]}")
        picture.node(obj, lines, picture.shared(obj.name), "config", "subroutine")


def workloads(picture: Picture) -> None:
    """Each workload in a group of its own, with what its pods read noted for the later steps."""
    for obj in picture.of_kind(*POD_TEMPLATE_PATHS):
        _workload(picture, obj)


def _workload(picture: Picture, obj: KubeObject) -> None:
    template = dig(obj.manifest, *POD_TEMPLATE_PATHS[obj.kind]) or {}
    app = (obj.meta.get("labels") or {}).get("app.kubernetes.io/name") or obj.name
    parent = safe_id("ns", obj.namespace) if obj.namespace else None
    group = picture.diagram.add_group(safe_id("app", obj.id), app, parent)
    workload = Workload(obj, group, template)
    spec = workload.pod_spec
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                name = source["configMapRef"].get("name")
                workload.refs.append(("ConfigMap", name, "envFrom"))
                config_map = picture.find("ConfigMap", name, obj.namespace)
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
    picture.workloads.append(workload)

    images = [c.get("image", "") for c in spec.get("containers") or []]
    lines = [image.rsplit("/", 1)[-1] for image in images]
    if any(
        dig(h.spec, "scaleTargetRef", "kind") == obj.kind
        and dig(h.spec, "scaleTargetRef", "name") == obj.name
        for h in picture.of_kind("HorizontalPodAutoscaler")
        if h.namespace == obj.namespace
    ):
        lines.append("replicas set by the autoscaler")
    elif obj.spec.get("replicas") is not None:
        lines.append(f"replicas {obj.spec['replicas']}")
    picture.node(obj, lines, group, "workload", "rounded")


def service_accounts(picture: Picture) -> None:
    for account in picture.of_kind("ServiceAccount"):
        users = [
            w
            for w in picture.workloads
            if w.obj.namespace == account.namespace
            and w.pod_spec.get("serviceAccountName", "default") == account.name
        ]
        lines = []
        if account.manifest.get("automountServiceAccountToken") is False:
            lines.append("no API token mounted")
        role = (account.meta.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if role:
            lines.append(f"IAM role {str(role).rsplit('/', 1)[-1]}")
        picture.node(account, lines, picture.home(users, account.namespace), "config")
        for workload in users:
            picture.diagram.add_edge(account.id, workload.obj.id, "runs as")


def config(picture: Picture) -> None:
    """ConfigMaps and Secrets, each next to the workload that reads it."""
    for obj in picture.of_kind("ConfigMap", "Secret"):
        uses = [
            (w, how)
            for w in picture.workloads
            for kind, name, how in w.refs
            if kind == obj.kind and name == obj.name and w.obj.namespace == obj.namespace
        ]
        role = "config" if obj.kind == "ConfigMap" else "secret"
        users = list(dict.fromkeys(w for w, _ in uses))
        picture.node(obj, wrap(obj.key_names()), picture.home(users, obj.namespace), role)
        for workload, how in uses:
            picture.diagram.add_edge(obj.id, workload.obj.id, how)
