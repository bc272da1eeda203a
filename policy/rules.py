"""The notification-delivery rules over plain Kubernetes manifests (camelCase, as the API has them).

No Pulumi import: the offline check (`tools/check.py`) feeds the render's manifests, the policy pack
(`crossguard.py`) feeds the engine's resource properties, and both get the same answers.

Everything environment-specific (namespace, name prefix, tier, allowed Service types) is read from
the one Namespace object among the manifests, because a policy sees objects, not stack config.

A value Pulumi cannot know yet (during a preview) arrives as `UNKNOWN`; a check that needs it is
skipped rather than failed, and runs again when `pulumi up` knows the value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The labels and annotations the program writes: one definition, read here and by the tests.
from components.conventions import (
    ALLOWED_SERVICE_TYPES_ANNOTATION,
    EXEMPT_ANNOTATION,
    EXEMPT_REASON_ANNOTATION,
    INSTANCE_LABEL,
    TIER_LABEL,
    TIERS,
)

DEFAULT_ALLOWED_SERVICE_TYPES = frozenset({"ClusterIP"})
RESTRICTED_SERVICE_TYPES = ("LoadBalancer", "NodePort")


class _Unknown:
    """A value that is not known until the update runs (Pulumi preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Violation:
    rule: str
    """The rule's stable id, e.g. `image-pinned`."""
    object: str
    """`Kind/name` of the offending object, or `stack` for a problem with no single object."""
    message: str
    """What is wrong, naming the object."""


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    stack: bool
    """True when the rule needs the whole stack (the Namespace's context or other objects)."""
    run: Callable[[Sequence[Mapping[str, Any]], Context], Iterator[Finding]] = field(repr=False)


Finding = tuple[Mapping[str, Any] | None, str]
"""(the offending manifest or None for the stack as a whole, message)."""


# --- small accessors: manifests are user data, so every level may be missing or malformed ---


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def _get(manifest: Mapping[str, Any], *path: str) -> Any:
    value: Any = manifest
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        value = _map(value).get(key)
    return value


def _kind(manifest: Mapping[str, Any]) -> str:
    return str(manifest.get("kind") or "?")


def _name(manifest: Mapping[str, Any]) -> str:
    name = _get(manifest, "metadata", "name")
    return name if isinstance(name, str) and name else "<unnamed>"


def object_id(manifest: Mapping[str, Any]) -> str:
    """How violations name an object: `Kind/name`."""
    return f"{_kind(manifest)}/{_name(manifest)}"


def _label(manifest: Mapping[str, Any]) -> str:
    """The object as prose names it: `Deployment prod-event-service`."""
    return f"{_kind(manifest)} {_name(manifest)}"


def _number(value: Any) -> float | None:
    # The engine's wire format carries integers as floats; a bool is never a count.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


# --- workloads ---

_POD_SPEC_PATH: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Readiness gates Service traffic to long-running pods; a Job's pods run to completion and take
# no traffic, so rule readiness-probe leaves Jobs and CronJobs alone.
_LONG_RUNNING = frozenset(_POD_SPEC_PATH) - {"Job", "CronJob"}


@dataclass(frozen=True)
class _Container:
    workload: Mapping[str, Any]
    pod: Mapping[str, Any]
    spec: Mapping[str, Any]
    init: bool

    def describe(self) -> str:
        kind = "init container" if self.init else "container"
        name = self.spec.get("name")
        return f"{kind} {name!r} of {_label(self.workload)}"


def _containers(manifest: Mapping[str, Any], *, init: bool = True) -> Iterator[_Container]:
    path = _POD_SPEC_PATH.get(_kind(manifest))
    if path is None:
        return
    pod = _get(manifest, *path)
    if not isinstance(pod, Mapping):
        return
    keys = ("initContainers", "containers") if init else ("containers",)
    for key in keys:
        for spec in _list(pod.get(key)):
            if isinstance(spec, Mapping):
                yield _Container(manifest, pod, spec, init=key == "initContainers")


def _per_object(
    check: Callable[[Mapping[str, Any]], Iterator[str]],
) -> Callable[[Sequence[Mapping[str, Any]], Context], Iterator[Finding]]:
    def run(manifests: Sequence[Mapping[str, Any]], _ctx: Context) -> Iterator[Finding]:
        for manifest in manifests:
            for message in check(manifest):
                yield manifest, message

    return run


# --- rule 1: image-pinned ---


def _image_problem(image: Any) -> str | None:
    if image is UNKNOWN:
        return None  # e.g. the digest of an image built in this very preview
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    if "@" in image:
        # A digest pins the content; the runtime ignores any tag next to it.
        algorithm, _, digest = image.split("@", 1)[1].partition(":")
        return None if algorithm and digest else f"has a malformed digest in image {image!r}"
    # A colon before the last '/' belongs to a registry port (`host:5000/app`), not a tag.
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"runs image {image!r} without a tag or digest, i.e. whatever `latest` is today"
    tag = last.split(":", 1)[1]
    if not tag:
        return f"runs image {image!r} with an empty tag"
    if tag.lower() == "latest":
        return f"runs image {image!r}: `latest` moves, so the pods would not be reproducible"
    return None


def _check_image(manifest: Mapping[str, Any]) -> Iterator[str]:
    for container in _containers(manifest):
        problem = _image_problem(container.spec.get("image"))
        if problem:
            yield f"{container.describe()} {problem}"


# --- rule 2: container-resources ---

_REQUIRED_RESOURCES = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def _check_resources(manifest: Mapping[str, Any]) -> Iterator[str]:
    # Init containers count too: the scheduler reserves the largest init request for the pod.
    for container in _containers(manifest):
        resources = container.spec.get("resources")
        if resources is UNKNOWN:
            continue
        missing = [
            f"{section}.{name}"
            for section, name in _REQUIRED_RESOURCES
            if _get(_map(resources), section, name) in (None, "")
        ]
        if missing:
            yield f"{container.describe()} does not set resources {', '.join(missing)}"


# --- rule 3: run-as-non-root ---


def _effective(container: _Container, key: str) -> tuple[Any, str]:
    """A securityContext setting as the kubelet applies it: the container's wins over the pod's."""
    own = _get(container.spec, "securityContext", key)
    if own is not None:
        return own, "container"
    return _get(container.pod, "securityContext", key), "pod"


def _check_non_root(manifest: Mapping[str, Any]) -> Iterator[str]:
    for container in _containers(manifest):
        non_root, source = _effective(container, "runAsNonRoot")
        if non_root is None:
            yield (
                f"{container.describe()} does not set runAsNonRoot: true "
                "(in its own securityContext or the pod's)"
            )
        elif non_root is not True and non_root is not UNKNOWN:
            yield f"{container.describe()} has runAsNonRoot: {non_root!r} from the {source}"
        user, source = _effective(container, "runAsUser")
        if _number(user) == 0:
            yield f"{container.describe()} runs as root: runAsUser: 0 from the {source}"


# --- rule 4: readiness-probe ---


def _check_readiness(manifest: Mapping[str, Any]) -> Iterator[str]:
    if _kind(manifest) not in _LONG_RUNNING:
        return
    for container in _containers(manifest, init=False):
        probe = container.spec.get("readinessProbe")
        if probe is UNKNOWN:
            continue
        if not isinstance(probe, Mapping) or not probe:
            yield f"{container.describe()} has no readinessProbe"


# --- context: what the Namespace object says about the environment ---

# Kinds that live outside any namespace; everything else must be in the stack's namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "APIService",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "CertificateSigningRequest",
        "FlowSchema",
        "PriorityLevelConfiguration",
    }
)


