"""The policy rules (policy/rules.py), the offline check and the CrossGuard wrapper around them.

Each rule gets a compliant stack that passes and a one-change variant that must fail with exactly
that rule's id, so a rule that stopped firing (or started firing on good stacks) fails here.
"""

from __future__ import annotations

import copy
import json
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pulumi_policy
import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.conventions import ALLOWED_SERVICE_TYPES_ANNOTATION, INSTANCE_LABEL, TIER_LABEL
from policy import rules
from policy.rules import RULES_BY_ID, Violation, check
from tools.check import check_render, format_violations, stack_keys
from tools.stack_config import ROOT

POLICY_DIR = ROOT / "policy"

Manifest = dict[str, Any]
Stack = list[Manifest]


# --- a compliant production stack, and small edits that break one rule each ---


def namespace(
    name: str = "production",
    prefix: str = "prod",
    tier: str = "production",
    allowed: str = "ClusterIP",
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {INSTANCE_LABEL: prefix, TIER_LABEL: tier},
            "annotations": {ALLOWED_SERVICE_TYPES_ANNOTATION: allowed},
        },
    }


def container(name: str = "api", image: str = "docker.io/acme/api:1.0.0-prod") -> Manifest:
    return {
        "name": name,
        "image": image,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
    }


POD_LABELS = {"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "prod-api"}


def deployment(name: str = "prod-api", ns: str = "production", replicas: Any = 2) -> Manifest:
    spec: Manifest = {
        "selector": {"matchLabels": dict(POD_LABELS)},
        "template": {
            "metadata": {"labels": {**POD_LABELS, "app.kubernetes.io/version": "1.0.0"}},
            "spec": {
                "securityContext": {"runAsNonRoot": True},
                "containers": [container()],
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def pdb(name: str = "prod-api", selector: Any = None, api_version: str = "policy/v1") -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "production"},
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": dict(POD_LABELS)} if selector is None else selector,
        },
    }


def hpa(min_replicas: int | None, target: str = "prod-api") -> Manifest:
    spec: Manifest = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "maxReplicas": 5,
    }
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "prod-api", "namespace": "production"},
        "spec": spec,
    }


def service(kind: str = "ClusterIP") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "prod-api", "namespace": "production"},
        "spec": {"type": kind, "selector": dict(POD_LABELS), "ports": [{"port": 80}]},
    }


def cron_job() -> Manifest:
    pod = copy.deepcopy(deployment()["spec"]["template"])
    del pod["spec"]["containers"][0]["readinessProbe"]  # Jobs take no traffic
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "prod-cleanup", "namespace": "production"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": pod}}},
    }


def config_map(name: str, ns: str | None = None) -> Manifest:
    metadata = {"name": name} if ns is None else {"name": name, "namespace": ns}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def good_stack() -> Stack:
    return [namespace(), deployment(), pdb(), service()]


def pod_spec(stack: Stack, index: int = 1) -> Manifest:
    return stack[index]["spec"]["template"]["spec"]


def api_container(stack: Stack) -> Manifest:
    return pod_spec(stack)["containers"][0]


def edit(change: Callable[[Stack], Any]) -> Stack:
    stack = good_stack()
    change(stack)
    return stack


def test_the_compliant_stack_passes_every_rule() -> None:
    assert check(good_stack()) == []


def test_rules_have_unique_ids_and_descriptions() -> None:
    assert list(RULES_BY_ID) == [
        "image-pinned",
        "container-resources",
        "run-as-non-root",
        "readiness-probe",
        "namespace-and-prefix",
        "production-availability",
        "service-type-allowed",
    ]
    assert all(rule.description for rule in rules.RULES)


