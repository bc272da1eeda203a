"""The service catalog: what each microservice is, independent of the environment it runs in.

Stack files say how many replicas run and which values a variable takes in one environment; this
module says what never changes between environments (image repository, port, which variables and
secrets the code reads). Facts come from the services' own repositories, summarised in
`shared/system.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Variables that must never sit in a ConfigMap or a stack file in plain text.
SENSITIVE_VARIABLES = frozenset(
    {
        "DB_PASS",
        "FCM_PROJECT_CONFIG",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }
)

AWS_STATIC_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


# AWS resources a service may use, and the variable through which its code reads each.
AWS_VARIABLES = {
    "eventTopicArn": "EVENT_TOPIC_ARN",
    "eventQueueUrl": "EVENT_QUEUE_URL",
    "eventStore": "EVENT_STORE",
    "notificationQueueUrl": "NOTIFICATION_QUEUE_URL",
}


@dataclass(frozen=True)
class ServiceSpec:
    """One microservice of the notification-delivery system.

    Attributes:
        name: the service's name, which is also its image repository under the registry.
        description: one line for summaries and the README.
        port: the port the container listens on (the images read it from `PORT`).
        http: True when the service answers HTTP and gets a Kubernetes Service.
        database: the PostgreSQL database it uses (`DB_NAME`); reached as `{prefix}-{database}-db`.
        aws: the AWS resources it uses, keys of `AWS_VARIABLES`.
        probe_path: HTTP path that answers 200 once the service is up; None means a TCP check.
        ingress_path: the path prefix routed to it when the environment has an Ingress.
        env: default values of its non-secret variables, overridable per environment.
        required_env: variables that must have a non-empty value once stack config is applied.
        required_secrets: secrets the service cannot start without.
    """

    name: str
    description: str
    port: int
    http: bool
    database: str
    aws: tuple[str, ...] = ()
    probe_path: str | None = None
    ingress_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    required_env: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ()


CONTAINER_PORT = 8080
"""Unprivileged port every service listens on inside the pod (set through `PORT`)."""

_COMMON_ENV = {
    "PORT": str(CONTAINER_PORT),
    # event-service points DynamoDB at a developer's local endpoint under any other value, and
    # only `production` turns SQL query logging off: every cluster environment runs with it.
    "NODE_ENV": "production",
    "DB_USER": "postgres",
}
_COMMON_SECRETS = ("DB_PASS", *AWS_STATIC_CREDENTIALS)

CATALOG: Mapping[str, ServiceSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            ServiceSpec(
                name="reminder-service",
                description="public API for reminders (Postgres `reminders`, publishes to SNS)",
                port=CONTAINER_PORT,
                http=True,
                database="reminders",
                aws=("eventTopicArn",),
                probe_path="/docs",
                ingress_path="/reminders",
                env=_frozen({**_COMMON_ENV, "DB_NAME": "reminders"}),
                required_env=("DB_HOST", "EVENT_TOPIC_ARN"),
                required_secrets=_COMMON_SECRETS,
            ),
            ServiceSpec(
                name="event-service",
                description="queue worker: SQS events to DynamoDB, Postgres and SNS",
                port=CONTAINER_PORT,
                http=False,
                database="notifications",
                aws=("eventTopicArn", "eventQueueUrl", "eventStore"),
                # No HTTP route at all: only a TCP check on its port can tell it is up.
                probe_path=None,
                env=_frozen({**_COMMON_ENV, "DB_NAME": "notifications"}),
                required_env=("DB_HOST", "EVENT_TOPIC_ARN", "EVENT_QUEUE_URL", "EVENT_STORE"),
                required_secrets=_COMMON_SECRETS,
            ),
            ServiceSpec(
                name="notification-service",
                description="device API and delivery worker (SQS to SES email and FCM push)",
                port=CONTAINER_PORT,
                http=True,
                database="devices",
                aws=("notificationQueueUrl",),
                probe_path="/docs",
                ingress_path="/device",
                env=_frozen({**_COMMON_ENV, "DB_NAME": "devices"}),
                required_env=("DB_HOST", "NOTIFICATION_QUEUE_URL"),
                # The service crashes at start without its Firebase service account.
                required_secrets=(*_COMMON_SECRETS, "FCM_PROJECT_CONFIG"),
            ),
        )
    }
)
