"""One service's settings in one environment: its catalog entry with the stack's overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.catalog import (
    AWS_STATIC_CREDENTIALS,
    SENSITIVE_VARIABLES,
    ServiceSpec,
)
from components.checks import Checker, kind_of

SERVICE_KEYS = frozenset(
    {
        "replicas",
        "env",
        "build",
        "image",
        "imagePullPolicy",
        "serviceType",
        "resources",
        "probes",
        "autoscaling",
        "iamRoleArn",
        "ingressPath",
        "nodePort",
    }
)
NODE_PORT_RANGE = (30000, 32767)
BUILD_KEYS = frozenset({"context", "dockerfile", "platform"})
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PROBE_KINDS = ("startup", "readiness", "liveness")
TIMING_KEYS = frozenset(
    {"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"}
)
IAM_ROLE_PREFIX = "arn:aws:iam::"


@dataclass(frozen=True)
class Sensitive:
    """A secret value in transit from config to a Pulumi secret; never shows in a repr."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "[secret]"


@dataclass(frozen=True)
class BuildSettings:
    """Build the image from source instead of deploying the published one."""

    context: str
    dockerfile: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int


# A Node service can take a while to start (migrations, first connections): the startup probe
# allows 5 s x 30 = 150 s before liveness takes over and may restart it.
DEFAULT_TIMINGS = {
    "startup": ProbeTiming(0, 5, 3, 30),
    "readiness": ProbeTiming(0, 10, 3, 3),
    "liveness": ProbeTiming(0, 20, 3, 3),
}


@dataclass(frozen=True)
class ProbeSettings:
    """HTTP GET on `path` or, with no path, a TCP check; all three probes use the same target."""

    path: str | None
    port: int
    timings: Mapping[str, ProbeTiming]


@dataclass(frozen=True)
class ResourceSettings:
    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class AutoscalingSettings:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int


