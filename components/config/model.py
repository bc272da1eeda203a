"""The stack config, declared once: every key with its type, default and description.

A stack file's `notification-delivery:<key>` entries validate against `StackSettings`. The JSON
Schema editors use (`schema/stack-config.schema.json`) and the reference in `docs/config.md` are
generated from these classes (`python -m tools.config_reference --write`), so the three cannot
disagree. Unknown keys are refused at every depth (`extra="forbid"`).

What a single field cannot say (the catalog's services and databases, rules across fields) is
checked by `components.config.loading`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.config import rules
from components.config.coercions import (
    account_text,
    flag,
    ingress_on_when_given,
    scalar_text,
    whole_number,
)

AWS_REGION = "us-east-1"
"""Fixed in the services' code; the derived topic and queue names are in it."""

DEFAULT_REGISTRY = "docker.io/adisakshya"
"""Where the published images live (`{registry}/{service}:{version}-{prefix}`)."""

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
NODE_PORT_RANGE = (30000, 32767)


# ---- value types --------------------------------------------------------------------------


def unwrap(annotation: Any) -> Any:
    """A field's type without `Annotated[...]` and without `| None`: what a value of it is."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


_M = TypeVar("_M", bound=BaseModel)


def _defaults(model: type[_M]) -> Callable[[], _M]:
    """A section's default: the model with every field at its own default."""
    return lambda: model.model_validate({})


def _rule(check: Any) -> AfterValidator:
    return AfterValidator(check)


Text = Annotated[str, Field(strict=True)]
Count = Annotated[int, Field(ge=0, le=rules.INT32_MAX), BeforeValidator(whole_number)]
Positive = Annotated[int, Field(ge=1, le=rules.INT32_MAX), BeforeValidator(whole_number)]
Flag = Annotated[
    bool,
    BeforeValidator(flag),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}),
]
DnsLabel = Annotated[Text, _rule(rules.check_dns_label)]
NamespaceName = Annotated[Text, _rule(rules.check_namespace)]
DnsSubdomain = Annotated[Text, _rule(rules.check_dns_subdomain)]
Host = Annotated[Text, _rule(rules.check_host_name)]
Cidr = Annotated[Text, _rule(rules.check_cidr)]
Quantity = Annotated[
    str,
    BeforeValidator(scalar_text),
    Field(strict=True),
    _rule(rules.check_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            "description": "a Kubernetes quantity, e.g. 250m, 1, 256Mi, 1Gi",
        }
    ),
]
Memory = Annotated[Quantity, _rule(rules.check_memory)]
VariableName = Annotated[Text, _rule(rules.check_variable_name)]
VariableValue = Annotated[
    str,
    BeforeValidator(scalar_text),
    Field(strict=True),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
SecretValue = Annotated[
    str, BeforeValidator(scalar_text), Field(strict=True), WithJsonSchema({"type": "string"})
]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]


