"""Stack config, read and checked in full before the program registers a single resource.

`load()` turns the raw values of the project's config namespace into typed settings, or raises
`ConfigError` (a `pulumi.RunError`, so the CLI prints one line and no traceback) naming every key
that is wrong. Nothing here talks to the Pulumi engine, so the offline render and the tests use the
same checks as `pulumi up`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import catalog
from components.catalog import DEFAULT_REGISTRY, SENSITIVE_VARIABLES, ServiceSpec

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A version must fit both an image tag and a label value.
_VERSION = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_MAX_NAME = 63

SERVICE_KEYS = frozenset({"replicas", "env", "build", "image", "imagePullPolicy", "serviceType"})
BUILD_KEYS = frozenset({"context", "dockerfile", "platform"})
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")


class ConfigError(pulumi.RunError):
    """Stack config that cannot be deployed; the message names each offending key."""


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
class ServiceSettings:
    """One catalog service as this environment runs it."""

    spec: ServiceSpec
    replicas: int
    env: Mapping[str, str]
    secrets: Mapping[str, Sensitive]
    build: BuildSettings | None = None
    image: str | None = None
    service_type: str = "ClusterIP"
    image_pull_policy: str | None = None
    """None: `IfNotPresent` for a digest, `Always` for a tag (tags are re-pushed per commit)."""

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class RegistrySettings:
    server: str
    username: str | None = None
    password: Sensitive | None = None


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
    allowed_service_types: tuple[str, ...] = ("ClusterIP",)

    @property
    def image_tag(self) -> str:
        return f"{self.version}-{self.prefix}"

    def object_name(self, service: str) -> str:
        return f"{self.prefix}-{service}"


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


class _Checker:
    """Collects every problem so one run names all of them."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, key: str, problem: str) -> None:
        self.errors.append(f"{key}: {problem}")

    def mapping(self, key: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping, not {_kind(value)}")
            return {}
        return value

    def label(self, key: str, value: Any, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                self.fail(key, f"is required; set it with `pulumi config set {key} <value>`")
            return None
        if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > _MAX_NAME:
            self.fail(
                key,
                f"{value!r} is not a DNS label (lower-case letters, digits and '-', "
                "starting with a letter, at most 63 characters)",
            )
            return None
        return value

    def unknown_keys(self, key: str, value: Mapping[str, Any], allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in sorted(set(value) - allowed):
            self.fail(f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _env_values(check: _Checker, key: str, raw: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, value in check.mapping(key, raw).items():
        var_key = f"{key}.{name}"
        if not _ENV_NAME.match(str(name)):
            check.fail(
                var_key,
                "not a valid variable name (letters, digits and '_', not starting with a digit)",
            )
            continue
        if name in SENSITIVE_VARIABLES:
            service = key.split(".")[1]
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
            check.fail(var_key, f"must be a string, not {_kind(value)}")
    return env


def _secret_values(check: _Checker, key: str, raw: Any) -> dict[str, Sensitive]:
    secrets: dict[str, Sensitive] = {}
    for name, value in check.mapping(key, raw).items():
        var_key = f"{key}.{name}"
        if not _ENV_NAME.match(str(name)):
            check.fail(
                var_key,
                "not a valid variable name (letters, digits and '_', not starting with a digit)",
            )
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            secrets[name] = Sensitive(str(value))
        else:
            check.fail(var_key, f"must be a string, not {_kind(value)}")
    return secrets


def _replicas(check: _Checker, key: str, value: Any) -> int:
    if value is None:
        return 1
    # JSON from the CLI may carry 2 as 2.0; a bool is an int in Python but never a count.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        check.fail(key, f"must be a whole number, not {value!r}")
        return 0
    if value < 0:
        check.fail(key, f"must be 0 or more, not {value}")
        return 0
    return value


def _build(check: _Checker, key: str, value: Any) -> BuildSettings | None:
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
    for optional in ("dockerfile", "platform"):
        if raw.get(optional) is not None and not isinstance(raw.get(optional), str):
            check.fail(f"{key}.{optional}", f"must be a string, not {_kind(raw.get(optional))}")
    return BuildSettings(
        context=context,
        dockerfile=raw.get("dockerfile"),
        platform=raw.get("platform"),
    )


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
    check = _Checker()
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
            check.fail(
                f"{where}.{name}",
                f"unknown service (known: {', '.join(sorted(known))})",
            )

    services = []
    allowed_types = _allowed_service_types(check, raw.get("allowedServiceTypes"))
    for spec in known.values():
        services.append(
            _service(
                check, spec, services_raw.get(spec.name), secrets_raw.get(spec.name), allowed_types
            )
        )

    if prefix is not None:
        longest = max(known, key=len)
        if len(f"{prefix}-{longest}") > _MAX_NAME:
            check.fail(
                "prefix", f"{prefix!r} is too long: '{prefix}-{longest}' exceeds 63 characters"
            )

    production = raw.get("production")
    if production is None:
        production = environment == "production"
    elif isinstance(production, str) and production in ("true", "false"):
        production = production == "true"
    elif not isinstance(production, bool):
        check.fail("production", f"must be true or false, not {production!r}")

    if check.errors:
        raise ConfigError("invalid stack config: " + "; ".join(check.errors))
    assert environment and prefix and isinstance(version, str)
    return EnvironmentSettings(
        environment=environment,
        prefix=prefix,
        version=version,
        registry=registry,
        services=tuple(services),
        production=bool(production),
        allowed_service_types=allowed_types,
    )


def _registry(check: _Checker, raw: Mapping[str, Any]) -> RegistrySettings:
    server = raw.get("registry") or DEFAULT_REGISTRY
    if not isinstance(server, str):
        check.fail("registry", f"must be a string, not {_kind(server)}")
        server = DEFAULT_REGISTRY
    username = raw.get("registryUsername")
    password = raw.get("registryPassword")
    if username is not None and not isinstance(username, str):
        check.fail("registryUsername", f"must be a string, not {_kind(username)}")
        username = None
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


def required_secrets(spec: ServiceSpec, raw_service: Any) -> tuple[str, ...]:
    """The secrets `spec` must be given in an environment whose config for it is `raw_service`."""
    del raw_service  # reserved for settings that waive a secret
    return spec.required_secrets


def _allowed_service_types(check: _Checker, value: Any) -> tuple[str, ...]:
    if value is None:
        return ("ClusterIP",)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.fail("allowedServiceTypes", f"must be a list of Service types, not {_kind(value)}")
        return ("ClusterIP",)
    for item in value:
        if item not in SERVICE_TYPES:
            check.fail("allowedServiceTypes", f"{item!r} is not one of {', '.join(SERVICE_TYPES)}")
    return tuple(value)


def _service(
    check: _Checker,
    spec: ServiceSpec,
    raw_service: Any,
    raw_secrets: Any,
    allowed_types: tuple[str, ...],
) -> ServiceSettings:
    key = f"services.{spec.name}"
    raw = check.mapping(key, raw_service)
    check.unknown_keys(key, raw, SERVICE_KEYS)
    replicas = _replicas(check, f"{key}.replicas", raw.get("replicas"))
    env = {**spec.env, **_env_values(check, f"{key}.env", raw.get("env"))}
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
    missing_secrets = [name for name in required_secrets(spec, raw) if name not in secrets]
    if missing_secrets:
        check.fail(
            f"secrets.{spec.name}",
            f"missing required secret(s) {', '.join(missing_secrets)}; set each with "
            "`pulumi config set --secret --path "
            f"'secrets.{spec.name}.{missing_secrets[0]}' <value>`",
        )

    image = raw.get("image")
    if image is not None and (not isinstance(image, str) or not image):
        check.fail(f"{key}.image", f"must be an image reference, not {_kind(image)}")
        image = None
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

    pull_policy = raw.get("imagePullPolicy")
    if pull_policy is not None and pull_policy not in PULL_POLICIES:
        check.fail(
            f"{key}.imagePullPolicy", f"{pull_policy!r} is not one of {', '.join(PULL_POLICIES)}"
        )
        pull_policy = None

    return ServiceSettings(
        spec=spec,
        image_pull_policy=pull_policy,
        replicas=replicas,
        env=env,
        secrets=secrets,
        build=build,
        image=image,
        service_type=service_type,
    )


def from_pulumi_config(config: pulumi.Config | None = None) -> EnvironmentSettings:
    """Read the current stack's config through the Pulumi SDK and check it."""
    config = config or pulumi.Config()
    raw: dict[str, Any] = {}
    secret_keys = []
    for key in ("environment", "prefix", "version", "registry", "registryUsername", "production"):
        raw[key] = config.get(key)
    for key in ("services", "secrets", "allowedServiceTypes"):
        raw[key] = _object(config, key)
    # Read as plain values only to check them; the component turns them back into secrets.
    raw["registryPassword"] = config.get("registryPassword")
    full_key = f"{config.name}:secrets"
    if pulumi.runtime.is_config_secret(full_key):
        secret_keys.append("secrets")
    return load(raw, secret_keys=secret_keys)


def _object(config: pulumi.Config, key: str) -> Any:
    try:
        return config.get_object(key)
    except ValueError:
        # A plain string where a mapping belongs: hand it on so the check names its type.
        return config.get(key)
