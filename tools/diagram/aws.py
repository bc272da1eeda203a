"""The AWS resources a ConfigMap value names (SNS topic, SQS queue, DynamoDB table)."""

from __future__ import annotations

import re
from collections.abc import Mapping

AWS_RESOURCE_KINDS: Mapping[str, str] = {
    "EVENT_TOPIC_ARN": "SNS topic",
    "EVENT_QUEUE_URL": "SQS queue",
    "NOTIFICATION_QUEUE_URL": "SQS queue",
    "EVENT_STORE": "DynamoDB table",
}
"""What each AWS variable of the catalog (`components.catalog.AWS_VARIABLES`) holds.

A value is recognised by its form first (an ARN, an SQS queue URL), so a new variable holding one
of those is drawn without an entry here; a bare name (a DynamoDB table's) needs its entry.
"""

_SQS_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d+)/([^/?#]+)$")
_ARN = re.compile(r"^arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):(\d*):(.+)$")
_ARN_SERVICES = {"sns": "SNS topic", "sqs": "SQS queue", "dynamodb": "DynamoDB table"}


def aws_resource(variable: str, value: str) -> tuple[str, str, str] | None:
    """(kind, short name, region and account) of the AWS resource a value names, else None."""
    sqs = _SQS_URL.match(value)
    if sqs:
        region, account, name = sqs.groups()
        return "SQS queue", name, f"{region} · {account}"
    arn = _ARN.match(value)
    if arn:
        service, region, account, resource = arn.groups()
        name = resource.split("/", 1)[-1] if "/" in resource else resource.split(":")[-1]
        where = " · ".join(part for part in (region, account) if part)
        return _ARN_SERVICES.get(service, f"AWS {service}"), name, where
    if variable in AWS_RESOURCE_KINDS and value:
        return AWS_RESOURCE_KINDS[variable], value, ""
    return None