def _schema_allows_null_is_unset(schema: dict[str, Any], model: type) -> None:
    """The JSON Schema says what the validator does: `null` is allowed for `NULL_IS_UNSET`."""
    properties = schema.get("properties", {})
    for key in getattr(model, "NULL_IS_UNSET", ()):
        value = dict(properties[key])
        kept = {k: value.pop(k) for k in ("default", "description", "title") if k in value}
        choices = value["anyOf"] if set(value) == {"anyOf"} else [value]
        properties[key] = {"anyOf": [*choices, {"type": "null"}], **kept}


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        json_schema_extra=_schema_allows_null_is_unset,
    )

    NULL_IS_UNSET: ClassVar[tuple[str, ...]] = ()
    """Keys (as written) whose `null` (`replicas:` with no value) leaves the default, as an
    absent key does: the keys whose default is declared here but once lived in the loader.
    The generated JSON Schema allows `null` for them too."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.NULL_IS_UNSET:
            return {k: v for k, v in data.items() if v is not None or k not in cls.NULL_IS_UNSET}
        return data


# ---- per service --------------------------------------------------------------------------


class Build(_Model):
    """Build the image from source with pulumi-docker and push it; the pods run its digest."""

    context: Annotated[Text, Field(min_length=1)] = Field(
        description="Folder holding the Dockerfile, relative to the project; must exist."
    )
    dockerfile: Text | None = Field(
        None,
        description="Dockerfile path relative to the project; default `<context>/Dockerfile`. "
        "Must exist.",
    )
    platform: Annotated[Text, _rule(rules.check_platform)] | None = Field(
        None, description="Target platform `os/arch[/variant]`, e.g. `linux/amd64`."
    )


class ProbeTiming(_Model):
    """When a probe runs and how many failures it tolerates (readiness defaults)."""

    initial_delay_seconds: Count = Field(0, description="Seconds before the first check.")
    period_seconds: Positive = Field(10, description="Seconds between checks.")
    timeout_seconds: Positive = Field(3, description="Seconds a check may take.")
    failure_threshold: Positive = Field(3, description="Failed checks in a row that count.")


class StartupTiming(ProbeTiming):
    """A Node service can take a while to start (migrations, first connections): 5 s x 30 =
    150 s before the liveness probe takes over and may restart it."""

    period_seconds: Positive = Field(5, description="Seconds between checks.")
    failure_threshold: Positive = Field(30, description="Failed checks in a row that count.")


class LivenessTiming(ProbeTiming):
    """Restarts the container after 3 failures 20 s apart."""

    period_seconds: Positive = Field(20, description="Seconds between checks.")


class Probes(_Model):
    """HTTP GET on `path` or, for a service without HTTP, a TCP check; one target for all three."""

    path: Annotated[Text, _rule(rules.check_http_path)] | None = Field(
        None, description="HTTP path that answers 200 once up; default from the catalog."
    )
    port: Positive | None = Field(
        None, description="Must be the service's own port (the catalog's, 8080)."
    )
    startup: StartupTiming = Field(
        default_factory=_defaults(StartupTiming), description="Startup probe."
    )
    readiness: ProbeTiming = Field(
        default_factory=_defaults(ProbeTiming), description="Readiness probe."
    )
    liveness: LivenessTiming = Field(
        default_factory=_defaults(LivenessTiming), description="Liveness probe."
    )


class CpuMemory(_Model):
    cpu: Quantity | None = Field(None, description="CPU, e.g. `100m` or `1`.")
    memory: Memory | None = Field(None, description="Memory, e.g. `128Mi`.")


class Requests(CpuMemory):
    NULL_IS_UNSET = ("cpu", "memory")

    cpu: Quantity = Field("100m", description="CPU, e.g. `100m` or `1`.")
    memory: Memory = Field("128Mi", description="Memory, e.g. `128Mi`.")


class Limits(CpuMemory):
    """No CPU limit by default: throttling hurts Node's latency more than sharing idle CPU costs."""

    NULL_IS_UNSET = ("memory",)

    memory: Memory = Field("256Mi", description="Memory, e.g. `128Mi`.")


class Resources(_Model):
    """A container's requests and limits."""

    requests: Requests = Field(default_factory=_defaults(Requests), description="Requests.")
    limits: Limits = Field(default_factory=_defaults(Limits), description="Limits.")


class Autoscaling(_Model):
    """A HorizontalPodAutoscaler on CPU; the Deployment then leaves `replicas` to it."""

    min_replicas: Positive = Field(2, description="Fewest pods.")
    max_replicas: Positive = Field(description="Most pods (required).")
    target_cpu_utilization: Positive = Field(
        70,
        alias="targetCPUUtilizationPercentage",
        description="Average CPU use, in percent of the request, the autoscaler aims for.",
    )


class Service(_Model):
    """One catalog service as this environment runs it: `services.<service>`."""

    NULL_IS_UNSET = ("replicas", "imagePullPolicy")

    replicas: Count = Field(1, description="Pod count; not together with `autoscaling`.")
    env: dict[VariableName, VariableValue] = Field(
        default_factory=dict,
        description="Non-secret variables, merged over the catalog's and the derived ones.",
    )
    autoscaling: Autoscaling | None = Field(
        None, description="Autoscale on CPU instead of a fixed count."
    )
    resources: Resources = Field(
        default_factory=_defaults(Resources), description="Requests and limits."
    )
    probes: Probes = Field(
        default_factory=_defaults(Probes), description="Startup, readiness, liveness."
    )
    image: Annotated[Text, _rule(rules.check_image)] | None = Field(
        None,
        description="Another published image (`@sha256:` pins it); default "
        "`{registry}/{service}:{version}-{prefix}`.",
    )
    build: Build | None = Field(
        None, description="Build from source instead of deploying a published image."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default_factory=lambda given: (
            "IfNotPresent"
            if given.get("build") or "@sha256:" in (given.get("image") or "")
            else "Always"
        ),
        description="Default `Always` for a tag (re-pushed per commit), `IfNotPresent` "
        "for a digest (a built image runs its digest).",
    )
    service_type: ServiceType = Field(
        "ClusterIP", description="Kubernetes Service type; must be in `allowedServiceTypes`."
    )
    node_port: (
        Annotated[
            int, Field(ge=NODE_PORT_RANGE[0], le=NODE_PORT_RANGE[1]), BeforeValidator(whole_number)
        ]
        | None
    ) = Field(None, description="Fixed node port, with `serviceType: NodePort`.")
    iam_role_arn: Annotated[Text, _rule(rules.check_iam_role_arn)] | None = Field(
        None, description="IRSA role for the ServiceAccount; the static AWS keys become optional."
    )
    ingress_path: Annotated[Text, _rule(rules.check_ingress_path)] | None = Field(
        None, description="Path prefix of the service's Ingress; default from the catalog."
    )