@dataclass
class Context:
    namespace: Any = None
    """The Namespace object's name (None when there is not exactly one Namespace)."""
    prefix: Any = None
    production: bool = True
    """Production rules apply; also the assumption when the tier cannot be read (fail closed)."""
    allowed_service_types: frozenset[str] = DEFAULT_ALLOWED_SERVICE_TYPES
    namespace_object: str | None = None
    problems: list[Finding] = field(default_factory=list)
    """Why the context is incomplete; reported under rule namespace-and-prefix."""


def context(manifests: Sequence[Mapping[str, Any]]) -> Context:
    ctx = Context()
    namespaces = [m for m in manifests if _kind(m) == "Namespace"]
    if len(namespaces) != 1:
        found = ", ".join(_name(m) for m in namespaces) or "none"
        ctx.problems.append(
            (None, f"the stack must declare exactly one Namespace to judge by (found: {found})")
        )
        return ctx
    ns = namespaces[0]
    ctx.namespace = _get(ns, "metadata", "name")
    ctx.namespace_object = _label(ns)
    labels = _map(_get(ns, "metadata", "labels"))
    prefix = labels.get(INSTANCE_LABEL)
    if prefix is UNKNOWN or (isinstance(prefix, str) and prefix):
        ctx.prefix = prefix
    else:
        ctx.problems.append((ns, f"{_label(ns)} has no {INSTANCE_LABEL} label naming the prefix"))
    tier = labels.get(TIER_LABEL)
    if tier in TIERS:
        ctx.production = tier == "production"
    elif tier is not UNKNOWN:
        found = "no such label" if tier is None else f"{tier!r}"
        message = (
            f"{_label(ns)} label {TIER_LABEL} must be one of {', '.join(TIERS)}, not {found} "
            "(production rules apply until it is)"
        )
        ctx.problems.append((ns, message))
    allowed = _get(ns, "metadata", "annotations", ALLOWED_SERVICE_TYPES_ANNOTATION)
    if isinstance(allowed, str):
        ctx.allowed_service_types = frozenset(t.strip() for t in allowed.split(",") if t.strip())
    return ctx