# Stacks that each rule must accept: the cases a naive rule would get wrong.
PASSING: dict[str, Callable[[Stack], Any]] = {
    "digest-pinned image": lambda s: api_container(s).update(
        image="docker.io/acme/api@sha256:" + "a" * 64
    ),
    "tag next to a digest": lambda s: api_container(s).update(
        image="docker.io/acme/api:latest@sha256:" + "a" * 64
    ),
    "registry port and a tag": lambda s: api_container(s).update(image="localhost:5000/api:1.0"),
    "runAsNonRoot only on the container": lambda s: (
        pod_spec(s).pop("securityContext"),
        api_container(s).update(securityContext={"runAsNonRoot": True}),
    ),
    "container runAsUser overrides the pod's 0": lambda s: (
        pod_spec(s)["securityContext"].update(runAsUser=0),
        api_container(s).update(securityContext={"runAsUser": 1000}),
    ),
    "init container without a probe": lambda s: pod_spec(s).update(
        initContainers=[{**container("migrate"), "readinessProbe": None}]
    ),
    "CronJob without a probe": lambda s: s.append(cron_job()),
    "auto-named object with the prefix": lambda s: s.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prod-api-1a2b3c4d", "namespace": "production"},
        }
    ),
    "HPA with minReplicas 2 and no spec.replicas": lambda s: (
        s[1]["spec"].pop("replicas"),
        s.append(hpa(2)),
    ),
    "PDB selecting by expression": lambda s: s.__setitem__(
        2,
        pdb(
            selector={
                "matchExpressions": [
                    {"key": "app.kubernetes.io/name", "operator": "In", "values": ["api"]},
                    {"key": "app.kubernetes.io/instance", "operator": "NotIn", "values": ["x"]},
                    {"key": "tier", "operator": "DoesNotExist"},
                ]
            }
        ),
    ),
    "PDB with an empty selector (all pods)": lambda s: s.__setitem__(2, pdb(selector={})),
    "one replica and no PDB outside production": lambda s: (
        s.__setitem__(0, namespace(tier="non-production")),
        s[1]["spec"].update(replicas=1),
        s.pop(2),
    ),
    "NodePort the namespace allows": lambda s: (
        s.__setitem__(0, namespace(allowed="ClusterIP, NodePort")),
        s.__setitem__(3, service("NodePort")),
    ),
    "exemption with a reason": lambda s: (
        s[1]["metadata"].update(
            annotations={
                rules.EXEMPT_ANNOTATION: "readiness-probe",
                rules.EXEMPT_REASON_ANNOTATION: "batch consumer, no traffic; ticket OPS-1",
            }
        ),
        api_container(s).pop("readinessProbe"),
    ),
}


@pytest.mark.parametrize("change", PASSING.values(), ids=PASSING.keys())
def test_compliant_variants_pass(change: Callable[[Stack], Any]) -> None:
    assert check(edit(change)) == []


# (rule id, change, the object the violation must name)
FAILING: dict[str, tuple[str, Callable[[Stack], Any], str]] = {
    "image without a tag": (
        "image-pinned",
        lambda s: api_container(s).update(image="docker.io/acme/api"),
        "Deployment/prod-api",
    ),
    "image with latest": (
        "image-pinned",
        lambda s: api_container(s).update(image="docker.io/acme/api:latest"),
        "Deployment/prod-api",
    ),
    "registry port is not a tag": (
        "image-pinned",
        lambda s: api_container(s).update(image="localhost:5000/api"),
        "Deployment/prod-api",
    ),
    "init container with latest": (
        "image-pinned",
        lambda s: pod_spec(s).update(initContainers=[container("migrate", "acme/migrate:latest")]),
        "Deployment/prod-api",
    ),
    "CronJob container with latest": (
        "image-pinned",
        lambda s: (
            s.append(cron_job()),
            s[-1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].update(
                image="acme/cleanup:latest"
            ),
        ),
        "CronJob/prod-cleanup",
    ),
    "no memory limit": (
        "container-resources",
        lambda s: api_container(s)["resources"].pop("limits"),
        "Deployment/prod-api",
    ),
    "no cpu request": (
        "container-resources",
        lambda s: api_container(s)["resources"]["requests"].pop("cpu"),
        "Deployment/prod-api",
    ),
    "no runAsNonRoot anywhere": (
        "run-as-non-root",
        lambda s: pod_spec(s).pop("securityContext"),
        "Deployment/prod-api",
    ),
    "container turns runAsNonRoot off": (
        "run-as-non-root",
        lambda s: api_container(s).update(securityContext={"runAsNonRoot": False}),
        "Deployment/prod-api",
    ),
    "container runs as UID 0": (
        "run-as-non-root",
        lambda s: api_container(s).update(securityContext={"runAsUser": 0}),
        "Deployment/prod-api",
    ),
    "no readiness probe": (
        "readiness-probe",
        lambda s: api_container(s).pop("readinessProbe"),
        "Deployment/prod-api",
    ),
    "object in another namespace": (
        "namespace-and-prefix",
        lambda s: s[3]["metadata"].update(namespace="default"),
        "Service/prod-api",
    ),
    "object without a namespace": (
        "namespace-and-prefix",
        lambda s: s[3]["metadata"].pop("namespace"),
        "Service/prod-api",
    ),
    "object without the prefix": (
        "namespace-and-prefix",
        lambda s: s.append(config_map("dev-api", "production")),
        "ConfigMap/dev-api",
    ),
    "namespace without a tier label": (
        "namespace-and-prefix",
        lambda s: s[0]["metadata"]["labels"].pop(TIER_LABEL),
        "Namespace/production",
    ),
    "one replica in production": (
        "production-availability",
        lambda s: s[1]["spec"].update(replicas=1),
        "Deployment/prod-api",
    ),
    "no replicas and no HPA": (
        "production-availability",
        lambda s: s[1]["spec"].pop("replicas"),
        "Deployment/prod-api",
    ),
    "HPA floor of 1 wins over replicas": (
        "production-availability",
        lambda s: s.append(hpa(None)),
        "Deployment/prod-api",
    ),
    "PDB selecting other pods": (
        "production-availability",
        lambda s: s.__setitem__(2, pdb(selector={"matchLabels": {"app.kubernetes.io/name": "x"}})),
        "Deployment/prod-api",
    ),
    "PDB of an old API version": (
        "production-availability",
        lambda s: s.__setitem__(2, pdb(api_version="policy/v1beta1")),
        "Deployment/prod-api",
    ),
    "LoadBalancer not allowed": (
        "service-type-allowed",
        lambda s: s.__setitem__(3, service("LoadBalancer")),
        "Service/prod-api",
    ),
    "NodePort not allowed": (
        "service-type-allowed",
        lambda s: s.__setitem__(3, service("NodePort")),
        "Service/prod-api",
    ),
    "exemption without a reason": (
        "readiness-probe",
        lambda s: (
            s[1]["metadata"].update(annotations={rules.EXEMPT_ANNOTATION: "readiness-probe"}),
            api_container(s).pop("readinessProbe"),
        ),
        "Deployment/prod-api",
    ),
}


