"""The pod template of a service: container, probes, resources and a `restricted` security context.

Secure defaults in the manner of cdk8s-plus: non-root with a numeric UID, no privilege
escalation, every capability dropped, the runtime's default seccomp profile and a read-only root
filesystem with a small writable `/tmp`. They pass the `restricted` Pod Security Standard, which the
namespace enforces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from components.args import MicroserviceArgs
from components.config.model import ProbeTiming

if TYPE_CHECKING:
    from pulumi_kubernetes.core.v1 import (
        ContainerArgsDict,
        EnvFromSourceArgsDict,
        PodSecurityContextArgsDict,
        PodSpecArgsDict,
        ProbeArgsDict,
        ResourceRequirementsArgsDict,
        SecurityContextArgsDict,
        TopologySpreadConstraintArgsDict,
    )

RUN_AS_USER = 10001
"""A UID above 10000, so it matches no user on a node; the images declare no USER."""
TMP_SIZE_LIMIT = "64Mi"


def _probe(service: MicroserviceArgs, timing: ProbeTiming) -> ProbeArgsDict:
    probes = service.probes
    probe: ProbeArgsDict = {
        "initial_delay_seconds": timing.initial_delay_seconds,
        "period_seconds": timing.period_seconds,
        "timeout_seconds": timing.timeout_seconds,
        "failure_threshold": timing.failure_threshold,
    }
    if probes.path is not None:
        probe["http_get"] = {"path": probes.path, "port": "http", "scheme": "HTTP"}
    else:
        probe["tcp_socket"] = {"port": "http"}
    return probe


def container_security_context() -> SecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "run_as_group": RUN_AS_USER,
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> PodSecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "run_as_group": RUN_AS_USER,
        "fs_group": RUN_AS_USER,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container(
    service: MicroserviceArgs,
    *,
    image: pulumi.Input[str],
    pull_policy: str,
    env_from: list[EnvFromSourceArgsDict],
) -> ContainerArgsDict:
    timings = service.probes.timings
    resources: ResourceRequirementsArgsDict = {"requests": dict(service.resources.requests)}
    if service.resources.limits:
        resources["limits"] = dict(service.resources.limits)
    return {
        "name": service.name,
        "image": image,
        "image_pull_policy": pull_policy,
        "ports": [{"name": "http", "container_port": service.spec.port, "protocol": "TCP"}],
        "env_from": env_from,
        # Node and yarn write caches under $HOME; the image's root filesystem is read-only here.
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": resources,
        "startup_probe": _probe(service, timings["startup"]),
        "readiness_probe": _probe(service, timings["readiness"]),
        "liveness_probe": _probe(service, timings["liveness"]),
        "security_context": container_security_context(),
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
    }


def pod_spec(
    service: MicroserviceArgs,
    *,
    selector: dict[str, str],
    service_account: pulumi.Input[str],
    main_container: ContainerArgsDict,
) -> PodSpecArgsDict:
    spread: list[TopologySpreadConstraintArgsDict] = [
        {
            "max_skew": 1,
            "topology_key": key,
            # Prefer spreading; never leave a pod pending because a zone or node is missing.
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": selector},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    return {
        "service_account_name": service_account,
        # The services never call the Kubernetes API; IRSA's token comes in a volume of its own.
        "automount_service_account_token": False,
        "security_context": pod_security_context(),
        "topology_spread_constraints": spread,
        "containers": [main_container],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": TMP_SIZE_LIMIT}}],
    }