# --- rule 5: namespace-and-prefix ---


def _placement_problems(manifest: Mapping[str, Any], ctx: Context) -> Iterator[str]:
    if _kind(manifest) in CLUSTER_SCOPED_KINDS:
        return
    label = _label(manifest)
    namespace = _get(manifest, "metadata", "namespace")
    if ctx.namespace is not None and UNKNOWN not in (namespace, ctx.namespace):
        if not namespace:
            yield (
                f"{label} has no metadata.namespace, so it would land in the provider's "
                f"default namespace instead of {ctx.namespace!r}"
            )
        elif namespace != ctx.namespace:
            yield f"{label} is in namespace {namespace!r}, not the stack's {ctx.namespace!r}"
    name = _get(manifest, "metadata", "name")
    if isinstance(ctx.prefix, str) and name is not UNKNOWN:
        if not isinstance(name, str) or not name:
            yield f"{label} has no metadata.name"
        elif not name.startswith(f"{ctx.prefix}-"):
            yield f"{label} is not named '{ctx.prefix}-...'"


def _check_namespace(manifests: Sequence[Mapping[str, Any]], ctx: Context) -> Iterator[Finding]:
    yield from ctx.problems
    for manifest in manifests:
        for message in _placement_problems(manifest, ctx):
            yield manifest, message


# --- rule 6: production-availability ---


def _selector_matches(selector: Any, labels: Any) -> bool:
    if UNKNOWN in (selector, labels):
        return True  # cannot tell during preview; judged again on `pulumi up`
    if not isinstance(selector, Mapping):
        return False  # no selector selects no pods
    labels = _map(labels)
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in _list(selector.get("matchExpressions")):
        expression = _map(expression)
        key, operator = expression.get("key"), expression.get("operator")
        values = _list(expression.get("values"))
        if operator == "In":
            matched = key in labels and labels[key] in values
        elif operator == "NotIn":
            matched = key not in labels or labels[key] not in values
        elif operator == "Exists":
            matched = key in labels
        elif operator == "DoesNotExist":
            matched = key not in labels
        else:
            matched = False
        if not matched:
            return False
    # Under policy/v1 an empty selector ({}) selects every pod in the namespace.
    return True


def _of_kind(
    manifests: Iterable[Mapping[str, Any]], kind: str, api_version: str | None = None
) -> list[Mapping[str, Any]]:
    return [
        m
        for m in manifests
        if _kind(m) == kind and (api_version is None or m.get("apiVersion") == api_version)
    ]


_SCALE_ADVICE = (
    "production needs >= 2 or an autoscaling/v2 HorizontalPodAutoscaler with minReplicas >= 2"
)


def _replica_problems(
    deployment: Mapping[str, Any], hpas: Sequence[Mapping[str, Any]]
) -> Iterator[str]:
    label = _label(deployment)
    namespace = _get(deployment, "metadata", "namespace")
    name = _get(deployment, "metadata", "name")
    scalers = [
        h
        for h in hpas
        if _get(h, "metadata", "namespace") == namespace
        and _get(h, "spec", "scaleTargetRef", "kind") == "Deployment"
        and _get(h, "spec", "scaleTargetRef", "name") == name
    ]
    # An autoscaler owns the replica count, so its floor is what production gets, whatever
    # spec.replicas says.
    for hpa in scalers:
        floor = _get(hpa, "spec", "minReplicas")
        minimum = 1.0 if floor is None else _number(floor)  # the API's default floor is 1
        if floor is not UNKNOWN and (minimum is None or minimum < 2):
            shown = floor if minimum is None else _count(minimum)
            yield f"{label} is scaled by {_label(hpa)} with minReplicas {shown}; {_SCALE_ADVICE}"
    if scalers:
        return
    replicas = _get(deployment, "spec", "replicas")
    count = _number(replicas)
    if replicas is None:
        yield f"{label} does not set spec.replicas (Kubernetes defaults to 1); {_SCALE_ADVICE}"
    elif replicas is not UNKNOWN and (count is None or count < 2):
        shown = replicas if count is None else _count(count)
        yield f"{label} runs {shown} replica(s); {_SCALE_ADVICE}"


