"""The pipeline's RBAC (`python -m tools.rbac`) against every committed stack's render.

The checks read the generated objects the way the API server's RBAC authorizer does (bindings to
roles to rules, resourceNames only for requests that carry a name) instead of trusting the
tool's own bookkeeping, and they derive resource names from kinds independently of its table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import metadata
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml
from celpy.adapter import json_to_cel

from tests.conftest import STACKS_HERE
from tools import rbac
from tools.render import Render, render
from tools.stack_config import ROOT, committed_stacks, load_stack

KUBERNETES_VERSION = "1.37.0"
STACKS = committed_stacks()
IDENTITY_NAMESPACE = "ci-identities"

READ_VERBS = {"get", "list", "watch"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
DEPLOYER_NEEDS = {"create", "get", "patch", "delete", "list", "watch"}
"""What `pulumi up`/`destroy` do to each object of the render (docs/credentials.md)."""
NAMELESS_VERBS = {"create", "list", "watch", "deletecollection"}
"""Requests that carry no object name when authorized, so resourceNames never match them."""
AWAIT_READS = {
    "Deployment": {("apps", "replicasets"), ("", "pods"), ("", "persistentvolumeclaims")},
    "Service": {("", "endpoints")},
    "Ingress": {("", "endpoints"), ("", "services")},
}
"""What the provider's awaits read besides the object (provider/pkg/await/*.go)."""
EVENTS = ("", "events")
DANGEROUS_VERBS = {"escalate", "bind", "impersonate", "approve", "sign", "use", "*"}
FORBIDDEN_GROUPS = {
    "rbac.authorization.k8s.io",
    "admissionregistration.k8s.io",
    "certificates.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "apiextensions.k8s.io",
}

Grant = tuple[str | None, Mapping[str, Any]]
"""A rule and where it applies: a namespace (RoleBinding) or None (ClusterRoleBinding)."""


@cache
def rendered(stack: str) -> Render:
    return render(stack)


def objects_for(result: Render, **kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("identity_namespace", IDENTITY_NAMESPACE)
    return rbac.rbac_objects(result, **kwargs)


def guess_resource(kind: str) -> str:
    """Kubernetes' own fallback for a kind's resource name (apimachinery's
    UnsafeGuessKindToResource): lower case, then -s, -es after s, -ies for a final y."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def group_of(manifest: Mapping[str, Any]) -> str:
    version = manifest["apiVersion"]
    return version.split("/")[0] if "/" in version else ""


def account(stack: str, role: str) -> tuple[str, str]:
    return IDENTITY_NAMESPACE, f"{stack_namespace(stack).prefix}-{role}"


def stack_namespace(stack: str) -> rbac.StackNamespace:
    return rbac.stack_namespace(rendered(stack))


def grants_of(objects: Iterable[Mapping[str, Any]], subject: tuple[str, str]) -> list[Grant]:
    """Every rule bound to the ServiceAccount `subject`, with the scope its binding gives it."""
    objects = list(objects)
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    out: list[Grant] = []
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(
            s["kind"] == "ServiceAccount" and (s["namespace"], s["name"]) == subject
            for s in binding["subjects"]
        ):
            continue
        ref = binding["roleRef"]
        if binding["kind"] == "RoleBinding":
            scope = binding["metadata"]["namespace"]
            key = (ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"])
        else:
            scope = None
            key = ("ClusterRole", None, ref["name"])
        out += [(scope, rule) for rule in roles[key]["rules"]]
    return out


def allows(
    grants: Iterable[Grant],
    verb: str,
    group: str,
    resource: str,
    namespace: str | None = None,
    name: str | None = None,
) -> bool:
    """The RBAC authorizer's answer for one request (namespace None: a cluster-scoped one)."""
    if verb in NAMELESS_VERBS:
        name = None
    for scope, rule in grants:
        if scope is not None and scope != namespace:
            continue
        if group not in rule.get("apiGroups", ()) or resource not in rule.get("resources", ()):
            continue
        if verb not in rule["verbs"]:
            continue
        names = rule.get("resourceNames")
        if names and name not in names:
            continue
        return True
    return False


def all_rules(objects: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], dict]]:
    return [(o, r) for o in objects if o["kind"] in ("Role", "ClusterRole") for r in o["rules"]]


def render_kinds(result: Render) -> set[tuple[str, str]]:
    return {(group_of(m), guess_resource(m["kind"])) for m in result.manifests.values()}


