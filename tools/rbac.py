"""The pipeline's two cluster identities for one stack, from its render: `python -m tools.rbac`.

Prints, as YAML for `kubectl apply --server-side -f -` (once per cluster and environment), a
*deployer* identity (`pulumi up`, `destroy`, and previews with server-side dry-run) and a
*reader* identity (`pulumi refresh`, drift checks, previews without dry-run): two
ServiceAccounts in the pipeline's own namespace, a Role and RoleBinding each in the
environment's namespace, a ClusterRole and ClusterRoleBinding each for the Namespace object
itself (by name), and a ValidatingAdmissionPolicy that stops the deployer from lifting the
namespace's Pod Security labels. The rules cover exactly the kinds the render contains, with the
verbs the Kubernetes provider calls for them (docs/credentials.md names the source of each), so
regenerate and re-apply whenever the program starts managing a new kind.

`--namespace-import-file` prints instead the `pulumi import --file` document that adopts a
namespace an administrator created (the deployer may not create namespaces).

Exit codes: 0 printed; 2 bad project, stack file or config, or a render this tool cannot cover
(a kind it has no entry for, an object outside the stack's namespace); one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import Any

import pulumi

from components.conventions import PROJECT
from tools.harness import Registered, shutdown
from tools.manifests import dump
from tools.render import Render, render
from tools.stack_config import StackFileError, add_project_dir

IDENTITY_NAMESPACE = f"{PROJECT}-pipeline"
"""Where the pipeline's ServiceAccounts (and their token Secrets) live by default: not in the
environment's namespace, which the program manages and `pulumi destroy` deletes."""
FIELD_MANAGER = f"{PROJECT}-rbac"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
RBAC_API = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_API}/v1"
ADMISSION_VERSION = "admissionregistration.k8s.io/v1"

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
"""Verbs that change the cluster (for the checks; `escalate`, `bind`, `impersonate` are never
granted at all)."""

MANAGED_VERBS = ("create", "delete", "get", "list", "patch", "watch")
"""What the deployer needs on every kind the program manages, in its namespace:
create  - a new object is POSTed (with dryRun=All in a preview);
patch   - an update is a server-side apply PATCH (dry-run in a preview), and field-manager fixes
          are JSON patches;
get     - an update, refresh, import and delete first read the live object;
delete  - a removed or replaced object;
list, watch - the delete await (and the Deployment/Service/Ingress awaits) run an informer on the
          object's own kind in its namespace.
Not `update` (PUT is used only for CustomResourceDefinitions) nor `deletecollection`."""
AWAIT_VERBS = ("list", "watch")
"""Informers of the create/update/delete awaits: a list, then a watch; never a get by name."""
READER_VERBS = ("get",)
"""A refresh (and an import) reads each object by name."""
READER_AWAIT_VERBS = ("list",)
"""A refresh's read awaits list related kinds once; they do not watch."""


@dataclass(frozen=True)
class ApiKind:
    group: str
    """API group, "" for the core group."""
    resource: str
    """The plural resource name RBAC rules use."""
    namespaced: bool


GroupResource = tuple[str, str]

KINDS: Mapping[tuple[str, str], ApiKind] = MappingProxyType(
    {
        ("", "ConfigMap"): ApiKind("", "configmaps", True),
        ("", "LimitRange"): ApiKind("", "limitranges", True),
        ("", "Namespace"): ApiKind("", "namespaces", False),
        ("", "ResourceQuota"): ApiKind("", "resourcequotas", True),
        ("", "Secret"): ApiKind("", "secrets", True),
        ("", "Service"): ApiKind("", "services", True),
        ("", "ServiceAccount"): ApiKind("", "serviceaccounts", True),
        ("apps", "Deployment"): ApiKind("apps", "deployments", True),
        ("autoscaling", "HorizontalPodAutoscaler"): ApiKind(
            "autoscaling", "horizontalpodautoscalers", True
        ),
        ("networking.k8s.io", "Ingress"): ApiKind("networking.k8s.io", "ingresses", True),
        ("networking.k8s.io", "NetworkPolicy"): ApiKind(
            "networking.k8s.io", "networkpolicies", True
        ),
        ("policy", "PodDisruptionBudget"): ApiKind("policy", "poddisruptionbudgets", True),
    }
)
"""Every kind the program may render, keyed by (API group, kind). A kind missing here makes the
tool fail rather than guess: add it with the provider's await behaviour in `AWAIT_READS`."""

