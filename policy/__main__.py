"""The notification-delivery policy pack: `pulumi preview --policy-pack policy`.

Every rule is mandatory: a violation fails the preview or update. Lift one rule on purpose as
docs/policy.md describes (policy-pack config, or a per-object exemption with a reason).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

try:  # run from the repository root (tests): `policy` is a package
    from policy.crossguard import build_policies
except ImportError:  # run by Pulumi, which puts this directory first on sys.path
    from crossguard import build_policies  # type: ignore[no-redef]

PolicyPack(
    "notification-delivery",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
    description="Kubernetes guard rails for the notification-delivery environments.",
)
