"""`python -m tools.takeover`: which objects of a stack exist already; adopt or remove each.

A fake kubectl stands in for the cluster: it answers `kubectl get` with the JSON kubectl prints, so
these tests check the tool's own work (what it asks, how it reads the answer, what it decides and
writes), not any claim about a cluster.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STACKS_HERE
from tools.render import render
from tools.takeover import (
    Planned,
    decide,
    import_file,
    main,
    parse_get,
    planned_objects,
)

DEV_NS = "development"
OLD_SELECTOR = {"matchLabels": {"app": "dev-reminder-service"}}


def dev_objects() -> list[Planned]:
    return planned_objects(render("dev").run.resources)


@pytest.fixture(scope="module")
def objects() -> dict[str, Planned]:
    return {f"{p.kind}/{p.name}": p for p in dev_objects()}


def entry(manager: str, operation: str, fields: dict, subresource: str = "") -> dict[str, Any]:
    found = {"manager": manager, "operation": operation, "fieldsV1": fields}
    if subresource:
        found["subresource"] = subresource
    return found


def live(kind: str, name: str, namespace: str | None = DEV_NS, **body: Any) -> dict[str, Any]:
    managed = body.pop("managed", [])
    meta = {"name": name, "managedFields": managed, **body.pop("metadata", {})}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "metadata": meta, **body}


class FakeKubectl:
    """Answers like kubectl: `get` prints the existing objects among those asked for."""

    def __init__(self, existing: Sequence[dict[str, Any]], current: str = "shared-dev") -> None:
        self.existing = list(existing)
        self.current = current
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        if args[1:] == ["config", "current-context"]:
            return subprocess.CompletedProcess(args, 0, f"{self.current}\n", "")
        assert args[1] == "--context" and args[3] == "get", args
        namespace = args[args.index("--namespace") + 1] if "--namespace" in args else None
        # `deployment.v1.apps/NAME` names the kind (lower case) before its first dot.
        wanted = {(a.split(".")[0].split("/")[0], a.split("/", 1)[1]) for a in args if "/" in a}
        items = [
            obj
            for obj in self.existing
            if obj["metadata"].get("namespace") == namespace
            and (obj["kind"].lower(), obj["metadata"]["name"]) in wanted
        ]
        if not items:
            return subprocess.CompletedProcess(args, 0, "", "")
        text = json.dumps(items[0] if len(wanted) == 1 else {"kind": "List", "items": items})
        return subprocess.CompletedProcess(args, 0, text, "")


# --- what the program would create ------------------------------------------------------------


def test_planned_objects_are_the_named_ones_with_their_pulumi_identity(objects) -> None:
    namespace = objects[f"Namespace/{DEV_NS}"]
    assert namespace.namespace is None and namespace.import_id == DEV_NS
    assert namespace.resource == "namespace"
    assert (namespace.parent_type, namespace.parent_name) == (
        "notification-delivery:index:Environment",
        "dev",
    )
    deployment = objects["Deployment/dev-reminder-service"]
    assert deployment.import_id == f"{DEV_NS}/dev-reminder-service"
    assert deployment.resource == "deployment.v1.apps"
    assert deployment.pulumi_type == "kubernetes:apps/v1:Deployment"
    assert (deployment.parent_type, deployment.parent_name) == (
        "notification-delivery:index:Microservice",
        "dev-reminder-service",
    )
    # Secrets are named by the provider at create time: they cannot already exist.
    assert not any(p.kind == "Secret" for p in objects.values())
    assert (
        objects["NetworkPolicy/dev-default-deny"].resource == "networkpolicy.v1.networking.k8s.io"
    )


def test_kubectl_output_is_read_in_each_shape_it_comes_in() -> None:
    one = live("Namespace", DEV_NS, namespace=None)
    assert parse_get("") == []
    assert parse_get(json.dumps(one)) == [one]
    assert parse_get(json.dumps({"kind": "List", "items": [one, one]})) == [one, one]


# --- what to do with an object that exists ----------------------------------------------------


def test_the_old_deployment_must_go_because_its_selector_cannot_change(objects) -> None:
    planned = objects["Deployment/dev-reminder-service"]
    found = decide(planned, live("Deployment", planned.name, spec={"selector": OLD_SELECTOR}))
    assert found.action == "remove"
    assert "immutable" in found.reason and '"app": "dev-reminder-service"' in found.reason


def test_a_deployment_with_the_programs_selector_is_adopted(objects) -> None:
    planned = objects["Deployment/dev-reminder-service"]
    selector = planned.manifest["spec"]["selector"]
    scaled = entry("kubectl-scale", "Update", {"f:spec": {"f:replicas": {}}}, "scale")
    existing = live(
        "Deployment", planned.name, spec={"selector": selector, "replicas": 3}, managed=[scaled]
    )
    found = decide(planned, existing)
    assert found.action == "adopt"
    # The program forces its fixed count, so the manual scale is taken over, not a conflict.
    assert found.forced and found.conflicts == ("spec.replicas (kubectl-scale)",)


def test_the_namespace_is_adopted_and_what_its_first_update_prunes_is_named(objects) -> None:
    planned = objects[f"Namespace/{DEV_NS}"]
    applied = entry(
        "kubectl-client-side-apply",
        "Update",
        {
            "f:metadata": {
                "f:annotations": {
                    ".": {},
                    "f:kubectl.kubernetes.io/last-applied-configuration": {},
                },
                "f:labels": {".": {}, "f:name": {}, "f:team": {}},
            }
        },
    )
    namespace = live(
        "Namespace", DEV_NS, namespace=None, managed=[applied],
        metadata={"labels": {"name": DEV_NS, "team": "notifications"}},
    )  # fmt: skip
    found = decide(planned, namespace)
    assert found.action == "adopt" and "keep it" in found.reason
    # kubectl's fields become the provider's, then what the program does not set is pruned.
    assert found.dropped == ("metadata.labels.team",)
    assert found.conflicts == ()


def test_fields_another_tool_owns_differently_are_conflicts(objects) -> None:
    planned = objects["Service/dev-reminder-service"]
    ansible = entry("OpenAPI-Generator", "Update", {"f:spec": {"f:type": {}, "f:selector": {}}})
    status = entry("kube-controller-manager", "Update", {"f:status": {}}, "status")
    service = live(
        "Service", planned.name, managed=[ansible, status],
        spec={"type": "NodePort", "selector": planned.manifest["spec"]["selector"]},
    )  # fmt: skip
    found = decide(planned, service)
    assert found.action == "adopt" and not found.forced
    # The selector is the program's already: only the type would conflict.
    assert found.conflicts == ("spec.type (OpenAPI-Generator)",)


def test_an_object_pulumi_manages_already_is_left_alone(objects) -> None:
    planned = objects["ServiceAccount/dev-event-service"]
    owned = entry("pulumi-kubernetes-9f8e7d6c", "Apply", {"f:metadata": {}})
    found = decide(planned, live("ServiceAccount", planned.name, managed=[owned]))
    assert found.action == "managed" and "pulumi-kubernetes-9f8e7d6c" in found.reason


def test_an_immutable_configmap_with_other_data_must_go(objects) -> None:
    planned = next(p for p in objects.values() if p.kind == "ConfigMap")
    same = live("ConfigMap", planned.name, immutable=True, data=dict(planned.manifest["data"]))
    other = live("ConfigMap", planned.name, immutable=True, data={"LOG_LEVEL": "debug"})
    assert decide(planned, same).action == "adopt"
    assert decide(planned, other).action == "remove"


def test_the_import_file_declares_each_parent_component_once(objects) -> None:
    adopt = [
        decide(objects[f"Namespace/{DEV_NS}"], live("Namespace", DEV_NS, namespace=None)),
        decide(objects["ServiceAccount/dev-event-service"], live("ServiceAccount", "x")),
        decide(objects["Service/dev-reminder-service"], live("Service", "x")),
        decide(objects["Service/dev-notification-service"], live("Service", "x")),
    ]
    removed = decide(
        objects["Deployment/dev-reminder-service"],
        live("Deployment", "x", spec={"selector": OLD_SELECTOR}),
    )
    resources = import_file([*adopt, removed])["resources"]
    components = [r for r in resources if r.get("component")]
    assert {(c["type"], c["logicalName"]) for c in components} == {
        ("notification-delivery:index:Environment", "dev"),
        ("notification-delivery:index:Microservice", "dev-event-service"),
        ("notification-delivery:index:Microservice", "dev-reminder-service"),
        ("notification-delivery:index:Microservice", "dev-notification-service"),
    }
    assert all("id" not in c for c in components)
    imported = {r["type"] + "::" + r["logicalName"]: r for r in resources if not r.get("component")}
    assert set(imported) == {
        "kubernetes:core/v1:Namespace::development",
        "kubernetes:core/v1:ServiceAccount::dev-event-service",
        "kubernetes:core/v1:Service::dev-reminder-service",
        "kubernetes:core/v1:Service::dev-notification-service",
    }
    namespace = imported["kubernetes:core/v1:Namespace::development"]
    assert namespace["id"] == DEV_NS
    assert imported["kubernetes:core/v1:Service::dev-reminder-service"]["id"] == (
        f"{DEV_NS}/dev-reminder-service"
    )
    # `name` only refers within the file; each must be unique for `parent` to resolve.
    names = [r["name"] for r in resources]
    assert len(names) == len(set(names))
    by_name = {r["name"]: r for r in resources}
    assert by_name[namespace["parent"]]["logicalName"] == "dev"


# --- the command --------------------------------------------------------------------------------


def old_environment() -> list[dict[str, Any]]:
    """The original manifests' objects: the namespace, a Deployment and its NodePort Service."""
    applied = entry("kubectl-client-side-apply", "Update", {"f:spec": {"f:type": {}}})
    return [
        live("Namespace", DEV_NS, namespace=None, managed=[applied]),
        live("Deployment", "dev-reminder-service", spec={"selector": OLD_SELECTOR}),
        live("Service", "dev-reminder-service", spec={"type": "NodePort"}, managed=[applied]),
    ]


