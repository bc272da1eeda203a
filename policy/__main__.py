"""The notification-delivery policy pack: `pulumi preview --policy-pack policy`.

Every rule is mandatory: a violation fails the preview or update. Lift one rule on purpose as
docs/policy.md describes (policy-pack config, or a per-object exemption with a reason).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

try:  # run from the repository root (tests): `policy` is a package
    from policy.crossguard import build_policies
except ImportError:  # run by Pulumi, which puts this directory first on sys.path
    import sys
    from pathlib import Path

    # The pack lives in the program's repository and reads the labels the program writes from
    # the program's own `components/conventions.py` (plain constants; `components` loads lazily,
    # so none of the program's dependencies are needed here).
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    from crossguard import build_policies  # type: ignore[no-redef]

PolicyPack(
    "notification-delivery",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
    description="Kubernetes guard rails for the notification-delivery environments.",
)
