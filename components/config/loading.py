"""The one load path: raw stack config in, checked `EnvironmentSettings` out, or one error line.

`load()` is a pure function of the values it is given; the render, the tests, the benchmark and
`pulumi up` (through `from_pulumi_config()`) all call it. It checks, in this order, and reports
every problem of a stage together on one line:

1. the stack file as written: secrets stored `secure:`, nothing else (`stack_file`);
2. every key and value against the model (`components.config.model`): unknown keys, types,
   the grammars of names, hosts, images, ARNs, quantities;
3. what needs the catalog or several keys at once: known services and databases, required
   variables and secrets, service types, probe ports, quota and limit range against the
   services' needs, object sizes.

Nothing is registered before it returns, so bad config creates nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
from pydantic import ValidationError

from components import catalog as catalog_module
from components import naming
from components.catalog import (
    AWS_STATIC_CREDENTIALS,
    AWS_VARIABLES,
    SENSITIVE_VARIABLES,
    ServiceSpec,
)
from components.config import rules
from components.config.cluster import cluster_problems, kubeconfig_paths
from components.config.errors import ConfigError, did_you_mean, problems_of, raise_if_any
from components.config.model import LimitRange, Service, StackSettings
from components.config.stack_file import (
    SECRET_PLACEHOLDER,
    StackFileError,
    project_values,
    secure_problems,
    stack_file_config,
)
from components.runtime import under_engine
from components.settings import (
    BuildSettings,
    EnvironmentSettings,
    ExternalSettings,
    ProbeSettings,
    RegistrySettings,
    ResourceSettings,
    Sensitive,
    ServiceSettings,
)

AWS_REGION = "us-east-1"  # fixed in the services' code


@dataclass(frozen=True)
class Loaded:
    settings: EnvironmentSettings
    stand_ins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Service to the required secrets that were missing and stood in by `[secret]`."""


def required_secrets(spec: ServiceSpec, service: Service) -> tuple[str, ...]:
    """The secrets `spec` must be given; with an IAM role (IRSA) the static AWS keys are not."""
    if service.iam_role_arn:
        return tuple(s for s in spec.required_secrets if s not in AWS_STATIC_CREDENTIALS)
    return spec.required_secrets


def load(
    values: Mapping[str, Any],
    *,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    stack_file: tuple[str, Mapping[str, Any]] | None = None,
    catalog: Mapping[str, ServiceSpec] | None = None,
    project_dir: Path | None = None,
    stand_in_secrets: bool = False,
    offline: bool = False,
) -> Loaded:
    """Check the project's config (keys without the namespace) and resolve it.

    `secret_keys`: the keys the engine marks secret. `stack_file`: the stack file's name and its
    project entries as written (with `secure:` leaves), when there is one to check.
    `catalog`: the services (default `components.catalog.CATALOG`). `project_dir`: where build
    contexts are looked up (default: the working directory, the project's under the engine).
    `stand_in_secrets`: an offline render's mode, where a missing required secret reads
    `[secret]` instead of being refused; `pulumi up` never sets it. `offline`: no cluster is
    reached (the render), so the stack need not pin one.
    """
    known = catalog_module.CATALOG if catalog is None else catalog
    problems: list[str] = []
    if stack_file is not None:
        problems += secure_problems(stack_file[1], stack_file[0])
    if values.get("secrets") and "secrets" not in secret_keys:
        problems.append(
            "secrets: values are stored in plain text; set each with "
            "`pulumi config set --secret --path 'secrets.<service>.<VAR>' <value>`"
        )
    try:
        model = StackSettings.model_validate(dict(values))
    except ValidationError as error:
        raise_if_any(problems + problems_of(error))
        raise  # unreachable: a ValidationError always has at least one error
    if model.cluster is None and not offline:
        problems.append(
            "cluster: is required: pin the stack's cluster with `pulumi config set --path "
            "cluster.context <kube context>`, so `pulumi up` never deploys to whichever cluster "
            "kubectl points at"
        )
    raise_if_any(problems)
    return _Resolver(model, known, project_dir or Path.cwd(), stand_in_secrets).resolve()