@pytest.mark.parametrize(("rule", "change", "obj"), FAILING.values(), ids=FAILING.keys())
def test_each_violation_names_its_rule_and_object(
    rule: str, change: Callable[[Stack], Any], obj: str
) -> None:
    violations = check(edit(change))
    assert [(v.rule, v.object) for v in violations] == [(rule, obj)]
    assert obj.split("/", 1)[1] in violations[0].message


def test_every_rule_has_a_failing_case() -> None:
    assert {rule for rule, _, _ in FAILING.values()} == set(RULES_BY_ID)


def test_a_stack_without_a_namespace_is_reported_against_the_stack() -> None:
    violations = check(good_stack()[1:], only={"namespace-and-prefix"})
    assert [(v.rule, v.object) for v in violations] == [("namespace-and-prefix", "stack")]
    assert "exactly one Namespace" in violations[0].message


def test_only_rejects_unknown_rule_ids() -> None:
    with pytest.raises(ValueError, match="no-such-rule"):
        check(good_stack(), only={"no-such-rule"})


# --- the offline check (tools/check.py) ---


def test_check_render_and_format() -> None:
    stack = edit(lambda s: api_container(s).update(image="acme/api:latest"))
    rendered = {f"{m['kind'].lower()}-{i}.yaml": m for i, m in enumerate(stack)}
    violations = check_render(rendered)
    assert violations == check(stack)
    line = format_violations(violations)
    assert line.startswith("[image-pinned] Deployment/prod-api: container 'api' of Deployment")
    assert "\n" not in line
    assert format_violations([]) == ""


def test_a_production_availability_line_names_the_stack_key_to_change() -> None:
    stack = edit(lambda s: s[1]["spec"].update(replicas=1))
    rendered = {f"{m['kind'].lower()}-{i}.yaml": m for i, m in enumerate(stack)}
    violations = [v for v in check_render(rendered) if v.rule == "production-availability"]
    assert violations
    line = format_violations(violations, stack_keys(rendered)).splitlines()[0]
    assert line.endswith(
        "; in the stack file set services.api.replicas to 2 or more, or "
        "services.api.autoscaling with minReplicas 2 or more"
    )


# --- the CrossGuard pack ---

TYPES = {
    "Namespace": "kubernetes:core/v1:Namespace",
    "Service": "kubernetes:core/v1:Service",
    "ConfigMap": "kubernetes:core/v1:ConfigMap",
    "Secret": "kubernetes:core/v1:Secret",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "CronJob": "kubernetes:batch/v1:CronJob",
    "PodDisruptionBudget": "kubernetes:policy/v1:PodDisruptionBudget",
    "HorizontalPodAutoscaler": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
}


def _resource(manifest: Manifest, name: str | None = None) -> SimpleNamespace:
    """A stack resource as the policy SDK hands it over: props behind its unknown-checking proxy."""
    name = name or manifest["metadata"].get("name", "unnamed")
    kind = manifest["kind"]
    rtype = TYPES[kind]
    return SimpleNamespace(
        resource_type=rtype,
        props=unknown_checking_proxy(copy.deepcopy(manifest)),
        name=name,
        urn=f"urn:pulumi:prod::notification-delivery::{rtype}::{name}",
    )


NOT_KUBERNETES_OBJECTS = [
    SimpleNamespace(
        resource_type=rtype,
        props=unknown_checking_proxy({"image": "whatever:latest"}),
        name="x",
        urn=f"urn:pulumi:prod::notification-delivery::{rtype}::x",
    )
    for rtype in (
        "pulumi:providers:kubernetes",
        "notification-delivery:index:Microservice",
        "docker:index/image:Image",
        "kubernetes:yaml/v2:ConfigGroup",
    )
]


