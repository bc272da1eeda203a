"""The rules across keys: what a single field cannot say, as pure functions returning problems.

Each problem is one `key: what is wrong and what to write instead`. They read the validated
model and its resolution (`components.config.resolution`), and the catalog: known services
and databases, required variables and secrets, service types, probe ports, quota and limit
range against the services' needs at full scale, object sizes. Build contexts are looked up
under the project folder. The order of the problems is the order of the checks below.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from components import naming
from components.args import MicroserviceArgs
from components.catalog import SENSITIVE_VARIABLES, ServiceSpec
from components.config import rules
from components.config.errors import did_you_mean
from components.config.model import Service, StackSettings
from components.config.resolution import Loaded, required_secrets, service_config


def problems(
    loaded: Loaded,
    catalog: Mapping[str, ServiceSpec],
    *,
    project_dir: Path,
    stand_in_secrets: bool,
) -> list[str]:
    """Every problem across keys; the fit at full scale only once everything else is right."""
    model = loaded.config
    found = [
        *_unknown_services(model, catalog),
        *_names(model, catalog),
        *_unknown_databases(model, catalog),
    ]
    for service in loaded.services:
        raw = service_config(model, service.name)
        found += _service(model, raw, service, project_dir, stand_in_secrets)
    found += [*_registry(model), *_ingress(model), *_rollout(model), *_quota(model)]
    found += _limit_range_order(loaded.environment.limit_range)
    if not found:
        found += _fits(loaded)
    return found


def _amount(quantity: str) -> Decimal:
    return rules.parse_quantity(quantity) or Decimal(0)


# ---- environment --------------------------------------------------------------------------


def _unknown_services(model: StackSettings, catalog: Mapping[str, ServiceSpec]) -> list[str]:
    return [
        f"{where}.{name}: unknown service{did_you_mean(name, catalog)} "
        f"(known: {', '.join(sorted(catalog))})"
        for where in ("services", "secrets")
        for name in getattr(model, where)
        if name not in catalog
    ]


def _names(model: StackSettings, catalog: Mapping[str, ServiceSpec]) -> list[str]:
    found = []
    if catalog:
        longest = max(catalog, key=len)
        # `{prefix}-{service}` names a Service (a DNS-1035 label) and is a label value: at most
        # 63 characters. The other names are DNS subdomains, so their suffixes have room.
        if len(naming.instance(model.prefix, longest)) > rules.MAX_LABEL:
            found.append(
                f"prefix: {model.prefix!r} is too long for names such as "
                f"'{naming.instance(model.prefix, longest)}'"
            )
    try:
        rules.check_image_tag(naming.image_tag(model.version, model.prefix))
    except ValueError as error:
        found.append(f"version: with the prefix, {error}")
    return found


def _unknown_databases(model: StackSettings, catalog: Mapping[str, ServiceSpec]) -> list[str]:
    databases = {spec.database for spec in catalog.values()}
    return [
        f"externalServices.databaseHosts.{name}: unknown database"
        f"{did_you_mean(name, databases)} (known: {', '.join(sorted(databases))})"
        for name in model.external_services.database_hosts
        if name not in databases
    ]


def _registry(model: StackSettings) -> list[str]:
    if model.registry_username and not model.registry_password:
        return [
            "registryPassword: is required with registryUsername; set it with "
            "`pulumi config set --secret registryPassword <token>`"
        ]
    return []


def _ingress(model: StackSettings) -> list[str]:
    if model.ingress.enabled and not model.ingress.host:
        return ["ingress.host: is required when the ingress is enabled"]
    return []


def _rollout(model: StackSettings) -> list[str]:
    rollout = model.rollout
    found = []
    if rollout.timeout_seconds <= rollout.progress_deadline_seconds:
        found.append(
            f"rollout.timeoutSeconds: {rollout.timeout_seconds} must exceed "
            f"progressDeadlineSeconds ({rollout.progress_deadline_seconds}), so Kubernetes "
            "reports why a rollout is stuck before Pulumi gives up waiting"
        )
    if rollout.min_ready_seconds >= rollout.progress_deadline_seconds:
        found.append(
            f"rollout.minReadySeconds: {rollout.min_ready_seconds} must be below "
            f"progressDeadlineSeconds ({rollout.progress_deadline_seconds})"
        )
    return found


def _quota(model: StackSettings) -> list[str]:
    found = []
    for name, quantity in model.quota.items():
        amount = _amount(quantity)
        if rules.quota_must_be_whole(name):
            if amount != amount.to_integral_value():
                found.append(f"quota.{name}: {quantity!r} must be a whole number of objects")
            elif amount > rules.MAX_QUOTA_COUNT:
                found.append(
                    f"quota.{name}: {quantity!r} is more objects than Kubernetes can count; "
                    f"write at most {rules.MAX_QUOTA_COUNT}"
                )
        if "memory" in name:
            try:
                rules.check_memory(quantity)
            except ValueError as error:
                found.append(f"quota.{name}: {error}")
    return found


def _limit_range_order(limit_range: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The API server's own LimitRange rules: defaultRequest <= default <= max."""
    found = []
    for low, high in (("defaultRequest", "default"), ("default", "max"), ("defaultRequest", "max")):
        for resource, quantity in limit_range.get(low, {}).items():
            bound = limit_range.get(high, {}).get(resource)
            if bound is not None and _compared(resource, quantity) > _compared(resource, bound):
                found.append(
                    f"limitRange.{low}.{resource}: {quantity} exceeds "
                    f"limitRange.{high}.{resource} ({bound})"
                )
    return found