def test_the_command_lists_each_clash_with_its_command_and_writes_the_import_file(
    tmp_path: Path, capsys
) -> None:
    kubectl = FakeKubectl(old_environment())
    target = tmp_path / "takeover-dev.json"
    assert main(["dev", "--import-file", str(target)], runner=kubectl) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(
        "stack dev, context notification-delivery-dev (pinned by cluster.context): "
    )
    assert out.splitlines()[0].endswith("3 exist already")
    assert (
        "kubectl --context notification-delivery-dev --namespace development delete "
        "deployment.v1.apps "
        "dev-reminder-service"
    ) in out
    assert "adopt   Namespace development" in out
    assert "adopt   Service development/dev-reminder-service" in out
    written = json.loads(target.read_text())
    assert {r["logicalName"] for r in written["resources"] if not r.get("component")} == {
        DEV_NS,
        "dev-reminder-service",
    }
    assert f"pulumi import --stack dev --file {target} --generate-code=false" in out
    # Read-only: only `get`, always against the stack's pinned context, never kubectl's current.
    assert kubectl.calls
    assert all(c[1:4] == ["--context", "notification-delivery-dev", "get"] for c in kubectl.calls)


def test_nothing_there_yet_is_exit_0_and_writes_no_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "takeover-dev.json"
    assert main(["dev", "--import-file", str(target)], runner=FakeKubectl([])) == 0
    assert "0 exist already" in capsys.readouterr().out
    assert not target.exists()