AWAIT_READS: Mapping[tuple[str, str], tuple[GroupResource, ...]] = MappingProxyType(
    {
        # provider/pkg/await/deployment.go: Await() subscribes informers to deployments,
        # replicasets, pods and persistentvolumeclaims; Read() lists the last three.
        ("apps", "Deployment"): (
            ("apps", "replicasets"),
            ("", "pods"),
            ("", "persistentvolumeclaims"),
        ),
        # provider/pkg/await/service.go: informers on services and (core) endpoints; Read() lists
        # endpoints. EndpointSlices are not read.
        ("", "Service"): (("", "endpoints"),),
        # provider/pkg/await/ingress.go: informers on ingresses, endpoints and services; Read()
        # lists endpoints and services.
        ("networking.k8s.io", "Ingress"): (("", "endpoints"), ("", "services")),
    }
)
"""Kinds the provider's awaits read for an object of a kind, beyond the object itself. An object
annotated `pulumi.com/skipAwait: "true"` skips them (Read and Creation check it first)."""

EVENTS: GroupResource = ("", "events")
"""provider/pkg/await/watchers.go NewEventAggregator: every create, update and delete watches
core/v1 Events in the object's namespace to print Warning events."""


class RbacError(Exception):
    """The render holds something these rules cannot cover; the message is one line."""


@dataclass(frozen=True)
class StackNamespace:
    """The stack's one Namespace, what every rule here is scoped to: its name, the prefix of the
    stack's object names, whether it is retained, its Pod Security labels."""

    stack: str
    namespace: str
    prefix: str
    namespace_retained: bool
    """The Namespace is `retainOnDelete`: Pulumi never deletes it (engine step.go skips the
    provider's Delete), so the deployer gets no `delete` on it and no cluster-wide watch."""
    pod_security_labels: Mapping[str, str]


@dataclass(frozen=True)
class Grants:
    """What one identity may do, derived from the render."""

    namespaced: Mapping[GroupResource, frozenset[str]]
    """(group, resource) to verbs, inside the environment's namespace."""
    namespace_by_name: frozenset[str]
    """Verbs on the environment's Namespace object, restricted by resourceNames."""
    namespaces: frozenset[str]
    """Verbs on namespaces cluster-wide (list/watch cannot be restricted by name)."""


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def api_kind(manifest: Mapping[str, Any]) -> ApiKind:
    key = (api_group(str(manifest.get("apiVersion", ""))), str(manifest.get("kind", "")))
    try:
        return KINDS[key]
    except KeyError:
        raise RbacError(
            f"the render has a {manifest.get('apiVersion')} {manifest.get('kind')}, which "
            "tools/rbac.py has no rules for: add it to KINDS (and AWAIT_READS) with the verbs "
            "the provider needs, see docs/credentials.md"
        ) from None


def stack_namespace(result: Render) -> StackNamespace:
    """The stack's namespace, name prefix and namespace options, from its one Namespace."""
    namespaces = [m for m in result.manifests.values() if m.get("kind") == "Namespace"]
    if len(namespaces) != 1:
        raise RbacError(f"the render has {len(namespaces)} Namespaces; expected exactly one")
    meta = namespaces[0]["metadata"]
    labels: Mapping[str, str] = meta.get("labels") or {}
    prefix = labels.get("app.kubernetes.io/instance")
    if not prefix:
        raise RbacError(f"Namespace {meta['name']} has no app.kubernetes.io/instance label")
    registered: list[Registered] = [r for r in result.run.kubernetes() if r.kind == "Namespace"]
    return StackNamespace(
        stack=result.stack.stack,
        namespace=meta["name"],
        prefix=prefix,
        namespace_retained=all(r.retain_on_delete for r in registered),
        pod_security_labels={
            k: v for k, v in sorted(labels.items()) if k.startswith(POD_SECURITY_PREFIX)
        },
    )