class _Resolver:
    """Stage 3: the catalog and the rules across keys; collects every problem."""

    def __init__(
        self,
        model: StackSettings,
        known: Mapping[str, ServiceSpec],
        project_dir: Path,
        stand_in_secrets: bool,
    ) -> None:
        self.model = model
        self.known = known
        self.project_dir = project_dir
        self.stand_in_secrets = stand_in_secrets
        self.problems: list[str] = []
        self.stand_ins: dict[str, tuple[str, ...]] = {}

    def fail(self, key: str, problem: str) -> None:
        self.problems.append(f"{key}: {problem}")

    def resolve(self) -> Loaded:
        m = self.model
        for where in ("services", "secrets"):
            for name in getattr(m, where):
                if name not in self.known:
                    self.fail(
                        f"{where}.{name}",
                        f"unknown service{did_you_mean(name, self.known)} "
                        f"(known: {', '.join(sorted(self.known))})",
                    )
        self._names()
        external = self._external()
        services = tuple(self._service(spec, external) for spec in self.known.values())
        registry = self._registry()
        self._ingress()
        self._rollout()
        self._quota()
        limit_range = self._limit_range()
        settings = EnvironmentSettings(
            environment=m.environment,
            prefix=m.prefix,
            version=m.version,
            cluster=m.cluster,
            registry=registry,
            services=services,
            production=m.production,
            protect=m.protect,
            allowed_service_types=m.allowed_service_types,
            external=external,
            network=m.network,
            ingress=m.ingress,
            quota=dict(m.quota),
            limit_range=limit_range,
            rollout=m.rollout,
        )
        if not self.problems:
            self._fits(settings)
        raise_if_any(self.problems)
        return Loaded(settings=settings, stand_ins=self.stand_ins)

    # ---- environment ----------------------------------------------------------------------

    def _names(self) -> None:
        m = self.model
        if self.known:
            longest = max(self.known, key=len)
            if len(naming.ingress_policy(m.prefix, longest)) > rules.MAX_LABEL:
                self.fail(
                    "prefix",
                    f"{m.prefix!r} is too long for names such as "
                    f"'{naming.instance(m.prefix, longest)}'",
                )
        try:
            rules.check_image_tag(naming.image_tag(m.version, m.prefix))
        except ValueError as error:
            self.fail("version", f"with the prefix, {error}")

    def _registry(self) -> RegistrySettings:
        m = self.model
        if m.registry_username and not m.registry_password:
            self.fail(
                "registryPassword",
                "is required with registryUsername; set it with "
                "`pulumi config set --secret registryPassword <token>`",
            )
        return RegistrySettings(
            server=m.registry.rstrip("/"),
            username=m.registry_username or None,
            password=Sensitive(m.registry_password) if m.registry_password else None,
        )

    def _external(self) -> ExternalSettings:
        raw = self.model.external_services
        prefix = self.model.prefix
        databases = {spec.database for spec in self.known.values()}
        for name in raw.database_hosts:
            if name not in databases:
                self.fail(
                    f"externalServices.databaseHosts.{name}",
                    f"unknown database{did_you_mean(name, databases)} "
                    f"(known: {', '.join(sorted(databases))})",
                )
        hosts = {}
        for database in sorted(databases):
            host = raw.database_hosts.get(database, raw.database_host)
            if host:
                hosts[database] = host
        aws: dict[str, str] = {"eventStore": raw.event_store}
        account = raw.aws_account_id
        derived = {}
        if account:
            queue = f"https://sqs.{AWS_REGION}.amazonaws.com/{account}"
            derived = {
                "eventTopicArn": f"arn:aws:sns:{AWS_REGION}:{account}:{prefix}-event-topic",
                "eventQueueUrl": f"{queue}/{prefix}-event-queue",
                "notificationQueueUrl": f"{queue}/{prefix}-notification-queue",
            }
        given = {
            "eventTopicArn": raw.event_topic_arn,
            "eventQueueUrl": raw.event_queue_url,
            "notificationQueueUrl": raw.notification_queue_url,
        }
        for name, value in given.items():
            chosen = value or derived.get(name)
            if chosen:
                aws[name] = chosen
        return ExternalSettings(database_hosts=hosts, aws=aws)

    def _ingress(self) -> None:
        ingress = self.model.ingress
        if ingress.enabled and not ingress.host:
            self.fail("ingress.host", "is required when the ingress is enabled")

    def _rollout(self) -> None:
        rollout = self.model.rollout
        if rollout.timeout_seconds <= rollout.progress_deadline_seconds:
            self.fail(
                "rollout.timeoutSeconds",
                f"{rollout.timeout_seconds} must exceed progressDeadlineSeconds "
                f"({rollout.progress_deadline_seconds}), so Kubernetes reports why a rollout is "
                "stuck before Pulumi gives up waiting",
            )
        if rollout.min_ready_seconds >= rollout.progress_deadline_seconds:
            self.fail(
                "rollout.minReadySeconds",
                f"{rollout.min_ready_seconds} must be below progressDeadlineSeconds "
                f"({rollout.progress_deadline_seconds})",
            )

    def _quota(self) -> None:
        for name, quantity in self.model.quota.items():
            amount = rules.parse_quantity(quantity) or Decimal(0)
            if rules.quota_must_be_whole(name) and amount != amount.to_integral_value():
                self.fail(f"quota.{name}", f"{quantity!r} must be a whole number of objects")

    def _limit_range(self) -> dict[str, dict[str, str]]:
        raw: LimitRange = self.model.limit_range
        sections = {
            "defaultRequest": raw.default_request,
            "default": raw.default,
            "max": raw.max,
        }
        result = {
            name: {k: v for k, v in vars(section).items() if v is not None}
            for name, section in sections.items()
            if section is not None
        }
        # The API server's own LimitRange rules: defaultRequest <= default <= max.
        for low, high in (
            ("defaultRequest", "default"),
            ("default", "max"),
            ("defaultRequest", "max"),
        ):
            for resource, quantity in result.get(low, {}).items():
                bound = result.get(high, {}).get(resource)
                if bound is not None and _amount(quantity) > _amount(bound):
                    self.fail(
                        f"limitRange.{low}.{resource}",
                        f"{quantity} exceeds limitRange.{high}.{resource} ({bound})",
                    )
        return result

    def _fits(self, settings: EnvironmentSettings) -> None:
        """Refuse a quota or limit range that would stop the services' own pods from running."""
        peak_pods = 0
        peak: dict[str, Decimal] = {}
        maximum = settings.limit_range.get("max", {})
        for service in settings.services:
            # During a rolling update one extra pod (maxSurge 1) runs beside the desired count.
            pods = service.autoscaling.max_replicas if service.autoscaling else service.replicas
            pods += 1
            peak_pods += pods
            for section, values in (
                ("requests", service.resources.requests),
                ("limits", service.resources.limits),
            ):
                for resource, quantity in values.items():
                    total = peak.get(f"{section}.{resource}", Decimal(0))
                    peak[f"{section}.{resource}"] = total + _amount(quantity) * pods
            for resource, quantity in service.resources.limits.items():
                if resource in maximum and _amount(quantity) > _amount(maximum[resource]):
                    self.fail(
                        f"services.{service.name}.resources.limits.{resource}",
                        f"{quantity} exceeds limitRange.max.{resource} ({maximum[resource]})",
                    )
        quota = settings.quota
        for name, needed in sorted(peak.items()):
            if name in quota and _amount(quota[name]) < needed:
                self.fail(
                    f"quota.{name}",
                    f"{quota[name]} is below the {needed.normalize():f} the services "
                    "need at full scale during a rolling update",
                )
        if "pods" in quota and _amount(quota["pods"]) < peak_pods:
            self.fail(
                "quota.pods",
                f"{quota['pods']} is below the {peak_pods} pods the services need "
                "at full scale during a rolling update",
            )

    # ---- one service ----------------------------------------------------------------------

    def _service(self, spec: ServiceSpec, external: ExternalSettings) -> ServiceSettings:
        m = self.model
        key = f"services.{spec.name}"
        raw = m.services.get(spec.name) or Service.model_validate({})
        given_secrets = m.secrets.get(spec.name, {})

        if raw.autoscaling and "replicas" in raw.model_fields_set:
            self.fail(
                f"{key}.replicas",
                "remove it: with autoscaling on, the HorizontalPodAutoscaler sets the replica "
                "count",
            )
        if raw.autoscaling and raw.autoscaling.max_replicas < raw.autoscaling.min_replicas:
            self.fail(
                f"{key}.autoscaling.maxReplicas",
                f"{raw.autoscaling.max_replicas} is below minReplicas "
                f"{raw.autoscaling.min_replicas}",
            )

        env = {**spec.env, **_derived_env(spec, m.prefix, external), **raw.env}
        for name in raw.env:
            if name in SENSITIVE_VARIABLES:
                self.fail(
                    f"{key}.env.{name}",
                    f"{name} is a secret and must not be stored in plain text; set it with "
                    f"`pulumi config set --secret --path 'secrets.{spec.name}.{name}' <value>`",
                )
        for name in raw.env:
            if name in given_secrets and name not in SENSITIVE_VARIABLES:
                self.fail(f"{key}.env.{name}", "is also set as a secret; keep only one")
        missing_env = [name for name in spec.required_env if not env.get(name)]
        if missing_env:
            self.fail(
                f"{key}.env",
                f"missing required variable(s) {', '.join(missing_env)}; set each with "
                f"`pulumi config set --path '{key}.env.{missing_env[0]}' <value>`",
            )
        secrets = {name: Sensitive(value) for name, value in given_secrets.items()}
        missing = [n for n in required_secrets(spec, raw) if n not in secrets]
        if missing and self.stand_in_secrets:
            self.stand_ins[spec.name] = tuple(missing)
            secrets.update({name: Sensitive(SECRET_PLACEHOLDER) for name in missing})
        elif missing:
            self.fail(
                f"secrets.{spec.name}",
                f"missing required secret(s) {', '.join(missing)}; set each with "
                "`pulumi config set --secret --path "
                f"'secrets.{spec.name}.{missing[0]}' <value>`",
            )
        _size(self, f"{key}.env", env, "ConfigMap")
        _size(self, f"secrets.{spec.name}", {k: v.value for k, v in secrets.items()}, "Secret")

        build = self._build(key, raw)
        if raw.build and raw.image:
            self.fail(key, "set either `image` (a published image) or `build`, not both")

        service_type = raw.service_type
        if service_type not in m.allowed_service_types:
            self.fail(
                f"{key}.serviceType",
                f"{service_type!r} is not allowed in this environment "
                f"(allowedServiceTypes: {', '.join(m.allowed_service_types)})",
            )
        if service_type != "ClusterIP" and not spec.http:
            self.fail(f"{key}.serviceType", f"{spec.name} serves no HTTP and has no Service")
        if raw.node_port is not None and service_type != "NodePort":
            self.fail(f"{key}.nodePort", "needs serviceType NodePort")

        probes = raw.probes
        port = probes.port if probes.port is not None else spec.port
        if port != spec.port:
            self.fail(
                f"{key}.probes.port",
                f"{spec.name} does not open port {port}; probes must target its port {spec.port}",
            )
        path = probes.path if probes.path is not None else spec.probe_path
        if probes.path is not None and not spec.http:
            self.fail(
                f"{key}.probes.path", f"{spec.name} serves no HTTP; it can only have a TCP check"
            )
            path = None

        return ServiceSettings(
            spec=spec,
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
            resources=self._resources(key, raw),
            build=build,
            image=raw.image,
            service_type=service_type,
            image_pull_policy=raw.image_pull_policy,
            autoscaling=raw.autoscaling,
            iam_role_arn=raw.iam_role_arn,
            ingress_path=(raw.ingress_path or spec.ingress_path) if spec.http else None,
            node_port=raw.node_port,
        )

    def _build(self, key: str, raw: Service) -> BuildSettings | None:
        if raw.build is None:
            return None
        build = raw.build
        context = self.project_dir / build.context
        if not context.is_dir():
            self.fail(f"{key}.build.context", f"{build.context!r} is not a folder")
        dockerfile = self.project_dir / build.dockerfile if build.dockerfile else None
        if dockerfile is not None and not dockerfile.is_file():
            self.fail(f"{key}.build.dockerfile", f"{build.dockerfile!r} is not a file")
        elif dockerfile is None and context.is_dir() and not (context / "Dockerfile").is_file():
            self.fail(
                f"{key}.build.context",
                f"{build.context!r} holds no Dockerfile; add one or set build.dockerfile",
            )
        return BuildSettings(
            context=build.context, dockerfile=build.dockerfile, platform=build.platform
        )

    def _resources(self, key: str, raw: Service) -> ResourceSettings:
        requests = {"cpu": raw.resources.requests.cpu, "memory": raw.resources.requests.memory}
        limits = {"memory": raw.resources.limits.memory}
        if raw.resources.limits.cpu is not None:
            limits["cpu"] = raw.resources.limits.cpu
        for resource, limit in limits.items():
            request = requests.get(resource)
            if request is not None and _amount(limit) < _amount(request):
                self.fail(
                    f"{key}.resources.limits.{resource}", f"{limit} is below the request {request}"
                )
        return ResourceSettings(requests=requests, limits=limits)