# ---- environment --------------------------------------------------------------------------


class ExternalServices(_Model):
    """The AWS services outside the cluster that the services use."""

    database_host: Host | None = Field(
        None,
        description="RDS endpoint (host name, not a URL) for all databases; creates the "
        "ExternalName Services and sets `DB_HOST`.",
    )
    database_hosts: dict[Text, Host] = Field(
        default_factory=dict,
        description="Per-database endpoint (`reminders`, `notifications`, `devices`) over "
        "`databaseHost`.",
    )
    aws_account_id: (
        Annotated[
            str, BeforeValidator(account_text), Field(strict=True), _rule(rules.check_account_id)
        ]
        | None
    ) = Field(None, description="12-digit account; derives the topic and queue names below.")
    event_topic_arn: Annotated[Text, _rule(rules.check_sns_topic_arn)] | None = Field(
        None,
        description="`EVENT_TOPIC_ARN`; default `arn:aws:sns:us-east-1:{account}:"
        "{prefix}-event-topic`.",
    )
    event_queue_url: Annotated[Text, _rule(rules.check_sqs_queue_url)] | None = Field(
        None,
        description="`EVENT_QUEUE_URL`; default `https://sqs.us-east-1.amazonaws.com/"
        "{account}/{prefix}-event-queue`.",
    )
    notification_queue_url: Annotated[Text, _rule(rules.check_sqs_queue_url)] | None = Field(
        None,
        description="`NOTIFICATION_QUEUE_URL`; default "
        "`.../{account}/{prefix}-notification-queue`.",
    )
    event_store: Annotated[Text, _rule(rules.check_dynamodb_table)] = Field(
        "event-store", description="`EVENT_STORE`, the DynamoDB table."
    )


class Network(_Model):
    """Where pods may be reached from and connect to, beyond the deny-by-default policies."""

    ingress_namespace: NamespaceName = Field(
        "kong", description="Namespace of the ingress controller allowed to reach the APIs."
    )
    ingress_cidrs: tuple[Cidr, ...] = Field(
        (), description="Extra client ranges allowed to the APIs (node-port traffic on kind)."
    )
    database_cidrs: tuple[Cidr, ...] = Field(
        ("0.0.0.0/0",), description="Where pods may connect on 5432; narrow it to your VPC."
    )
    https_cidrs: tuple[Cidr, ...] = Field(
        ("0.0.0.0/0",), description="Where pods may connect on 443 (AWS, Firebase)."
    )


class Ingress(_Model):
    """One Ingress per HTTP service, on one host."""

    enabled: Flag = Field(False, description="Default: on when the `ingress` object is set.")
    class_name: DnsSubdomain = Field("kong", description="`ingressClassName`.")
    host: Annotated[Text, _rule(rules.check_ingress_host)] | None = Field(
        None, description="Host of the rules; required when enabled."
    )
    tls_secret_name: DnsSubdomain | None = Field(None, description="TLS Secret for the host.")
    skip_await: Flag = Field(
        False,
        description="Do not wait for the controller to publish the Ingress address "
        "(`pulumi.com/skipAwait`); set it where Kong's proxy never gets a load-balancer address "
        "(kind, bare metal). Kong publishes it by default (docs/engine.md).",
    )


class Rollout(_Model):
    """How a rollout proceeds and how long `pulumi up` waits for it."""

    timeout_seconds: Positive = Field(
        600,
        description="How long `pulumi up` waits for a Deployment (`pulumi.com/timeoutSeconds`); "
        "must exceed the deadline.",
    )
    progress_deadline_seconds: Positive = Field(
        300, description="When Kubernetes declares a rollout failed, with its reason."
    )
    min_ready_seconds: Count = Field(
        10, description="How long a new pod must stay ready before the next is replaced."
    )
    skip_await: Flag = Field(
        False, description="Do not wait for rollouts (`pulumi.com/skipAwait`)."
    )


class LimitRange(_Model):
    """The namespace's container LimitRange."""

    default_request: CpuMemory | None = Field(None, description="Requests of a bare container.")
    default: CpuMemory | None = Field(None, description="Limits of a bare container.")
    max: CpuMemory | None = Field(None, description="Largest limit a container may have.")