def _namespaced_objects(result: Render, env: StackNamespace) -> list[Mapping[str, Any]]:
    objects = []
    for name, manifest in result.manifests.items():
        kind = api_kind(manifest)
        if not kind.namespaced:
            continue
        namespace = manifest.get("metadata", {}).get("namespace")
        if namespace != env.namespace:
            raise RbacError(
                f"{name} is in namespace {namespace!r}, not the stack's {env.namespace!r}; "
                "the deployer can reach only its own namespace"
            )
        objects.append(manifest)
    return objects


def _skips_await(manifest: Mapping[str, Any]) -> bool:
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    return str(annotations.get(SKIP_AWAIT_ANNOTATION, "")).lower() == "true"


def _add(grants: dict[GroupResource, set[str]], key: GroupResource, verbs: Iterable[str]) -> None:
    grants.setdefault(key, set()).update(verbs)


def deployer_grants(result: Render) -> Grants:
    env = stack_namespace(result)
    grants: dict[GroupResource, set[str]] = {}
    for manifest in _namespaced_objects(result, env):
        kind = api_kind(manifest)
        _add(grants, (kind.group, kind.resource), MANAGED_VERBS)
        _add(grants, EVENTS, AWAIT_VERBS)
        if not _skips_await(manifest):
            for key in AWAIT_READS.get((kind.group, manifest["kind"]), ()):
                _add(grants, key, AWAIT_VERBS)
    # The Namespace is the administrator's to create (see docs/credentials.md); Pulumi imports
    # it, then reads and patches it. Deleting it is a delete plus an informer on namespaces
    # that lists them all: it sends no field selector, so resourceNames cannot narrow it.
    by_name = {"get", "patch"}
    cluster_wide: set[str] = set()
    if not env.namespace_retained:
        by_name.add("delete")
        cluster_wide.update(AWAIT_VERBS)
    return Grants(
        namespaced={k: frozenset(v) for k, v in grants.items()},
        namespace_by_name=frozenset(by_name),
        namespaces=frozenset(cluster_wide),
    )


def reader_grants(result: Render) -> Grants:
    env = stack_namespace(result)
    grants: dict[GroupResource, set[str]] = {}
    for manifest in _namespaced_objects(result, env):
        kind = api_kind(manifest)
        # Secrets included: a refresh reads every object it manages, and the values it can
        # read this way are already in the stack's state, which the drift job decrypts anyway.
        # `get` only: without `list` the reader cannot discover Secrets the program does not own.
        _add(grants, (kind.group, kind.resource), READER_VERBS)
        if not _skips_await(manifest):
            for key in AWAIT_READS.get((kind.group, manifest["kind"]), ()):
                _add(grants, key, READER_AWAIT_VERBS)
    return Grants(
        namespaced={k: frozenset(v) for k, v in grants.items()},
        namespace_by_name=frozenset(READER_VERBS),
        namespaces=frozenset(),
    )