def _compared(resource: str, quantity: str) -> Decimal:
    """A LimitRange amount as the API server compares it: CPU in whole millicores, rounded up
    (a `max` of 5n is 1m to it, and a `defaultRequest` of 1m fits under it)."""
    amount = _amount(quantity)
    if resource == "cpu":
        return (amount * 1000).to_integral_value(rounding=ROUND_CEILING)
    return amount


def _pods_key(service: MicroserviceArgs) -> str:
    """The key that sets how many pods `service` runs at most, and its value."""
    if service.autoscaling:
        return (
            f"services.{service.name}.autoscaling.maxReplicas ({service.autoscaling.max_replicas})"
        )
    return f"services.{service.name}.replicas ({service.replicas})"


def _fits(loaded: Loaded) -> list[str]:
    """A quota or limit range that would stop the services' own pods from running."""
    found = []
    peak: dict[str, Decimal] = {}
    # What each service adds to each quota resource, to name the one that adds the most.
    shares: dict[str, dict[str, Decimal]] = {"pods": {}}
    maximum = loaded.environment.limit_range.get("max", {})
    for service in loaded.services:
        # During a rolling update one extra pod (maxSurge 1) runs beside the desired count.
        pods = service.autoscaling.max_replicas if service.autoscaling else service.replicas
        pods += 1
        shares["pods"][_pods_key(service)] = Decimal(pods)
        for section, values in (
            ("requests", service.resources.requests),
            ("limits", service.resources.limits),
        ):
            for resource, quantity in values.items():
                share = _amount(quantity) * pods
                shares.setdefault(f"{section}.{resource}", {})[_pods_key(service)] = share
        for resource, quantity in service.resources.limits.items():
            if resource in maximum and _amount(quantity) > _amount(maximum[resource]):
                found.append(
                    f"services.{service.name}.resources.limits.{resource}: {quantity} exceeds "
                    f"limitRange.max.{resource} ({maximum[resource]})"
                )
    for name, by_service in shares.items():
        peak[name] = sum(by_service.values(), Decimal(0))
    quota = loaded.environment.quota
    for name in sorted(quota, key=lambda n: (n == "pods", n)):
        key = rules.QUOTA_REQUEST_ALIASES.get(name, name)
        if key not in peak or _amount(quota[name]) >= peak[key]:
            continue
        needed = peak[key]
        biggest = max(shares[key], key=lambda service: shares[key][service])
        if name == "pods":
            what, most = f"{needed.normalize():f} pods", "most of them"
        else:
            what, most = rules.in_unit_of(needed, quota[name]), "most of it"
        found.append(
            f"quota.{name}: {quota[name]} is below the {what} the services need at full scale "
            f"during a rolling update, {most} for {biggest}; lower that or raise the quota"
        )
    return found


# ---- one service --------------------------------------------------------------------------


