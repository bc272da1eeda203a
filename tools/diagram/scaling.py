"""Autoscalers and disruption budgets, beside the workloads they scale or protect."""

from __future__ import annotations

from tools.diagram.objects import dig
from tools.diagram.picture import Picture


def scaling(picture: Picture) -> None:
    for hpa in picture.of_kind("HorizontalPodAutoscaler"):
        target = dig(hpa.spec, "scaleTargetRef") or {}
        users = [
            w
            for w in picture.workloads
            if (w.obj.kind, w.obj.name, w.obj.namespace)
            == (target.get("kind"), target.get("name"), hpa.namespace)
        ]
        lines = [f"{hpa.spec.get('minReplicas', 1)} to {hpa.spec.get('maxReplicas')} pods"]
        for metric in hpa.spec.get("metrics") or []:
            utilization = dig(metric, "resource", "target", "averageUtilization")
            if utilization is not None:
                lines.append(f"aiming at {utilization}% {dig(metric, 'resource', 'name')}")
        picture.node(hpa, lines, picture.home(users, hpa.namespace), "config")
        for workload in users:
            picture.diagram.add_edge(hpa.id, workload.obj.id, "scales", "dotted")
    for pdb in picture.of_kind("PodDisruptionBudget"):
        users = picture.selected(pdb.spec.get("selector"), pdb.namespace)
        names = {"maxUnavailable": "max unavailable", "minAvailable": "min available"}
        lines = [f"{text} {pdb.spec[key]}" for key, text in names.items() if key in pdb.spec]
        picture.node(pdb, lines, picture.home(users, pdb.namespace), "config")
        for workload in users:
            picture.diagram.add_edge(pdb.id, workload.obj.id, "limits evictions", "dotted")