def _disruption_problems(
    deployment: Mapping[str, Any], pdbs: Sequence[Mapping[str, Any]]
) -> Iterator[str]:
    namespace = _get(deployment, "metadata", "namespace")
    pod_labels = _get(deployment, "spec", "template", "metadata", "labels")
    if not any(
        _get(pdb, "metadata", "namespace") == namespace
        and _selector_matches(_get(pdb, "spec", "selector"), pod_labels)
        for pdb in pdbs
    ):
        yield (
            f"{_label(deployment)} has no policy/v1 PodDisruptionBudget whose selector matches "
            "its pod template labels, so a node drain may evict every replica at once"
        )


def _check_availability(manifests: Sequence[Mapping[str, Any]], ctx: Context) -> Iterator[Finding]:
    if not ctx.production:
        return
    hpas = _of_kind(manifests, "HorizontalPodAutoscaler", "autoscaling/v2")
    pdbs = _of_kind(manifests, "PodDisruptionBudget", "policy/v1")
    for deployment in _of_kind(manifests, "Deployment"):
        for message in _replica_problems(deployment, hpas):
            yield deployment, message
        for message in _disruption_problems(deployment, pdbs):
            yield deployment, message


# --- rule 7: service-type-allowed ---


def _check_service_types(manifests: Sequence[Mapping[str, Any]], ctx: Context) -> Iterator[Finding]:
    where = ctx.namespace_object or "the stack's Namespace"
    allowed = ", ".join(sorted(ctx.allowed_service_types)) or "none"
    for service in _of_kind(manifests, "Service"):
        kind = _get(service, "spec", "type")
        if kind in RESTRICTED_SERVICE_TYPES and kind not in ctx.allowed_service_types:
            message = (
                f"{_label(service)} has type {kind}, which {where} does not allow "
                f"({ALLOWED_SERVICE_TYPES_ANNOTATION}: {allowed})"
            )
            yield service, message


RULES: tuple[Rule, ...] = (
    Rule(
        "image-pinned",
        "Every container image names an explicit tag other than `latest`, or a digest.",
        stack=False,
        run=_per_object(_check_image),
    ),
    Rule(
        "container-resources",
        "Every container requests CPU and memory and limits memory.",
        stack=False,
        run=_per_object(_check_resources),
    ),
    Rule(
        "run-as-non-root",
        "Every container runs with runAsNonRoot: true and never with runAsUser: 0.",
        stack=False,
        run=_per_object(_check_non_root),
    ),
    Rule(
        "readiness-probe",
        "Every container of a long-running workload has a readiness probe.",
        stack=False,
        run=_per_object(_check_readiness),
    ),
    Rule(
        "namespace-and-prefix",
        "Every namespaced object is in the stack's Namespace and named after its prefix.",
        stack=True,
        run=_check_namespace,
    ),
    Rule(
        "production-availability",
        "In production every Deployment keeps >= 2 replicas and has a matching "
        "PodDisruptionBudget.",
        stack=True,
        run=_check_availability,
    ),
    Rule(
        "service-type-allowed",
        "No LoadBalancer or NodePort Service unless the Namespace allows that type.",
        stack=True,
        run=_check_service_types,
    ),
)
RULES_BY_ID: Mapping[str, Rule] = {rule.id: rule for rule in RULES}


def exemptions(manifest: Mapping[str, Any]) -> frozenset[str]:
    """Rule ids this object is excused from; an exemption without a written reason counts for
    nothing, so that every lifted rule is explained where reviewers see it."""
    annotations = _map(_get(manifest, "metadata", "annotations"))
    listed = annotations.get(EXEMPT_ANNOTATION)
    reason = annotations.get(EXEMPT_REASON_ANNOTATION)
    if not isinstance(listed, str) or not isinstance(reason, str) or not reason.strip():
        return frozenset()
    return frozenset(r.strip() for r in listed.split(",") if r.strip())


def check(
    manifests: Iterable[Mapping[str, Any]], only: Collection[str] | None = None
) -> list[Violation]:
    """Every violation among `manifests` (one environment's objects), rule by rule.

    `only` limits the run to the given rule ids (the policy pack runs one rule per policy).
    """
    if only is not None and (unknown := set(only) - set(RULES_BY_ID)):
        raise ValueError(f"unknown rule id(s): {', '.join(sorted(unknown))}")
    objects = [m for m in manifests if isinstance(m, Mapping)]
    ctx = context(objects)
    violations: list[Violation] = []
    for rule in RULES:
        if only is not None and rule.id not in only:
            continue
        for manifest, message in rule.run(objects, ctx):
            if manifest is not None and rule.id in exemptions(manifest):
                continue
            where = object_id(manifest) if manifest is not None else "stack"
            violations.append(Violation(rule.id, where, message))
    return violations