def _service(
    model: StackSettings,
    raw: Service,
    service: MicroserviceArgs,
    project_dir: Path,
    stand_in_secrets: bool,
) -> list[str]:
    spec = service.spec
    key = f"services.{spec.name}"
    given_secrets = model.secrets.get(spec.name, {})
    found = []

    if raw.autoscaling and "replicas" in raw.model_fields_set:
        found.append(
            f"{key}.replicas: remove it: with autoscaling on, the HorizontalPodAutoscaler sets "
            "the replica count"
        )
    if raw.autoscaling and raw.autoscaling.max_replicas < raw.autoscaling.min_replicas:
        found.append(
            f"{key}.autoscaling.maxReplicas: {raw.autoscaling.max_replicas} is below "
            f"minReplicas {raw.autoscaling.min_replicas}"
        )
    for name in raw.env:
        if name in SENSITIVE_VARIABLES:
            found.append(
                f"{key}.env.{name}: {name} is a secret and must not be stored in plain text; "
                f"set it with `pulumi config set --secret --path 'secrets.{spec.name}.{name}' "
                "<value>`"
            )
    for name in raw.env:
        if name in given_secrets and name not in SENSITIVE_VARIABLES:
            found.append(f"{key}.env.{name}: is also set as a secret; keep only one")
    missing_env = [name for name in spec.required_env if not service.env.get(name)]
    if missing_env:
        found.append(
            f"{key}.env: missing required variable(s) {', '.join(missing_env)}; set each with "
            f"`pulumi config set --path '{key}.env.{missing_env[0]}' <value>`"
        )
    missing = [n for n in required_secrets(spec, raw) if n not in given_secrets]
    if missing and not stand_in_secrets:
        found.append(
            f"secrets.{spec.name}: missing required secret(s) {', '.join(missing)}; set each "
            f"with `pulumi config set --secret --path 'secrets.{spec.name}.{missing[0]}' "
            "<value>`"
        )
    found += _size(f"{key}.env", service.env, "ConfigMap")
    secret_data = {k: v.value for k, v in service.secrets.items()}
    found += _size(f"secrets.{spec.name}", secret_data, "Secret")
    found += _build(key, raw, project_dir)
    if raw.build and raw.image:
        found.append(f"{key}: set either `image` (a published image) or `build`, not both")

    service_type = raw.service_type
    if service_type not in model.allowed_service_types:
        found.append(
            f"{key}.serviceType: {service_type!r} is not allowed in this environment "
            f"(allowedServiceTypes: {', '.join(model.allowed_service_types)})"
        )
    if service_type != "ClusterIP" and not spec.http:
        found.append(f"{key}.serviceType: {spec.name} serves no HTTP and has no Service")
    if raw.node_port is not None and service_type != "NodePort":
        found.append(f"{key}.nodePort: needs serviceType NodePort")

    port = raw.probes.port if raw.probes.port is not None else spec.port
    if port != spec.port:
        found.append(
            f"{key}.probes.port: {spec.name} does not open port {port}; probes must target its "
            f"port {spec.port}"
        )
    if raw.probes.path is not None and not spec.http:
        found.append(f"{key}.probes.path: {spec.name} serves no HTTP; it can only have a TCP check")
    requests = service.resources.requests
    for resource, limit in service.resources.limits.items():
        request = requests.get(resource)
        if request is not None and _amount(limit) < _amount(request):
            found.append(
                f"{key}.resources.limits.{resource}: {limit} is below the request {request}"
            )
    return found


def _is_dir(path: Path) -> bool:
    # A name the file system cannot even look up (too long, a NUL) is no folder either.
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _build(key: str, raw: Service, project_dir: Path) -> list[str]:
    if raw.build is None:
        return []
    build = raw.build
    found = []
    context = project_dir / build.context
    if not _is_dir(context):
        found.append(f"{key}.build.context: {build.context!r} is not a folder")
    dockerfile = project_dir / build.dockerfile if build.dockerfile else None
    if dockerfile is not None and not _is_file(dockerfile):
        found.append(f"{key}.build.dockerfile: {build.dockerfile!r} is not a file")
    elif dockerfile is None and _is_dir(context) and not _is_file(context / "Dockerfile"):
        found.append(
            f"{key}.build.context: {build.context!r} holds no Dockerfile; add one or set "
            "build.dockerfile"
        )
    return found


def _size(key: str, data: Mapping[str, str], kind: str) -> list[str]:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
    if size > rules.MAX_OBJECT_BYTES:
        return [
            f"{key}: the {kind} would hold {size} bytes; Kubernetes accepts at most "
            f"{rules.MAX_OBJECT_BYTES} (1 MiB)"
        ]
    return []
