"""Adapt `rules` to Pulumi CrossGuard: one policy per rule, named by the rule's id.

Object rules run as resource policies, so a mandatory violation stops that object before it is
created; rules that need the Namespace's context or other objects run as stack policies. One
policy per rule lets a policy-pack config lift a single rule (see docs/policy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from pulumi_policy import (
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

if __name__.startswith("policy."):  # imported from the repository (tests, tools)
    from policy import rules
else:  # run by Pulumi from policy/, which is then first on sys.path
    import rules  # type: ignore[no-redef]

# Kubernetes modules whose types are components (bundles of objects), not objects themselves.
_COMPONENT_MODULES = ("yaml/", "helm.sh/", "kustomize/")


class PolicyResourceLike(Protocol):
    resource_type: str
    props: Mapping[str, Any]
    name: str
    urn: str


def plain(value: Any) -> Any:
    """The engine's (proxied, possibly partly unknown) properties as plain dicts and lists.

    Reading an unknown preview value through the SDK's proxy raises; here it becomes
    `rules.UNKNOWN` so that only the checks needing that very value are skipped.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = rules.UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def is_kubernetes_object(resource_type: str) -> bool:
    """`kubernetes:apps/v1:Deployment` yes; providers, components and `...Patch` objects no."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return False
    module, kind = parts[1], parts[2]
    # A Patch edits an object this stack does not own, with only the fields it changes.
    return not module.startswith(_COMPONENT_MODULES) and not kind.endswith("Patch")


def to_manifest(resource_type: str, props: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One engine resource as the manifest the rules expect."""
    manifest = plain(props)
    module, kind = resource_type.split(":")[1:]
    group, _, version = module.rpartition("/")
    manifest.setdefault("kind", kind)
    manifest.setdefault("apiVersion", version if group in ("", "core") else module)
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        metadata = manifest["metadata"] = {}
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        # Pulumi auto-names an object `<logical name>-<suffix>`; the logical name carries the
        # same prefix, so it stands in while the final name is not known.
        metadata["name"] = name
    return manifest


def _report(
    violations: Iterable[rules.Violation],
    urns: Mapping[str, str],
    report_violation: ReportViolation,
) -> None:
    for violation in violations:
        report_violation(violation.message, urns.get(violation.object))


def _resource_validation(rule_id: str) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not is_kubernetes_object(args.resource_type):
            return
        manifest = to_manifest(args.resource_type, args.props, args.name)
        found = rules.check([manifest], only={rule_id})
        _report(found, {rules.object_id(manifest): args.urn}, report_violation)

    return validate


def _stack_validation(rule_id: str) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        manifests: list[dict[str, Any]] = []
        urns: dict[str, str] = {}
        resources: Sequence[PolicyResourceLike] = args.resources
        for resource in resources:
            if not is_kubernetes_object(resource.resource_type):
                continue
            manifest = to_manifest(resource.resource_type, resource.props, resource.name)
            manifests.append(manifest)
            urns.setdefault(rules.object_id(manifest), resource.urn)
        _report(rules.check(manifests, only={rule_id}), urns, report_violation)

    return validate


def build_policies() -> list[Policy]:
    policies: list[Policy] = []
    for rule in rules.RULES:
        if rule.stack:
            policies.append(
                StackValidationPolicy(
                    name=rule.id, description=rule.description, validate=_stack_validation(rule.id)
                )
            )
        else:
            policies.append(
                ResourceValidationPolicy(
                    name=rule.id,
                    description=rule.description,
                    validate=_resource_validation(rule.id),
                )
            )
    return policies