# --- every committed stack ---------------------------------------------------------------------


def test_there_are_stacks_to_check():
    assert {"dev", "prod", "local"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_objects_validate_strictly(stack: str):
    objects = objects_for(rendered(stack), token_secrets=True)
    kinds = {o["kind"] for o in objects}
    assert {"ServiceAccount", "Secret", "Role", "RoleBinding", "ClusterRole"} <= kinds
    assert {"ClusterRoleBinding", "ValidatingAdmissionPolicy"} <= kinds
    for manifest in objects:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            pytest.fail(f"{stack} {name}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("stack", STACKS)
def test_no_wildcards_and_no_non_resource_urls(stack: str):
    for role, rule in all_rules(objects_for(rendered(stack))):
        where = f"{role['kind']}/{role['metadata']['name']}"
        assert "nonResourceURLs" not in rule, f"{where}: discovery is system:discovery's job"
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            for value in rule.get(field, ()):
                assert "*" not in value, f"{where}: wildcard in {field}"
        assert rule["verbs"] and rule["resources"], where
        if rule.get("resourceNames"):
            # A rule that looks narrower than it is: these requests carry no name.
            assert not NAMELESS_VERBS & set(rule["verbs"]), f"{where}: {rule}"


@pytest.mark.parametrize("stack", STACKS)
def test_deployer_can_do_what_up_and_destroy_do_to_every_rendered_object(stack: str):
    result = rendered(stack)
    env = stack_namespace(stack)
    grants = grants_of(objects_for(result), account(stack, "deployer"))
    for file, manifest in result.manifests.items():
        group, resource = group_of(manifest), guess_resource(manifest["kind"])
        name = manifest["metadata"].get("name")
        if manifest["kind"] == "Namespace":
            continue  # below
        namespace = manifest["metadata"]["namespace"]
        assert namespace == env.namespace
        for verb in DEPLOYER_NEEDS:
            assert allows(grants, verb, group, resource, namespace, name), f"{file}: {verb}"
        # Only there: no other namespace.
        assert not allows(grants, "get", group, resource, "kube-system", name), file
        assert allows(grants, "list", *EVENTS, namespace) and allows(
            grants, "watch", *EVENTS, namespace
        )
    # The Namespace: read and patched by name; created only by an administrator.
    for verb in ("get", "patch"):
        assert allows(grants, verb, "", "namespaces", None, env.namespace)
        assert not allows(grants, verb, "", "namespaces", None, "kube-system")
    assert not allows(grants, "create", "", "namespaces")
    assert not allows(grants, "update", "", "namespaces", None, env.namespace)


@pytest.mark.parametrize("stack", STACKS)
def test_deployer_verbs_are_the_ones_the_provider_calls(stack: str):
    # No `update` (PUT is for CustomResourceDefinitions only) and no `deletecollection`.
    grants = grants_of(objects_for(rendered(stack)), account(stack, "deployer"))
    verbs = {verb for _, rule in grants for verb in rule["verbs"]}
    assert verbs == DEPLOYER_NEEDS


@pytest.mark.parametrize("stack", STACKS)
def test_deployer_reads_what_the_awaits_watch(stack: str):
    result = rendered(stack)
    env = stack_namespace(stack)
    grants = grants_of(objects_for(result), account(stack, "deployer"))
    kinds = {m["kind"] for m in result.manifests.values()}
    expected = {pair for kind in kinds for pair in AWAIT_READS.get(kind, ())}
    assert expected, "every committed stack has Deployments and Services"
    for group, resource in expected | {EVENTS}:
        for verb in ("list", "watch"):
            assert allows(grants, verb, group, resource, env.namespace), (resource, verb)


@pytest.mark.parametrize("stack", STACKS)
def test_no_write_access_beyond_the_render(stack: str):
    result = rendered(stack)
    in_render = render_kinds(result)
    expected_reads = {p for pairs in AWAIT_READS.values() for p in pairs} | {EVENTS}
    for role, rule in all_rules(objects_for(result)):
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                if WRITE_VERBS & set(rule["verbs"]):
                    assert (group, resource) in in_render, (role["metadata"]["name"], resource)
                elif (group, resource) not in in_render:
                    assert set(rule["verbs"]) <= READ_VERBS
                    assert (group, resource) in expected_reads, (role["metadata"]["name"], rule)


@pytest.mark.parametrize("stack", STACKS)
def test_reader_reads_everything_refresh_reads_and_writes_nothing(stack: str):
    result = rendered(stack)
    env = stack_namespace(stack)
    objects = objects_for(result)
    grants = grants_of(objects, account(stack, "reader"))
    assert grants
    for _, rule in grants:
        assert set(rule["verbs"]) <= READ_VERBS, rule
    for file, manifest in result.manifests.items():
        group, resource = group_of(manifest), guess_resource(manifest["kind"])
        namespace = manifest["metadata"].get("namespace")
        assert allows(grants, "get", group, resource, namespace, manifest["metadata"]["name"]), file
        assert not allows(grants, "watch", group, resource, namespace), file
    kinds = {m["kind"] for m in result.manifests.values()}
    for kind in kinds:
        for group, resource in AWAIT_READS.get(kind, ()):
            assert allows(grants, "list", group, resource, env.namespace), resource
    # Secrets: by name only (a refresh knows them); it cannot enumerate the namespace's others.
    assert allows(grants, "get", "", "secrets", env.namespace, "any-name")
    assert not allows(grants, "list", "", "secrets", env.namespace)
    assert not allows(grants, "get", "", "secrets", "kube-system", "any-name")
    assert not allows(grants, "list", "", "namespaces")


@pytest.mark.parametrize("stack", STACKS)
def test_no_escalation_paths(stack: str):
    objects = objects_for(rendered(stack), token_secrets=True)
    for role, rule in all_rules(objects):
        where = f"{role['kind']}/{role['metadata']['name']}"
        assert not DANGEROUS_VERBS & set(rule["verbs"]), where
        assert not FORBIDDEN_GROUPS & set(rule["apiGroups"]), where
        for resource in rule["resources"]:
            # No subresource at all: pods/exec, pods/attach, pods/portforward, pods/log,
            # serviceaccounts/token, nodes/proxy, ...
            assert "/" not in resource, f"{where}: {resource}"
            assert resource not in {"nodes", "persistentvolumes", "clusterroles", "roles"}, where
    for manifest in objects:
        if manifest["kind"] == "ServiceAccount":
            assert manifest["automountServiceAccountToken"] is False
            assert manifest["metadata"]["namespace"] == IDENTITY_NAMESPACE


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_only_in_the_environment_namespace(stack: str):
    env = stack_namespace(stack)
    objects = objects_for(rendered(stack))
    for manifest in objects:
        if manifest["kind"] == "ClusterRole":
            # Cluster-wide rules touch the Namespace object and nothing namespaced.
            for rule in manifest["rules"]:
                assert rule["apiGroups"] == [""] and rule["resources"] == ["namespaces"], rule
        if manifest["kind"] == "Role":
            assert manifest["metadata"]["namespace"] == env.namespace
        if manifest["kind"] == "RoleBinding":
            assert manifest["roleRef"]["kind"] == "Role", "a ClusterRole here would reach further"
    for role in ("deployer", "reader"):
        grants = grants_of(objects, account(stack, role))
        for namespace in ("kube-system", "default", IDENTITY_NAMESPACE, "production-x"):
            for verb in READ_VERBS:
                assert not allows(grants, verb, "", "secrets", namespace, "x"), (role, namespace)


@pytest.mark.parametrize("stack", STACKS)
def test_two_separate_identities(stack: str):
    objects = objects_for(rendered(stack))
    subjects = {
        (s["namespace"], s["name"])
        for o in objects
        if o["kind"].endswith("Binding") and "subjects" in o
        for s in o["subjects"]
    }
    assert subjects == {account(stack, "deployer"), account(stack, "reader")}
    accounts = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "ServiceAccount"
    }
    assert accounts == subjects
    deployer = grants_of(objects, account(stack, "deployer"))
    reader = grants_of(objects, account(stack, "reader"))
    assert {id(r) for _, r in deployer}.isdisjoint({id(r) for _, r in reader})


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_delete_only_when_pulumi_may_delete_it(stack: str):
    result = rendered(stack)
    env = stack_namespace(stack)
    retained = all(r.retain_on_delete for r in result.run.kubernetes() if r.kind == "Namespace")
    grants = grants_of(objects_for(result), account(stack, "deployer"))
    can_delete = allows(grants, "delete", "", "namespaces", None, env.namespace)
    # The delete await's informer lists every namespace (no field selector): all or nothing.
    can_watch = allows(grants, "list", "", "namespaces") and allows(
        grants, "watch", "", "namespaces"
    )
    assert can_delete == can_watch == (not retained)
    assert not allows(grants, "delete", "", "namespaces", None, "kube-system")


def test_production_namespace_cannot_be_deleted_by_the_pipeline():
    grants = grants_of(objects_for(rendered("prod")), account("prod", "deployer"))
    assert not allows(grants, "delete", "", "namespaces", None, "production")
    assert not allows(grants, "list", "", "namespaces")
    # Until someone lifts `protect` on purpose (docs/safety.md, "Protecting production"): then the
    # regenerated RBAC grants it, and an administrator must apply that first.
    unprotected = render("prod", config=load_stack("prod").edited("protect", False))
    grants = grants_of(objects_for(unprotected), account("prod", "deployer"))
    assert allows(grants, "delete", "", "namespaces", None, "production")


# --- follows the program -----------------------------------------------------------------------


def test_an_ingress_brings_its_kind_and_its_await_reads():
    config = load_stack("dev").edited("ingress", {"host": "dev.example.com"})
    result = render("dev", config=config)
    assert "Ingress" in {m["kind"] for m in result.manifests.values()}
    objects = objects_for(result)
    deployer = grants_of(objects, account("dev", "deployer"))
    reader = grants_of(objects, account("dev", "reader"))
    for verb in DEPLOYER_NEEDS:
        assert allows(deployer, verb, "networking.k8s.io", "ingresses", "development", "x")
    assert allows(reader, "get", "networking.k8s.io", "ingresses", "development", "x")
    assert allows(reader, "list", "", "services", "development")
    assert allows(reader, "list", "", "endpoints", "development")
    assert not any(
        "ingresses" in rule["resources"]
        for _, rule in grants_of(objects_for(rendered("dev")), account("dev", "deployer"))
    ), "the committed dev stack has no Ingress, so no rule for one"


def test_skip_await_drops_the_await_reads_but_not_the_events():
    config = load_stack("dev").edited("rollout", {"skipAwait": True})
    result = render("dev", config=config)
    grants = grants_of(objects_for(result), account("dev", "deployer"))
    for group, resource in AWAIT_READS["Deployment"]:
        assert not allows(grants, "list", group, resource, "development"), resource
    assert allows(grants, "watch", *EVENTS, "development")


def test_a_kind_without_rules_fails_instead_of_being_skipped():
    result = render("dev")
    result.manifests["statefulset-x.yaml"] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "dev-x", "namespace": "development"},
    }
    with pytest.raises(rbac.RbacError, match="StatefulSet"):
        rbac.rbac_objects(result)


