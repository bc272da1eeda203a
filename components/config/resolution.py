"""Resolution against the catalog: a validated stack config in, what each component takes out
(`components.args`), as a pure function.

The catalog's per-service defaults (variables, probe and ingress paths) are merged in, and the
values that follow from other keys are worked out: database hosts per database, AWS topic and
queue names from the account, `DB_HOST` and the AWS variables. Nothing here refuses anything;
`components.config.checks` does, over the same model and this function's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components import naming
from components.args import (
    BuildSettings,
    EnvironmentArgs,
    MicroserviceArgs,
    ProbeSettings,
    RegistrySettings,
    ResourceSettings,
    Sensitive,
)
from components.catalog import AWS_STATIC_CREDENTIALS, AWS_VARIABLES, ServiceSpec
from components.config.model import Service, StackSettings
from components.config.stack_file import SECRET_PLACEHOLDER


@dataclass(frozen=True)
class Loaded:
    """One stack, checked: its validated config and what each component takes."""

    config: StackSettings
    environment: EnvironmentArgs
    services: tuple[MicroserviceArgs, ...]
    """Every catalog service, in the catalog's order."""
    stand_ins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Service to the required secrets that were missing and stood in by `[secret]`."""


@dataclass(frozen=True)
class _External:
    """The AWS services outside the cluster (the seed's "Interaction with external services")."""

    database_hosts: Mapping[str, str]
    """Database name to its RDS endpoint; each becomes an ExternalName Service."""
    aws: Mapping[str, str]
    """`AWS_VARIABLES` keys to their values (topic ARN, queue URLs, table name)."""


def required_secrets(spec: ServiceSpec, service: Service) -> tuple[str, ...]:
    """The secrets `spec` must be given; with an IAM role (IRSA) the static AWS keys are not."""
    if service.iam_role_arn:
        return tuple(s for s in spec.required_secrets if s not in AWS_STATIC_CREDENTIALS)
    return spec.required_secrets


def service_config(model: StackSettings, name: str) -> Service:
    """`services.<name>` as the stack sets it, every field at its default where it does not."""
    return model.services.get(name) or Service.model_validate({})


def resolve(
    model: StackSettings, catalog: Mapping[str, ServiceSpec], *, stand_in_secrets: bool
) -> Loaded:
    """The environment `model` describes, every catalog service in it.

    `stand_in_secrets`: a missing required secret reads `[secret]` (an offline render) and is
    listed in `Loaded.stand_ins`; otherwise it is simply absent (the checks refuse it).
    """
    external = _external(model, catalog)
    registry = RegistrySettings(
        server=model.registry.rstrip("/"),
        username=model.registry_username or None,
        password=Sensitive(model.registry_password) if model.registry_password else None,
    )
    stand_ins: dict[str, tuple[str, ...]] = {}
    services = []
    for spec in catalog.values():
        service, missing = _service(model, spec, external, registry, stand_in_secrets)
        services.append(service)
        if missing:
            stand_ins[spec.name] = missing
    environment = EnvironmentArgs(
        environment=model.environment,
        prefix=model.prefix,
        production=model.production,
        protect=model.protect,
        allowed_service_types=model.allowed_service_types,
        quota=dict(model.quota),
        limit_range=limit_range(model),
        database_hosts=external.database_hosts,
        network=model.network,
    )
    return Loaded(
        config=model, environment=environment, services=tuple(services), stand_ins=stand_ins
    )


def limit_range(model: StackSettings) -> dict[str, dict[str, str]]:
    """`defaultRequest`, `default` and `max`, each with the resources it sets."""
    raw = model.limit_range
    sections = {"defaultRequest": raw.default_request, "default": raw.default, "max": raw.max}
    return {
        name: {k: v for k, v in vars(section).items() if v is not None}
        for name, section in sections.items()
        if section is not None
    }


def _external(model: StackSettings, catalog: Mapping[str, ServiceSpec]) -> _External:
    raw = model.external_services
    databases = {spec.database for spec in catalog.values()}
    hosts = {}
    for database in sorted(databases):
        host = raw.database_hosts.get(database, raw.database_host)
        if host:
            hosts[database] = host
    return _External(database_hosts=hosts, aws=model.aws)


def _derived_env(spec: ServiceSpec, prefix: str, external: _External) -> dict[str, str]:
    """Variables that follow from the environment's external services."""
    env = {}
    if spec.database in external.database_hosts:
        # The in-cluster ExternalName, so that a database move is one config change.
        env["DB_HOST"] = naming.database_service(prefix, spec.database)
    for name in spec.aws:
        if name in external.aws:
            env[AWS_VARIABLES[name]] = external.aws[name]
    return env


def _service(
    model: StackSettings,
    spec: ServiceSpec,
    external: _External,
    registry: RegistrySettings,
    stand_in_secrets: bool,
) -> tuple[MicroserviceArgs, tuple[str, ...]]:
    """One service's settings, and the required secrets stood in for it."""
    raw = service_config(model, spec.name)
    env = {**spec.env, **_derived_env(spec, model.prefix, external), **raw.env}
    secrets = {name: Sensitive(value) for name, value in model.secrets.get(spec.name, {}).items()}
    stood_in: tuple[str, ...] = ()
    if stand_in_secrets:
        stood_in = tuple(n for n in required_secrets(spec, raw) if n not in secrets)
        secrets.update({name: Sensitive(SECRET_PLACEHOLDER) for name in stood_in})
    probes = raw.probes
    path = probes.path if probes.path is not None else spec.probe_path
    if probes.path is not None and not spec.http:
        path = None  # refused by the checks: a service without HTTP has a TCP check
    requests = {"cpu": raw.resources.requests.cpu, "memory": raw.resources.requests.memory}
    limits = {"memory": raw.resources.limits.memory}
    if raw.resources.limits.cpu is not None:
        limits["cpu"] = raw.resources.limits.cpu
    build = raw.build
    args = MicroserviceArgs(
        spec=spec,
        namespace=model.environment,
        prefix=model.prefix,
        version=model.version,
        registry=registry,
        rollout=model.rollout,
        network=model.network,
        ingress=model.ingress,
        replicas=raw.replicas,
        env=env,
        secrets=secrets,
        probes=ProbeSettings(
            path=path,
            timings={
                "startup": probes.startup,
                "readiness": probes.readiness,
                "liveness": probes.liveness,
            },
        ),
        resources=ResourceSettings(requests=requests, limits=limits),
        build=(
            BuildSettings(
                context=build.context, dockerfile=build.dockerfile, platform=build.platform
            )
            if build is not None
            else None
        ),
        image=raw.image,
        service_type=raw.service_type,
        image_pull_policy=raw.image_pull_policy,
        autoscaling=raw.autoscaling,
        iam_role_arn=raw.iam_role_arn,
        ingress_path=(raw.ingress_path or spec.ingress_path) if spec.http else None,
        node_port=raw.node_port,
    )
    return args, stood_in