def _derived_env(spec: ServiceSpec, prefix: str, external: ExternalSettings) -> dict[str, str]:
    """Variables that follow from the environment's external services."""
    env = {}
    if spec.database in external.database_hosts:
        # The in-cluster ExternalName, so that a database move is one config change.
        env["DB_HOST"] = naming.database_service(prefix, spec.database)
    for name in spec.aws:
        if name in external.aws:
            env[AWS_VARIABLES[name]] = external.aws[name]
    return env


def _size(resolver: _Resolver, key: str, data: Mapping[str, str], kind: str) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
    if size > rules.MAX_OBJECT_BYTES:
        resolver.fail(
            key,
            f"the {kind} would hold {size} bytes; Kubernetes accepts at most "
            f"{rules.MAX_OBJECT_BYTES} (1 MiB)",
        )


def _amount(quantity: str) -> Decimal:
    return rules.parse_quantity(quantity) or Decimal(0)


# ---- under the engine ---------------------------------------------------------------------


@dataclass
class RenderSession:
    """An offline render in progress: its program loads config offline (missing secrets stood
    in, no cluster needed), and this records what that load stood in."""

    loaded: Loaded | None = None


_SESSION: ContextVar[RenderSession | None] = ContextVar("render_session", default=None)


@contextlib.contextmanager
def render_session() -> Iterator[RenderSession]:
    """Run a program under the mock runtime as an offline render: missing secrets stood in."""
    session = RenderSession()
    token = _SESSION.set(session)
    try:
        yield session
    finally:
        _SESSION.reset(token)