@pytest.fixture
def pack(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run policy/__main__.py with PolicyPack replaced (the real one serves gRPC forever)."""
    captured: dict[str, Any] = {}

    def fake_pack(name: str, **kwargs: Any) -> None:
        captured.update(kwargs, name=name)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(POLICY_DIR), run_name="__main__")
    return captured


def test_pack_registers_one_mandatory_policy_per_rule(pack: dict[str, Any]) -> None:
    assert pack["name"] == "notification-delivery"
    assert pack["enforcement_level"] is pulumi_policy.EnforcementLevel.MANDATORY
    by_name = {policy.name: policy for policy in pack["policies"]}
    assert list(by_name) == list(RULES_BY_ID)
    for rule in rules.RULES:
        expected = (
            pulumi_policy.StackValidationPolicy
            if rule.stack
            else pulumi_policy.ResourceValidationPolicy
        )
        assert isinstance(by_name[rule.id], expected), rule.id
        assert by_name[rule.id].enforcement_level is None  # inherits the pack's MANDATORY


def _run_pack(pack: dict[str, Any], resources: list[SimpleNamespace]) -> list[tuple[str, str, Any]]:
    """Every (policy, message, urn) the pack reports, the way the engine would call it."""
    reports: list[tuple[str, str, Any]] = []
    for policy in pack["policies"]:

        def report(message: str, urn: str | None = None, _name: str = policy.name) -> None:
            reports.append((_name, message, urn))

        if isinstance(policy, pulumi_policy.StackValidationPolicy):
            # The engine passes a StackValidationArgs; the policies read only its `resources`.
            args = cast("pulumi_policy.StackValidationArgs", SimpleNamespace(resources=resources))
            policy.validate(args, report)
        else:
            for resource in resources:
                policy.validate(resource, report)
    return reports


def test_pack_reports_what_rules_check_reports(pack: dict[str, Any]) -> None:
    stack = good_stack()
    api_container(stack).update(image="acme/api:latest", securityContext={"runAsUser": 0})
    api_container(stack).pop("readinessProbe")
    api_container(stack)["resources"].pop("limits")
    stack[1]["spec"]["replicas"] = 1
    stack[3] = service("LoadBalancer")
    stack.append(config_map("api"))  # no prefix and no namespace
    resources = [_resource(m) for m in stack] + NOT_KUBERNETES_OBJECTS
    urns = {rules.object_id(m): r.urn for m, r in zip(stack, resources, strict=False)}

    expected = sorted((v.rule, v.message, urns[v.object]) for v in check(stack))
    assert {rule for rule, _, _ in expected} == set(RULES_BY_ID)  # every rule fires
    assert sorted(_run_pack(pack, resources)) == expected


def test_pack_passes_a_compliant_stack(pack: dict[str, Any]) -> None:
    assert _run_pack(pack, [_resource(m) for m in good_stack()]) == []


def test_pack_skips_values_unknown_during_preview(pack: dict[str, Any]) -> None:
    stack = good_stack()
    api_container(stack)["image"] = UNKNOWN_STRING_VALUE  # e.g. an image built in this update
    stack[1]["metadata"]["name"] = UNKNOWN_STRING_VALUE
    assert _run_pack(pack, [_resource(m, name="prod-api") for m in stack]) == []


def test_pack_judges_an_auto_named_object_by_its_logical_name(pack: dict[str, Any]) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "production"}}
    named = [_resource(m) for m in good_stack()]
    assert _run_pack(pack, [*named, _resource(secret, name="prod-api")]) == []
    reports = _run_pack(pack, [*named, _resource(secret, name="api")])
    assert [(policy, urn.rsplit("::", 1)[1]) for policy, _, urn in reports] == [
        ("namespace-and-prefix", "api")
    ]


def test_pack_loads_the_way_pulumi_runs_it(tmp_path: Path) -> None:
    """Pulumi runs the pack with policy/ first on sys.path and the repository root absent."""
    script = f"""
import json, runpy, sys
import pulumi_policy
seen = {{}}
pulumi_policy.PolicyPack = lambda name, **kw: seen.update(
    name=name, level=kw["enforcement_level"].value, policies=[p.name for p in kw["policies"]])
runpy.run_path({str(POLICY_DIR)!r}, run_name="__main__")
assert not any(m == "policy" or m.startswith("policy.") for m in sys.modules), "used the package"
print(json.dumps(seen))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {
        "name": "notification-delivery",
        "level": "mandatory",
        "policies": list(RULES_BY_ID),
    }


def test_violation_is_a_plain_value() -> None:
    assert Violation("image-pinned", "Deployment/x", "m") == Violation(
        "image-pinned", "Deployment/x", "m"
    )