def test_an_object_outside_the_namespace_fails():
    result = render("dev")
    result.manifests["configmap-x.yaml"] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dev-x", "namespace": "default"},
    }
    with pytest.raises(rbac.RbacError, match="namespace 'default'"):
        rbac.rbac_objects(result)


def test_the_table_names_resources_as_kubernetes_does():
    for (group, kind), api_kind in rbac.KINDS.items():
        assert api_kind.group == group
        assert api_kind.resource == guess_resource(kind), kind
        assert api_kind.namespaced == (kind != "Namespace"), kind


# --- the Pod Security guard --------------------------------------------------------------------


def evaluate(expression: str, **variables: Any) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    return bool(program.evaluate({k: json_to_cel(v) for k, v in variables.items()}))


@pytest.mark.parametrize("stack", STACKS)
def test_pod_security_guard_holds_the_rendered_labels(stack: str):
    result = rendered(stack)
    env = stack_namespace(stack)
    namespace = next(m for m in result.manifests.values() if m["kind"] == "Namespace")
    policy, binding = (
        o for o in objects_for(result) if o["kind"].startswith("ValidatingAdmissionPolicy")
    )
    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"][0]["resourceNames"] == [env.namespace]
    (condition,) = spec["matchConditions"]
    deployer = "system:serviceaccount:{}:{}".format(*account(stack, "deployer"))
    reader = "system:serviceaccount:{}:{}".format(*account(stack, "reader"))
    assert evaluate(condition["expression"], request={"userInfo": {"username": deployer}})
    assert not evaluate(condition["expression"], request={"userInfo": {"username": reader}})
    assert not evaluate(condition["expression"], request={"userInfo": {"username": "admin"}})

    labels = namespace["metadata"]["labels"]
    guarded = {k for k in labels if k.startswith("pod-security.kubernetes.io/")}
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    def admitted(new_labels: dict[str, str] | None) -> bool:
        meta = {"name": env.namespace} | ({"labels": new_labels} if new_labels is not None else {})
        return all(
            evaluate(v["expression"], object={"metadata": meta}) for v in spec["validations"]
        )

    assert admitted(labels), "the program's own namespace must pass"
    assert admitted(labels | {"team": "x"}), "other labels are the program's business"
    assert not admitted(None) and not admitted({})
    for label in guarded:
        assert not admitted(labels | {label: "privileged"}), label
        assert not admitted({k: v for k, v in labels.items() if k != label}), label


