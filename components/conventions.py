"""The names every part of the project agrees on: the program writes them, the policy pack and
the tests read them. Plain constants, no imports, so the policy pack (which runs without the
program's dependencies) can load this module too."""

PROJECT = "notification-delivery"
"""The Pulumi project name; also the `app.kubernetes.io/part-of` label value."""

TIER_LABEL = "notification-delivery/tier"
"""On the namespace: `production` or `non-production`, the rule set the policy pack applies."""
TIERS = ("production", "non-production")

ALLOWED_SERVICE_TYPES_ANNOTATION = "notification-delivery/allowed-service-types"
"""On the namespace: the Service types its services may use, comma-separated."""

EXEMPT_ANNOTATION = "notification-delivery/policy-exempt"
"""On an object: policy names it is exempt from, comma-separated (docs/policy.md)."""
EXEMPT_REASON_ANNOTATION = "notification-delivery/policy-exempt-reason"

INSTANCE_LABEL = "app.kubernetes.io/instance"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"
VERSION_LABEL = "app.kubernetes.io/version"
