"""Stack config, read and checked in full before the program registers a single resource.

`load()` turns the raw values of the project's config namespace into typed settings, or raises
`ConfigError` (a `pulumi.RunError`, so the CLI prints one line and no traceback) naming every key
that is wrong. Nothing here talks to the Pulumi engine, so the offline render and the tests use the
same checks as `pulumi up`. The README's config reference lists every key and its default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pulumi

from components import catalog
from components.catalog import AWS_VARIABLES, DEFAULT_REGISTRY, ServiceSpec
from components.checks import MAX_NAME, Checker, kind_of, parse_quantity
from components.service_settings import (
    SERVICE_TYPES,
    Sensitive,
    ServiceSettings,
    parse_service,
    required_secrets,
)

__all__ = [
    "ConfigError",
    "EnvironmentSettings",
    "Sensitive",
    "ServiceSettings",
    "from_pulumi_config",
    "load",
    "required_secrets",
]

# A version must fit both an image tag and a label value.
_VERSION = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
AWS_REGION = "us-east-1"  # fixed in the services' code

EXTERNAL_KEYS = frozenset({"databaseHost", "databaseHosts", "awsAccountId", *AWS_VARIABLES})
NETWORK_KEYS = frozenset({"ingressNamespace", "ingressCidrs", "databaseCidrs", "httpsCidrs"})
INGRESS_KEYS = frozenset({"enabled", "className", "host", "tlsSecretName", "skipAwait"})
ROLLOUT_KEYS = frozenset(
    {"timeoutSeconds", "progressDeadlineSeconds", "minReadySeconds", "skipAwait"}
)
LIMIT_RANGE_KEYS = frozenset({"defaultRequest", "default", "max"})

DEFAULT_QUOTA = {
    "requests.cpu": "4",
    "requests.memory": "8Gi",
    "limits.memory": "16Gi",
    "pods": "50",
}
DEFAULT_LIMIT_RANGE = {
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
    "default": {"memory": "256Mi"},
    "max": {"memory": "2Gi"},
}


class ConfigError(pulumi.RunError):
    """Stack config that cannot be deployed; the message names each offending key."""


@dataclass(frozen=True)
class RegistrySettings:
    server: str
    username: str | None = None
    password: Sensitive | None = None


@dataclass(frozen=True)
class ExternalSettings:
    """The AWS services outside the cluster (the seed's "Interaction with external services")."""

    database_hosts: Mapping[str, str] = field(default_factory=dict)
    """Database name to its RDS endpoint; each becomes an ExternalName Service."""
    aws: Mapping[str, str] = field(default_factory=dict)
    """`AWS_VARIABLES` keys to their values (topic ARN, queue URLs, table name)."""


@dataclass(frozen=True)
class NetworkSettings:
    ingress_namespace: str = "kong"
    ingress_cidrs: tuple[str, ...] = ()
    """Extra client addresses allowed to the HTTP ports (node-port traffic on a kind cluster)."""
    database_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    https_cidrs: tuple[str, ...] = ("0.0.0.0/0",)


@dataclass(frozen=True)
class IngressSettings:
    enabled: bool = False
    class_name: str = "kong"
    host: str | None = None
    tls_secret_name: str | None = None
    skip_await: bool = False
    """True: `pulumi up` does not wait for the controller to publish `status.loadBalancer`.
    Kong publishes it (its proxy Service's address) unless that Service never gets one."""


@dataclass(frozen=True)
class RolloutSettings:
    timeout_seconds: int = 600
    progress_deadline_seconds: int = 300
    min_ready_seconds: int = 10
    skip_await: bool = False
    """True: `pulumi up` does not wait for rollouts (a local cluster whose backends are absent)."""


@dataclass(frozen=True)
class EnvironmentSettings:
    """Everything one stack (one environment) deploys."""

    environment: str
    prefix: str
    version: str
    registry: RegistrySettings
    services: tuple[ServiceSettings, ...]
    production: bool = False
    """Production rules apply (protect, 2+ replicas); default: the environment is `production`."""
    protect: bool = False
    """Guard the namespace against `pulumi destroy` and renames; default: `production`."""
    allowed_service_types: tuple[str, ...] = ("ClusterIP",)
    external: ExternalSettings = field(default_factory=ExternalSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    ingress: IngressSettings = field(default_factory=IngressSettings)
    quota: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_QUOTA))
    limit_range: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_LIMIT_RANGE.items()}
    )
    rollout: RolloutSettings = field(default_factory=RolloutSettings)

    @property
    def image_tag(self) -> str:
        return f"{self.version}-{self.prefix}"

    def object_name(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def database_service_name(self, database: str) -> str:
        return f"{self.prefix}-{database}-db"


def _external(check: Checker, prefix: str, value: Any) -> ExternalSettings:
    raw = check.mapping("externalServices", value)
    check.unknown_keys("externalServices", raw, EXTERNAL_KEYS)
    default_host = check.string("externalServices.databaseHost", raw.get("databaseHost"))
    hosts_raw = check.mapping("externalServices.databaseHosts", raw.get("databaseHosts"))
    known_databases = {spec.database for spec in catalog.CATALOG.values()}
    check.unknown_keys("externalServices.databaseHosts", hosts_raw, known_databases)
    hosts = {}
    for database in sorted(known_databases):
        host = check.string(
            f"externalServices.databaseHosts.{database}",
            hosts_raw.get(database),
            default=default_host,
        )
        if host:
            hosts[database] = host

    account = raw.get("awsAccountId")
    if account is not None:
        account = str(account)
        if not re.fullmatch(r"[0-9]{12}", account):
            check.fail(
                "externalServices.awsAccountId", f"{account!r} is not a 12-digit AWS account id"
            )
            account = None
    defaults: dict[str, str] = {"eventStore": "event-store"}
    if account:
        defaults.update(
            eventTopicArn=f"arn:aws:sns:{AWS_REGION}:{account}:{prefix}-event-topic",
            eventQueueUrl=f"https://sqs.{AWS_REGION}.amazonaws.com/{account}/{prefix}-event-queue",
            notificationQueueUrl=(
                f"https://sqs.{AWS_REGION}.amazonaws.com/{account}/{prefix}-notification-queue"
            ),
        )
    aws = {}
    for name in AWS_VARIABLES:
        value = check.string(f"externalServices.{name}", raw.get(name), default=defaults.get(name))
        if value:
            aws[name] = value
    return ExternalSettings(database_hosts=hosts, aws=aws)


def _network(check: Checker, value: Any) -> NetworkSettings:
    raw = check.mapping("network", value)
    check.unknown_keys("network", raw, NETWORK_KEYS)
    base = NetworkSettings()
    namespace = check.label("network.ingressNamespace", raw.get("ingressNamespace"), required=False)
    return NetworkSettings(
        ingress_namespace=namespace or base.ingress_namespace,
        ingress_cidrs=check.strings(
            "network.ingressCidrs", raw.get("ingressCidrs"), default=base.ingress_cidrs
        ),
        database_cidrs=check.strings(
            "network.databaseCidrs", raw.get("databaseCidrs"), default=base.database_cidrs
        ),
        https_cidrs=check.strings(
            "network.httpsCidrs", raw.get("httpsCidrs"), default=base.https_cidrs
        ),
    )


def _ingress(check: Checker, value: Any) -> IngressSettings:
    raw = check.mapping("ingress", value)
    check.unknown_keys("ingress", raw, INGRESS_KEYS)
    enabled = check.boolean("ingress.enabled", raw.get("enabled"), default=bool(raw))
    host = check.string("ingress.host", raw.get("host"))
    if enabled and not host:
        check.fail("ingress.host", "is required when the ingress is enabled")
    return IngressSettings(
        enabled=enabled,
        class_name=check.string("ingress.className", raw.get("className"), default="kong")
        or "kong",
        host=host,
        tls_secret_name=check.label(
            "ingress.tlsSecretName", raw.get("tlsSecretName"), required=False
        ),
        skip_await=check.boolean("ingress.skipAwait", raw.get("skipAwait"), default=False),
    )


def _rollout(check: Checker, value: Any) -> RolloutSettings:
    raw = check.mapping("rollout", value)
    check.unknown_keys("rollout", raw, ROLLOUT_KEYS)
    base = RolloutSettings()
    rollout = RolloutSettings(
        timeout_seconds=check.integer(
            "rollout.timeoutSeconds",
            raw.get("timeoutSeconds"),
            default=base.timeout_seconds,
            minimum=1,
        ),
        progress_deadline_seconds=check.integer(
            "rollout.progressDeadlineSeconds",
            raw.get("progressDeadlineSeconds"),
            default=base.progress_deadline_seconds,
            minimum=1,
        ),
        min_ready_seconds=check.integer(
            "rollout.minReadySeconds", raw.get("minReadySeconds"), default=base.min_ready_seconds
        ),
        skip_await=check.boolean("rollout.skipAwait", raw.get("skipAwait"), default=False),
    )
    if rollout.timeout_seconds <= rollout.progress_deadline_seconds:
        check.fail(
            "rollout.timeoutSeconds",
            f"{rollout.timeout_seconds} must exceed progressDeadlineSeconds "
            f"({rollout.progress_deadline_seconds}), so Kubernetes reports why a rollout is stuck "
            "before Pulumi gives up waiting",
        )
    if rollout.min_ready_seconds >= rollout.progress_deadline_seconds:
        check.fail(
            "rollout.minReadySeconds",
            f"{rollout.min_ready_seconds} must be below progressDeadlineSeconds "
            f"({rollout.progress_deadline_seconds})",
        )
    return rollout


def _quantities(check: Checker, key: str, value: Any, default: Mapping[str, str]) -> dict[str, str]:
    if value is None:
        return dict(default)
    result = {}
    for name, item in check.mapping(key, value).items():
        parsed = check.quantity(f"{key}.{name}", item)
        if parsed is not None:
            result[name] = parsed[0]
    return result


def _limit_range(check: Checker, value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {k: dict(v) for k, v in DEFAULT_LIMIT_RANGE.items()}
    raw = check.mapping("limitRange", value)
    check.unknown_keys("limitRange", raw, LIMIT_RANGE_KEYS)
    result = {}
    for section in sorted(LIMIT_RANGE_KEYS):
        if raw.get(section) is not None:
            key = f"limitRange.{section}"
            section_raw = check.mapping(key, raw.get(section))
            check.unknown_keys(key, section_raw, {"cpu", "memory"})
            result[section] = _quantities(check, key, section_raw, {})
    return result


def _fits(check: Checker, settings: EnvironmentSettings) -> None:
    """Refuse a quota or limit range that would stop the services' own pods from running."""
    peak_pods = 0
    peak: dict[str, Decimal] = {}
    for service in settings.services:
        # During a rolling update one extra pod (maxSurge 1) runs beside the desired count.
        pods = (service.autoscaling.max_replicas if service.autoscaling else service.replicas) + 1
        peak_pods += pods
        for section, values in (
            ("requests", service.resources.requests),
            ("limits", service.resources.limits),
        ):
            for resource, quantity in values.items():
                amount = parse_quantity(quantity) or Decimal(0)
                peak[f"{section}.{resource}"] = (
                    peak.get(f"{section}.{resource}", Decimal(0)) + amount * pods
                )
        maximum = settings.limit_range.get("max", {})
        for resource, quantity in service.resources.limits.items():
            if resource in maximum and (parse_quantity(quantity) or 0) > (
                parse_quantity(maximum[resource]) or 0
            ):
                check.fail(
                    f"services.{service.name}.resources.limits.{resource}",
                    f"{quantity} exceeds limitRange.max.{resource} ({maximum[resource]})",
                )
    for name, needed in sorted(peak.items()):
        if name in settings.quota and (parse_quantity(settings.quota[name]) or 0) < needed:
            check.fail(
                f"quota.{name}",
                f"{settings.quota[name]} is below the {needed.normalize():f} the services "
                "need at full scale during a rolling update",
            )
    if "pods" in settings.quota and (parse_quantity(settings.quota["pods"]) or 0) < peak_pods:
        check.fail(
            "quota.pods",
            f"{settings.quota['pods']} is below the {peak_pods} pods the services need "
            "at full scale during a rolling update",
        )


def _registry(check: Checker, raw: Mapping[str, Any]) -> RegistrySettings:
    server = raw.get("registry") or DEFAULT_REGISTRY
    if not isinstance(server, str):
        check.fail("registry", f"must be a string, not {kind_of(server)}")
        server = DEFAULT_REGISTRY
    username = check.string("registryUsername", raw.get("registryUsername"))
    password = raw.get("registryPassword")
    if username and not password:
        check.fail(
            "registryPassword",
            "is required with registryUsername; set it with "
            "`pulumi config set --secret registryPassword <token>`",
        )
    return RegistrySettings(
        server=server.rstrip("/"),
        username=username or None,
        password=Sensitive(str(password)) if password else None,
    )


def _allowed_service_types(check: Checker, value: Any) -> tuple[str, ...]:
    types = check.strings("allowedServiceTypes", value, default=("ClusterIP",))
    for item in types:
        if item not in SERVICE_TYPES:
            check.fail("allowedServiceTypes", f"{item!r} is not one of {', '.join(SERVICE_TYPES)}")
    return types


def _derived_env(spec: ServiceSpec, prefix: str, external: ExternalSettings) -> dict[str, str]:
    """Variables that follow from the environment's external services."""
    env = {}
    if spec.database in external.database_hosts:
        # The in-cluster ExternalName, so that a database move is one config change.
        env["DB_HOST"] = f"{prefix}-{spec.database}-db"
    for name in spec.aws:
        if name in external.aws:
            env[AWS_VARIABLES[name]] = external.aws[name]
    return env


def load(
    raw: Mapping[str, Any],
    *,
    secret_keys: Iterable[str] = (),
    services_catalog: Mapping[str, ServiceSpec] | None = None,
) -> EnvironmentSettings:
    """Check the project's config (keys without the namespace) and return typed settings.

    `secret_keys` lists the keys the CLI marks as secret; `secrets` must be one of them, which
    is what `pulumi config set --secret --path ...` makes it.
    """
    check = Checker()
    secret_keys = set(secret_keys)
    known = catalog.CATALOG if services_catalog is None else services_catalog

    environment = check.label("environment", raw.get("environment"), required=True)
    prefix = check.label("prefix", raw.get("prefix"), required=True)
    version = raw.get("version")
    if version is None or version == "":
        check.fail("version", "is required; set it with `pulumi config set version <x.y.z>`")
    elif not isinstance(version, str) or not _VERSION.match(version) or len(version) > 63:
        check.fail("version", f"{version!r} cannot be an image tag and label value")

    registry = _registry(check, raw)
    services_raw = check.mapping("services", raw.get("services"))
    secrets_raw = check.mapping("secrets", raw.get("secrets"))
    if secrets_raw and "secrets" not in secret_keys:
        check.fail(
            "secrets",
            "values are stored in plain text; set each with "
            "`pulumi config set --secret --path 'secrets.<service>.<VAR>' <value>`",
        )
    for name in sorted(set(services_raw) | set(secrets_raw)):
        if name not in known:
            where = "services" if name in services_raw else "secrets"
            check.fail(f"{where}.{name}", f"unknown service (known: {', '.join(sorted(known))})")

    # With a bad prefix, derive names from a stand-in so the one real error is not buried under
    # "missing variable" errors that follow from it.
    name_prefix = prefix or "invalid-prefix"
    external = _external(check, name_prefix, raw.get("externalServices"))
    allowed_types = _allowed_service_types(check, raw.get("allowedServiceTypes"))
    services = tuple(
        parse_service(
            check,
            spec,
            services_raw.get(spec.name),
            secrets_raw.get(spec.name),
            derived_env=_derived_env(spec, name_prefix, external),
            allowed_types=allowed_types,
        )
        for spec in known.values()
    )
    if prefix is not None:
        longest = max(known, key=len)
        # `-allow-ingress` is the longest suffix the program appends to a service's name.
        if len(f"{prefix}-{longest}-allow-ingress") > MAX_NAME:
            check.fail("prefix", f"{prefix!r} is too long for names such as '{prefix}-{longest}'")

    production = check.boolean(
        "production", raw.get("production"), default=environment == "production"
    )
    settings = EnvironmentSettings(
        environment=environment or "",
        prefix=prefix or "",
        version=version if isinstance(version, str) else "",
        registry=registry,
        services=services,
        production=production,
        protect=check.boolean("protect", raw.get("protect"), default=production),
        allowed_service_types=allowed_types,
        external=external,
        network=_network(check, raw.get("network")),
        ingress=_ingress(check, raw.get("ingress")),
        quota=_quantities(check, "quota", raw.get("quota"), DEFAULT_QUOTA),
        limit_range=_limit_range(check, raw.get("limitRange")),
        rollout=_rollout(check, raw.get("rollout")),
    )
    if not check.errors:
        _fits(check, settings)
    if check.errors:
        raise ConfigError("invalid stack config: " + "; ".join(check.errors))
    return settings


# Keys read with `get` (strings) and with `get_object` (YAML objects) from the stack config.
_SCALAR_KEYS = (
    "environment",
    "prefix",
    "version",
    "registry",
    "registryUsername",
    "production",
    "protect",
)
_OBJECT_KEYS = (
    "services",
    "secrets",
    "allowedServiceTypes",
    "externalServices",
    "network",
    "ingress",
    "quota",
    "limitRange",
    "rollout",
)


def from_pulumi_config(config: pulumi.Config | None = None) -> EnvironmentSettings:
    """Read the current stack's config through the Pulumi SDK and check it."""
    config = config or pulumi.Config()
    raw: dict[str, Any] = {key: config.get(key) for key in _SCALAR_KEYS}
    raw.update({key: _object(config, key) for key in _OBJECT_KEYS})
    # Read as plain values only to check them; the components turn them back into secrets.
    raw["registryPassword"] = config.get("registryPassword")
    secret_keys = ["secrets"] if pulumi.runtime.is_config_secret(f"{config.name}:secrets") else []
    return load(raw, secret_keys=secret_keys)


def _object(config: pulumi.Config, key: str) -> Any:
    try:
        return config.get_object(key)
    except ValueError:
        # A plain string where a mapping belongs: hand it on so the check names its type.
        return config.get(key)