def test_a_pinned_context_is_used_and_never_another(tmp_path: Path, capsys) -> None:
    kubectl = FakeKubectl([])
    assert main(["local", "--import-file", str(tmp_path / "x.json")], runner=kubectl) == 0
    assert ["kubectl", "config", "current-context"] not in kubectl.calls
    assert all(c[2] == "kind-notification-delivery" for c in kubectl.calls)
    code = main(["local", "--context", "prod-cluster"], runner=kubectl)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --context prod-cluster is not the cluster this stack deploys to "
        "(cluster.context: kind-notification-delivery)"
    )


def test_without_kubectl_one_line_and_exit_2(capsys) -> None:
    assert main(["dev"], which=lambda _: None) == 2
    err = capsys.readouterr().err
    assert err == "error: kubectl not found on PATH: install it to read the cluster\n"


def test_a_failing_kubectl_is_one_line_and_exit_2(capsys) -> None:
    def unreachable(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        message = "The connection to the server localhost:8080 was refused\nmore detail\n"
        return subprocess.CompletedProcess(list(args), 1, "", message)

    assert main(["dev"], runner=unreachable) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: `kubectl --context notification-delivery-dev get ...` failed: "
        "The connection to the server localhost:8080 was refused"
    ]


def test_a_bad_stack_is_one_line_and_exit_2(capsys) -> None:
    assert main(["nosuchstack"], runner=FakeKubectl([])) == 2
    assert capsys.readouterr().err == (
        f"error: Pulumi.nosuchstack.yaml: no such file; the stacks here are {STACKS_HERE} "
        "(Pulumi.<stack>.yaml)\n"
    )