DEFAULT_QUOTA = {
    "requests.cpu": "4",
    "requests.memory": "8Gi",
    "limits.memory": "16Gi",
    "pods": "50",
}
DEFAULT_LIMIT_RANGE = LimitRange.model_validate(
    {
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"memory": "256Mi"},
        "max": {"memory": "2Gi"},
    }
)

QuotaName = Annotated[Text, _rule(rules.check_quota_resource)]


class Cluster(_Model):
    """The one cluster this stack may deploy to; every Kubernetes object goes through a provider
    built from it, and the ambient kubectl context is never used."""

    context: Annotated[Text, Field(min_length=1)] = Field(
        description="kubeconfig context of the stack's cluster (required by `pulumi up`)."
    )
    server: Annotated[Text, _rule(rules.check_api_server)] | None = Field(
        None,
        description="API server URL that context must point at; `pulumi up` refuses any other.",
    )


class StackSettings(_Model):
    """Everything one stack (one environment) sets: the `notification-delivery:` keys."""

    NULL_IS_UNSET = ("production", "protect")

    environment: NamespaceName = Field(
        description="The environment's name and its namespace (required)."
    )
    cluster: Cluster | None = Field(
        None,
        description="The stack's cluster; required by `pulumi up`, not by the offline render.",
    )
    prefix: DnsLabel = Field(
        description="Starts every object name but the namespace's, e.g. `prod` (required)."
    )
    version: Annotated[Text, _rule(rules.check_label_value)] = Field(
        "1.0.0", description="Release version; the image tag is `{version}-{prefix}`."
    )
    registry: Annotated[Text, _rule(rules.check_registry)] = Field(
        DEFAULT_REGISTRY, description="Registry and namespace of the images, no scheme."
    )
    registry_username: Text | None = Field(None, description="User for pushing built images.")
    registry_password: SecretValue | None = Field(
        None, description="Token for pushing built images; set with `--secret`."
    )
    production: Flag = Field(
        default_factory=lambda given: given.get("environment") == "production",
        description="Production tier (policy pack rules, 2+ replicas); default: `environment` "
        "is `production`.",
    )
    protect: Flag = Field(
        default_factory=lambda given: given.get("production", False),
        description="Protect and retain the namespace against `pulumi destroy`; default: "
        "`production`.",
    )
    allowed_service_types: tuple[ServiceType, ...] = Field(
        ("ClusterIP",), description="Service types a service may ask for."
    )
    external_services: ExternalServices = Field(
        default_factory=_defaults(ExternalServices), description="Databases and AWS resources."
    )
    network: Network = Field(
        default_factory=_defaults(Network), description="Network policy ranges."
    )
    ingress: Annotated[Ingress, BeforeValidator(ingress_on_when_given)] = Field(
        default_factory=_defaults(Ingress), description="Ingress for the HTTP services."
    )
    quota: dict[QuotaName, Quantity] = Field(
        default_factory=lambda: dict(DEFAULT_QUOTA),
        description="ResourceQuota `hard`; refused if smaller than the services need at full "
        "scale during a rollout.",
    )
    limit_range: LimitRange = Field(
        default_factory=lambda: DEFAULT_LIMIT_RANGE,
        description="Container LimitRange; a service's limit above `max` is refused.",
    )
    rollout: Rollout = Field(default_factory=_defaults(Rollout), description="Rollout timing.")
    services: dict[Text, Service] = Field(
        default_factory=dict, description="Per-service settings, by catalog name."
    )
    secrets: dict[Text, dict[VariableName, SecretValue]] = Field(
        default_factory=dict,
        description="Secret variables per service, each set with "
        "`pulumi config set --secret --path 'secrets.<service>.<VAR>'`.",
    )

    @property
    def aws(self) -> dict[str, str]:
        """The AWS resources the services use (`catalog.AWS_VARIABLES` keys): each one the stack
        gives, else the one the account derives (the descriptions above say how)."""
        raw = self.external_services
        derived = {}
        if raw.aws_account_id:
            queue = f"https://sqs.{AWS_REGION}.amazonaws.com/{raw.aws_account_id}"
            derived = {
                "eventTopicArn": f"arn:aws:sns:{AWS_REGION}:{raw.aws_account_id}:"
                f"{self.prefix}-event-topic",
                "eventQueueUrl": f"{queue}/{self.prefix}-event-queue",
                "notificationQueueUrl": f"{queue}/{self.prefix}-notification-queue",
            }
        given = {
            "eventTopicArn": raw.event_topic_arn,
            "eventQueueUrl": raw.event_queue_url,
            "notificationQueueUrl": raw.notification_queue_url,
        }
        aws = {"eventStore": raw.event_store}
        for name, value in given.items():
            chosen = value or derived.get(name)
            if chosen:
                aws[name] = chosen
        return aws