def test_the_guard_can_be_left_out():
    objects = objects_for(rendered("dev"), pod_security_guard=False)
    assert not [o for o in objects if o["kind"].startswith("ValidatingAdmissionPolicy")]


# --- token Secrets -----------------------------------------------------------------------------


def test_token_secrets_only_on_request_and_empty():
    assert not [o for o in objects_for(rendered("dev")) if o["kind"] == "Secret"]
    secrets = [o for o in objects_for(rendered("dev"), token_secrets=True) if o["kind"] == "Secret"]
    assert {s["metadata"]["name"] for s in secrets} == {"dev-deployer-token", "dev-reader-token"}
    for secret in secrets:
        assert secret["type"] == "kubernetes.io/service-account-token"
        assert secret["metadata"]["namespace"] == IDENTITY_NAMESPACE
        owner = secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
        assert secret["metadata"]["name"] == f"{owner}-token"
        assert "data" not in secret and "stringData" not in secret  # the token controller fills it


# --- the import file ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_import_file_gives_the_namespace_the_programs_urn(stack: str):
    result = rendered(stack)
    document = rbac.namespace_import_file(result)
    json.dumps(document)
    names = {entry["name"]: entry for entry in document["resources"]}
    assert len(names) == len(document["resources"]), "names in an import file must be unique"

    def urn(entry: Mapping[str, Any]) -> str:
        # Pulumi's NewURN: the parent's qualified type chain, then this type, then the name.
        chain = [entry["type"]]
        parent = entry.get("parent")
        while parent:
            chain.insert(0, names[parent]["type"])
            parent = names[parent].get("parent")
        project = result.stack.project
        return f"urn:pulumi:{stack}::{project}::{'$'.join(chain)}::{entry['logicalName']}"

    # The mock monitor puts the root stack's type into its children's URNs; the engine leaves
    # it out (pkg/resource/deploy/deployment.go generateURN), as the import does.
    registered = {r.urn.replace("pulumi:pulumi:Stack$", ""): r for r in result.run.resources}
    namespace = next(e for e in document["resources"] if "id" in e)
    assert namespace["id"] == stack_namespace(stack).namespace
    # The default provider the program registers, so that `up` sees no provider change.
    assert namespace["version"] == metadata.version("pulumi_kubernetes")
    assert registered[urn(namespace)].kind == "Namespace"
    for entry in document["resources"]:
        assert urn(entry) in registered, entry
        assert entry.get("component", False) != ("id" in entry)


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() ends the SDK's worker threads on exit, which would end every later render in
    this process; the real entry point is run as a command below."""
    monkeypatch.setattr(rbac, "shutdown", lambda: None)


def test_cli_prints_the_objects_as_yaml(in_process: None, capsys: pytest.CaptureFixture[str]):
    assert rbac.main(["dev", "--identity-namespace", IDENTITY_NAMESPACE, "--token-secrets"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Pipeline identities for stack dev (namespace development)")
    assert "kubectl apply --server-side" in out
    printed = [d for d in yaml.safe_load_all(out) if d]
    assert printed == objects_for(rendered("dev"), token_secrets=True)


def test_cli_prints_the_import_file(in_process: None, capsys: pytest.CaptureFixture[str]):
    assert rbac.main(["prod", "--namespace-import-file"]) == 0
    assert json.loads(capsys.readouterr().out) == rbac.namespace_import_file(rendered("prod"))


def test_cli_leaves_out_the_guard_on_request(in_process: None, capsys: pytest.CaptureFixture[str]):
    assert rbac.main(["local", "--no-pod-security-guard"]) == 0
    kinds = {d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out) if d}
    assert "ValidatingAdmissionPolicy" not in kinds and "Role" in kinds


def test_command_bad_stack_is_one_line_and_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "tools.rbac", "no-such-stack"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: Pulumi.no-such-stack.yaml: no such file; the stacks here are {STACKS_HERE} "
        "(Pulumi.<stack>.yaml)\n"
    )