def engine_values(project: str) -> tuple[dict[str, Any], set[str]]:
    """Every config entry of `project` the SDK was given, decoded, and the secret ones."""
    given = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key, text in given.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace != project:
            continue
        values[key] = _decode(text)
        if pulumi.runtime.is_config_secret(full_key):
            secret.add(key)
    return values, secret


def _decode(text: Any) -> Any:
    # Objects and lists arrive as JSON; a scalar stays the string the CLI stored ("1.10" is a
    # version, not a number).
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def from_pulumi_config(project_dir: Path) -> EnvironmentSettings:
    """Load the running stack's config, checking `Pulumi.<stack>.yaml` in `project_dir` too."""
    project = pulumi.get_project()
    values, secret_keys = engine_values(project)
    stack_path = project_dir / f"Pulumi.{pulumi.get_stack()}.yaml"
    stack_file = None
    if stack_path.is_file():
        try:
            stack_file = (stack_path.name, project_values(stack_file_config(stack_path), project))
        except StackFileError as error:
            raise ConfigError(str(error)) from None
    session = _SESSION.get()
    loaded = load(
        values,
        secret_keys=secret_keys,
        stack_file=stack_file,
        project_dir=project_dir,
        stand_in_secrets=session is not None,
        offline=session is not None,
    )
    if session is not None:
        session.loaded = loaded
    cluster = loaded.settings.cluster
    if cluster is not None and under_engine():
        # Only a real engine has a kubeconfig to compare; under mocks nothing is reached.
        raise_if_any(cluster_problems(cluster, kubeconfig_paths()))
    return loaded.settings