def rules(
    grants: Mapping[GroupResource, Iterable[str]], resource_names: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """RBAC rules, one per API group and verb set, in a stable order."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (group, resource), verbs in grants.items():
        merged.setdefault((group, tuple(sorted(verbs))), []).append(resource)
    out = []
    for (group, verbs), resources in sorted(merged.items()):
        rule: dict[str, Any] = {
            "apiGroups": [group],
            "resources": sorted(resources),
            "verbs": list(verbs),
        }
        if resource_names:
            rule["resourceNames"] = list(resource_names)
        out.append(rule)
    return out


def _cluster_rules(env: StackNamespace, grants: Grants) -> list[dict[str, Any]]:
    namespaces = ("", "namespaces")
    out = rules({namespaces: grants.namespace_by_name}, resource_names=[env.namespace])
    if grants.namespaces:
        out += rules({namespaces: grants.namespaces})
    return out


def _pod_security_guard(
    env: StackNamespace, meta: Callable[[str], dict[str, Any]], deployer: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Admission policy: the deployer may patch its namespace, but not its Pod Security labels.

    Without it the deployer could relabel the namespace `privileged` and then run privileged pods.
    The expected values are the render's, so a program that changes them needs a regenerated
    policy (and an administrator to apply it) first.
    """
    name = f"{PROJECT}-{env.prefix}-pod-security"
    account = deployer["metadata"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    validations = [
        {
            "expression": (
                f"has(object.metadata.labels) && '{label}' in object.metadata.labels && "
                f"object.metadata.labels['{label}'] == '{value}'"
            ),
            "message": f"the deployer must keep label {label}={value} on namespace {env.namespace}",
            "reason": "Forbidden",
        }
        for label, value in env.pod_security_labels.items()
    ]
    policy = {
        "apiVersion": ADMISSION_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": meta(name),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["namespaces"],
                        "resourceNames": [env.namespace],
                    }
                ]
            },
            "matchConditions": [
                {"name": "is-deployer", "expression": f"request.userInfo.username == '{user}'"}
            ],
            "validations": validations,
        },
    }
    binding = {
        "apiVersion": ADMISSION_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": meta(name),
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]


def rbac_objects(
    result: Render,
    identity_namespace: str = IDENTITY_NAMESPACE,
    token_secrets: bool = False,
    pod_security_guard: bool = True,
) -> list[dict[str, Any]]:
    """Every object to apply for the stack's two identities, in apply order."""
    env = stack_namespace(result)
    labels = {
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/component": "pipeline-credentials",
        "app.kubernetes.io/instance": env.prefix,
    }
    annotations = {f"{PROJECT}/generated-by": f"python -m tools.rbac {env.stack}"}

    def meta(name: str, namespace: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": name,
            "labels": dict(labels),
            "annotations": dict(annotations),
        }
        if namespace:
            out["namespace"] = namespace
        return out

    identities = {
        "deployer": deployer_grants(result),
        "reader": reader_grants(result),
    }
    accounts, secrets, cluster, namespaced = [], [], [], []
    for role, grants in identities.items():
        account_name = f"{env.prefix}-{role}"
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(account_name, identity_namespace),
            # The token goes to CI in a kubeconfig, never into a pod.
            "automountServiceAccountToken": False,
        }
        accounts.append(account)
        if token_secrets:
            secret_meta = meta(f"{account_name}-token", identity_namespace)
            secret_meta["annotations"]["kubernetes.io/service-account.name"] = account_name
            secrets.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": secret_meta,
                    "type": "kubernetes.io/service-account-token",
                }
            )
        subjects = [
            {"kind": "ServiceAccount", "name": account_name, "namespace": identity_namespace}
        ]
        cluster_role = f"{PROJECT}-{env.prefix}-{role}"
        cluster.append(
            {
                "apiVersion": RBAC_VERSION,
                "kind": "ClusterRole",
                "metadata": meta(cluster_role),
                "rules": _cluster_rules(env, grants),
            }
        )
        cluster.append(
            {
                "apiVersion": RBAC_VERSION,
                "kind": "ClusterRoleBinding",
                "metadata": meta(cluster_role),
                "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": cluster_role},
                "subjects": subjects,
            }
        )
        role_name = f"{PROJECT}-{role}"
        namespaced.append(
            {
                "apiVersion": RBAC_VERSION,
                "kind": "Role",
                "metadata": meta(role_name, env.namespace),
                "rules": rules(grants.namespaced),
            }
        )
        namespaced.append(
            {
                "apiVersion": RBAC_VERSION,
                "kind": "RoleBinding",
                "metadata": meta(role_name, env.namespace),
                "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": role_name},
                "subjects": subjects,
            }
        )
    guard = []
    if pod_security_guard and env.pod_security_labels:
        guard = _pod_security_guard(env, meta, accounts[0])
    return accounts + secrets + cluster + namespaced + guard