@dataclass(frozen=True)
class ServiceSettings:
    """One catalog service as this environment runs it."""

    spec: ServiceSpec
    replicas: int
    env: Mapping[str, str]
    secrets: Mapping[str, Sensitive]
    probes: ProbeSettings
    resources: ResourceSettings
    build: BuildSettings | None = None
    image: str | None = None
    service_type: str = "ClusterIP"
    image_pull_policy: str | None = None
    """None: `IfNotPresent` for a digest, `Always` for a tag (tags are re-pushed per commit)."""
    autoscaling: AutoscalingSettings | None = None
    iam_role_arn: str | None = None
    ingress_path: str | None = None
    node_port: int | None = None
    """A fixed node port for a NodePort Service (a kind cluster maps it to the host)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def min_replicas(self) -> int:
        """The fewest pods that run: what a PodDisruptionBudget has to protect."""
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas


def required_secrets(spec: ServiceSpec, raw_service: Any) -> tuple[str, ...]:
    """The secrets `spec` must be given where its config is `raw_service`.

    With an IAM role (IRSA) the pods get AWS credentials from the role, so the static keys are
    no longer required.
    """
    has_role = isinstance(raw_service, Mapping) and bool(raw_service.get("iamRoleArn"))
    if has_role:
        return tuple(s for s in spec.required_secrets if s not in AWS_STATIC_CREDENTIALS)
    return spec.required_secrets


def _env_values(check: Checker, key: str, service: str, raw: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in check.mapping(key, raw).items():
        var_key = f"{key}.{name}"
        if not check.variable_name(var_key, name):
            continue
        if name in SENSITIVE_VARIABLES:
            check.fail(
                var_key,
                f"{name} is a secret and must not be stored in plain text; set it with "
                f"`pulumi config set --secret --path 'secrets.{service}.{name}' <value>`",
            )
            continue
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            env[name] = str(value)
        else:
            check.fail(var_key, f"must be a string, not {kind_of(value)}")
    return env


def _secret_values(check: Checker, key: str, raw: Any) -> dict[str, Sensitive]:
    secrets: dict[str, Sensitive] = {}
    for name, value in check.mapping(key, raw).items():
        var_key = f"{key}.{name}"
        if not check.variable_name(var_key, name):
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            secrets[name] = Sensitive(str(value))
        else:
            check.fail(var_key, f"must be a string, not {kind_of(value)}")
    return secrets


def _build(check: Checker, key: str, value: Any) -> BuildSettings | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"context": value}
    raw = check.mapping(key, value)
    check.unknown_keys(key, raw, BUILD_KEYS)
    context = raw.get("context")
    if not isinstance(context, str) or not context:
        check.fail(f"{key}.context", "is required: the folder that holds the Dockerfile")
        return None
    return BuildSettings(
        context=context,
        dockerfile=check.string(f"{key}.dockerfile", raw.get("dockerfile")),
        platform=check.string(f"{key}.platform", raw.get("platform")),
    )


def _probes(check: Checker, key: str, spec: ServiceSpec, value: Any) -> ProbeSettings:
    raw = check.mapping(key, value)
    check.unknown_keys(key, raw, {"path", "port", *PROBE_KINDS})
    port = check.integer(f"{key}.port", raw.get("port"), default=spec.port, minimum=1)
    if port != spec.port:
        check.fail(
            f"{key}.port",
            f"{spec.name} does not open port {port}; probes must target its port {spec.port}",
        )
        port = spec.port
    path = check.string(f"{key}.path", raw.get("path"), default=spec.probe_path)
    if path is not None and not path.startswith("/"):
        check.fail(f"{key}.path", f"{path!r} must start with '/'")
    if path is not None and not spec.http:
        check.fail(f"{key}.path", f"{spec.name} serves no HTTP; it can only have a TCP check")
        path = None
    timings = {}
    for probe in PROBE_KINDS:
        probe_key = f"{key}.{probe}"
        override = check.mapping(probe_key, raw.get(probe))
        check.unknown_keys(probe_key, override, TIMING_KEYS)
        base = DEFAULT_TIMINGS[probe]
        timings[probe] = ProbeTiming(
            initial_delay_seconds=check.integer(
                f"{probe_key}.initialDelaySeconds",
                override.get("initialDelaySeconds"),
                default=base.initial_delay_seconds,
            ),
            period_seconds=check.integer(
                f"{probe_key}.periodSeconds",
                override.get("periodSeconds"),
                default=base.period_seconds,
                minimum=1,
            ),
            timeout_seconds=check.integer(
                f"{probe_key}.timeoutSeconds",
                override.get("timeoutSeconds"),
                default=base.timeout_seconds,
                minimum=1,
            ),
            failure_threshold=check.integer(
                f"{probe_key}.failureThreshold",
                override.get("failureThreshold"),
                default=base.failure_threshold,
                minimum=1,
            ),
        )
    return ProbeSettings(path=path, port=port, timings=timings)


def _resources(check: Checker, key: str, spec: ServiceSpec, value: Any) -> ResourceSettings:
    raw = check.mapping(key, value)
    check.unknown_keys(key, raw, {"requests", "limits"})
    requests_raw = check.mapping(f"{key}.requests", raw.get("requests"))
    limits_raw = check.mapping(f"{key}.limits", raw.get("limits"))
    check.unknown_keys(f"{key}.requests", requests_raw, {"cpu", "memory"})
    check.unknown_keys(f"{key}.limits", limits_raw, {"cpu", "memory"})
    merged = {
        ("requests", "cpu"): requests_raw.get("cpu", spec.resources.cpu_request),
        ("requests", "memory"): requests_raw.get("memory", spec.resources.memory_request),
        ("limits", "memory"): limits_raw.get("memory", spec.resources.memory_limit),
    }
    if limits_raw.get("cpu") is not None:
        merged[("limits", "cpu")] = limits_raw["cpu"]
    parsed = {}
    for (section, resource), raw_value in merged.items():
        result = check.quantity(f"{key}.{section}.{resource}", raw_value)
        if result is not None:
            parsed[(section, resource)] = result
    for resource in ("cpu", "memory"):
        request, limit = parsed.get(("requests", resource)), parsed.get(("limits", resource))
        if request and limit and limit[1] < request[1]:
            check.fail(
                f"{key}.limits.{resource}",
                f"{limit[0]} is below the request {request[0]}",
            )
    return ResourceSettings(
        requests={r: v[0] for (s, r), v in parsed.items() if s == "requests"},
        limits={r: v[0] for (s, r), v in parsed.items() if s == "limits"},
    )


def _autoscaling(check: Checker, key: str, value: Any) -> AutoscalingSettings | None:
    if value is None or value is False:
        return None
    raw = check.mapping(key, value)
    check.unknown_keys(key, raw, {"minReplicas", "maxReplicas", "targetCPUUtilizationPercentage"})
    if raw.get("maxReplicas") is None:
        check.fail(f"{key}.maxReplicas", "is required when autoscaling is on")
    minimum = check.integer(f"{key}.minReplicas", raw.get("minReplicas"), default=2, minimum=1)
    maximum = check.integer(
        f"{key}.maxReplicas", raw.get("maxReplicas"), default=minimum, minimum=1
    )
    target = check.integer(
        f"{key}.targetCPUUtilizationPercentage",
        raw.get("targetCPUUtilizationPercentage"),
        default=70,
        minimum=1,
    )
    if maximum < minimum:
        check.fail(f"{key}.maxReplicas", f"{maximum} is below minReplicas {minimum}")
    return AutoscalingSettings(minimum, maximum, target)


def parse_service(
    check: Checker,
    spec: ServiceSpec,
    raw_service: Any,
    raw_secrets: Any,
    *,
    derived_env: Mapping[str, str],
    allowed_types: tuple[str, ...],
) -> ServiceSettings:
    """Check one service's stack config (`services.<name>`, `secrets.<name>`) against `spec`."""
    key = f"services.{spec.name}"
    raw = check.mapping(key, raw_service)
    check.unknown_keys(key, raw, SERVICE_KEYS)
    autoscaling = _autoscaling(check, f"{key}.autoscaling", raw.get("autoscaling"))
    if autoscaling and raw.get("replicas") is not None:
        check.fail(
            f"{key}.replicas",
            "remove it: with autoscaling on, the HorizontalPodAutoscaler sets the replica count",
        )
    replicas = check.integer(f"{key}.replicas", raw.get("replicas"), default=1)
    env = {
        **spec.env,
        **derived_env,
        **_env_values(check, f"{key}.env", spec.name, raw.get("env")),
    }
    secrets = _secret_values(check, f"secrets.{spec.name}", raw_secrets)

    for name in sorted(set(env) & set(secrets)):
        check.fail(f"{key}.env.{name}", "is also set as a secret; keep only one")
    missing_env = [name for name in spec.required_env if not env.get(name)]
    if missing_env:
        check.fail(
            f"{key}.env",
            f"missing required variable(s) {', '.join(missing_env)}; set each with "
            f"`pulumi config set --path '{key}.env.{missing_env[0]}' <value>`",
        )
    missing_secrets = [n for n in required_secrets(spec, raw) if n not in secrets]
    if missing_secrets:
        check.fail(
            f"secrets.{spec.name}",
            f"missing required secret(s) {', '.join(missing_secrets)}; set each with "
            "`pulumi config set --secret --path "
            f"'secrets.{spec.name}.{missing_secrets[0]}' <value>`",
        )

    image = check.string(f"{key}.image", raw.get("image"))
    build = _build(check, f"{key}.build", raw.get("build"))
    if build and image:
        check.fail(key, "set either `image` (a published image) or `build`, not both")

    service_type = raw.get("serviceType", "ClusterIP")
    if service_type not in allowed_types:
        check.fail(
            f"{key}.serviceType",
            f"{service_type!r} is not allowed in this environment "
            f"(allowedServiceTypes: {', '.join(allowed_types)})",
        )
        service_type = "ClusterIP"
    if service_type != "ClusterIP" and not spec.http:
        check.fail(f"{key}.serviceType", f"{spec.name} serves no HTTP and has no Service")

    node_port = None
    if raw.get("nodePort") is not None:
        node_port = check.integer(f"{key}.nodePort", raw.get("nodePort"), default=0)
        low, high = NODE_PORT_RANGE
        if service_type != "NodePort":
            check.fail(f"{key}.nodePort", "needs serviceType NodePort")
        elif not low <= node_port <= high:
            check.fail(
                f"{key}.nodePort", f"{node_port} is outside the node port range {low}-{high}"
            )

    pull_policy = raw.get("imagePullPolicy")
    if pull_policy is not None and pull_policy not in PULL_POLICIES:
        check.fail(
            f"{key}.imagePullPolicy", f"{pull_policy!r} is not one of {', '.join(PULL_POLICIES)}"
        )
        pull_policy = None

    role = check.string(f"{key}.iamRoleArn", raw.get("iamRoleArn"))
    if role is not None and not (role.startswith(IAM_ROLE_PREFIX) and ":role/" in role):
        check.fail(f"{key}.iamRoleArn", f"{role!r} is not an IAM role ARN (arn:aws:iam::…:role/…)")

    ingress_path = check.string(
        f"{key}.ingressPath", raw.get("ingressPath"), default=spec.ingress_path
    )
    if ingress_path is not None and not ingress_path.startswith("/"):
        check.fail(f"{key}.ingressPath", f"{ingress_path!r} must start with '/'")

    return ServiceSettings(
        spec=spec,
        replicas=replicas,
        env=env,
        secrets=secrets,
        probes=_probes(check, f"{key}.probes", spec, raw.get("probes")),
        resources=_resources(check, f"{key}.resources", spec, raw.get("resources")),
        build=build,
        image=image,
        service_type=service_type,
        image_pull_policy=pull_policy,
        autoscaling=autoscaling,
        iam_role_arn=role,
        ingress_path=ingress_path if spec.http else None,
        node_port=node_port,
    )