def namespace_import_file(result: Render) -> dict[str, Any]:
    """The `pulumi import --file` document adopting the stack's existing Namespace.

    The Namespace's parents (the `Environment` component) are declared as components, so the
    imported namespace gets the URN the program gives it; every entry has a `logicalName`
    (Pulumi 3.98 or newer) because a component and the namespace may share a name (`local`).
    Import with `--generate-code=false`: the program already declares the namespace.
    """
    by_urn = {r.urn: r for r in result.run.resources}
    namespaces = [r for r in result.run.kubernetes() if r.kind == "Namespace"]
    if len(namespaces) != 1:
        raise RbacError(f"the render has {len(namespaces)} Namespaces; expected exactly one")
    chain: list[Registered] = []
    node: Registered | None = namespaces[0]
    while node is not None and node.type != "pulumi:pulumi:Stack":
        chain.append(node)
        node = by_urn.get(node.parent)
    chain.reverse()
    resources: list[dict[str, Any]] = []
    for depth, resource in enumerate(chain):
        entry: dict[str, Any] = {
            "type": resource.type,
            "name": f"r{depth}-{resource.type.rsplit(':', 1)[-1].lower()}",
            "logicalName": resource.name,
        }
        if resources:
            entry["parent"] = resources[-1]["name"]
        if resource.custom:
            entry["id"] = stack_namespace(result).namespace
            # The provider version the program's SDK registers. The entry names no `provider`, so
            # the engine imports through a default provider, although every stack file disables
            # it (`pulumi:disable-default-providers`) and the program registers the namespace
            # through its explicit provider (components/config/cluster.py); not run here.
            entry["version"] = metadata.version("pulumi_kubernetes")
        else:
            entry["component"] = True
        resources.append(entry)
    return {"resources": resources}


def to_yaml(
    objects: Sequence[Mapping[str, Any]], env: StackNamespace, identity_namespace: str
) -> str:
    header = [
        f"# Pipeline identities for stack {env.stack} (namespace {env.namespace}), generated by",
        f"# `python -m tools.rbac {env.stack}` from the program's render: docs/credentials.md.",
        f"# Needs namespaces {env.namespace} and {identity_namespace} to exist. Apply with:",
        f"#   python -m tools.rbac {env.stack} | kubectl apply --server-side "
        f"--field-manager={FIELD_MANAGER} -f -",
    ]
    return "\n".join(header) + "\n" + "---\n".join(dump(o) for o in objects)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rbac", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("stack", help="stack name, e.g. dev or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--identity-namespace",
        default=IDENTITY_NAMESPACE,
        help=f"namespace of the pipeline's ServiceAccounts (default: {IDENTITY_NAMESPACE})",
    )
    parser.add_argument(
        "--token-secrets",
        action="store_true",
        help="also a long-lived token Secret per ServiceAccount (for a kubeconfig in CI)",
    )
    parser.add_argument(
        "--no-pod-security-guard",
        action="store_true",
        help="leave out the ValidatingAdmissionPolicy (clusters older than Kubernetes 1.30)",
    )
    parser.add_argument(
        "--namespace-import-file",
        action="store_true",
        help="print the `pulumi import --file` JSON that adopts the existing namespace instead",
    )
    add_project_dir(parser)
    args = parser.parse_args(argv)
    try:
        result = render(args.stack, root=args.project_dir)
        if args.namespace_import_file:
            print(json.dumps(namespace_import_file(result), indent=2))
            return 0
        objects = rbac_objects(
            result,
            identity_namespace=args.identity_namespace,
            token_secrets=args.token_secrets,
            pod_security_guard=not args.no_pod_security_guard,
        )
        print(to_yaml(objects, stack_namespace(result), args.identity_namespace), end="")
    except (StackFileError, pulumi.RunError, RbacError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
