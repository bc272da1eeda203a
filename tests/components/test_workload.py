"""Production-grade defaults of every workload, each override, and each error for a bad value."""

from __future__ import annotations

import pytest

from components.catalog import CATALOG, CONTAINER_PORT
from components.config import ConfigError
from tests.conftest import CountingMocks, edited, stack_with_secrets
from tools.harness import ProgramRun, reveal, run_program

PREFIX = "invalid stack config: "


def objects(run: ProgramRun, kind: str) -> dict[str, dict]:
    """Logical name to manifest, for one kind."""
    return {r.name: reveal(r.state) for r in run.kubernetes() if r.kind == kind}


def container(run: ProgramRun, name: str) -> dict:
    return pod(run, name)["containers"][0]


def pod(run: ProgramRun, name: str) -> dict:
    return reveal(run.find("Deployment", name).state)["spec"]["template"]["spec"]


def error_of(config) -> str:
    mocks = CountingMocks()
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=mocks)
    assert mocks.created == []
    return str(error.value)


# --- health -------------------------------------------------------------------------------


def test_http_services_probe_docs_and_the_worker_gets_a_tcp_check(dev_run):
    for service, spec in CATALOG.items():
        c = container(dev_run, f"dev-{service}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if spec.http:
                assert c[probe]["httpGet"] == {"path": "/docs", "port": "http", "scheme": "HTTP"}
            else:
                assert c[probe]["tcpSocket"] == {"port": "http"}
                assert "httpGet" not in c[probe]
        # A slow Node start gets 150 s before liveness may restart it.
        assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] == 150
        assert c["ports"] == [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}]


def test_probe_timings_are_overridable():
    config = edited(
        stack_with_secrets("dev"),
        "services.reminder-service.probes",
        {"startup": {"failureThreshold": 60}, "readiness": {"periodSeconds": 5}},
    )
    c = container(run_program(config), "dev-reminder-service")
    assert c["startupProbe"]["failureThreshold"] == 60
    assert c["readinessProbe"]["periodSeconds"] == 5
    assert c["livenessProbe"]["periodSeconds"] == 20


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "services.reminder-service.probes.port",
            9090,
            "services.reminder-service.probes.port: reminder-service does not open port 9090; "
            "probes must target its port 8080",
        ),
        (
            "services.event-service.probes.path",
            "/health",
            "services.event-service.probes.path: event-service serves no HTTP; "
            "it can only have a TCP check",
        ),
        (
            "services.reminder-service.probes.liveness.periodSeconds",
            0,
            "services.reminder-service.probes.liveness.periodSeconds: must be 1 or more, not 0",
        ),
    ],
)
def test_bad_probe_settings(path, value, message):
    assert error_of(edited(stack_with_secrets("dev"), path, value)) == PREFIX + message


# --- resources ------------------------------------------------------------------------------


def test_every_container_has_requests_and_a_memory_limit(prod_run):
    for service in CATALOG:
        resources = container(prod_run, f"prod-{service}")["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert "memory" in resources["limits"]
    # prod overrides one service's memory limit in its stack file.
    limits = container(prod_run, "prod-notification-service")["resources"]["limits"]
    assert limits == {"memory": "384Mi"}
    assert container(prod_run, "prod-event-service")["resources"]["limits"] == {"memory": "256Mi"}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"requests": {"memory": "512Mi"}, "limits": {"memory": "256Mi"}},
            "services.event-service.resources.limits.memory: 256Mi is below the request 512Mi",
        ),
        (
            {"requests": {"cpu": "lots"}},
            "services.event-service.resources.requests.cpu: 'lots' is not a Kubernetes quantity "
            "(e.g. 250m, 1, 256Mi, 1Gi)",
        ),
        (
            {"limits": {"memory": "4Gi"}},
            "services.event-service.resources.limits.memory: 4Gi exceeds limitRange.max.memory "
            "(2Gi)",
        ),
    ],
)
def test_bad_resources(resources, message):
    config = edited(stack_with_secrets("dev"), "services.event-service.resources", resources)
    assert error_of(config) == PREFIX + message


# --- security -------------------------------------------------------------------------------


def assert_restricted(pod_spec: dict) -> None:
    """The `restricted` Pod Security Standard, checked field by field."""
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod_spec.get(key)
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for volume in pod_spec.get("volumes", []):
        assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected"}
    for c in pod_spec["containers"]:
        ctx = c["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx.get("privileged") is not True
        assert ctx["runAsNonRoot"] is True
        assert ctx["runAsUser"] > 0
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        assert ctx["readOnlyRootFilesystem"] is True
        assert not c.get("ports") or all(p["containerPort"] >= 1024 for p in c["ports"])


def test_pods_meet_the_restricted_standard_which_the_namespace_enforces(prod_run):
    for service in CATALOG:
        spec = pod(prod_run, f"prod-{service}")
        assert_restricted(spec)
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]
        assert {"name": "tmp", "mountPath": "/tmp"} in spec["containers"][0]["volumeMounts"]
    labels = objects(prod_run, "Namespace")["production"]["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


# --- identity -------------------------------------------------------------------------------


def test_each_service_has_its_own_account_without_a_token(dev_run):
    accounts = objects(dev_run, "ServiceAccount")
    assert set(accounts) == {f"dev-{s}" for s in CATALOG}
    for service in CATALOG:
        assert accounts[f"dev-{service}"]["automountServiceAccountToken"] is False
        spec = pod(dev_run, f"dev-{service}")
        assert spec["serviceAccountName"] == f"dev-{service}"
        assert spec["automountServiceAccountToken"] is False
        assert "annotations" not in accounts[f"dev-{service}"]["metadata"]


def test_an_iam_role_replaces_static_aws_keys():
    role = "arn:aws:iam::123456789012:role/dev-event-service"
    config = edited(stack_with_secrets("dev"), "services.event-service.iamRoleArn", role)
    del config.values["secrets"]["event-service"]["AWS_ACCESS_KEY_ID"]
    del config.values["secrets"]["event-service"]["AWS_SECRET_ACCESS_KEY"]
    run = run_program(config)
    account = objects(run, "ServiceAccount")["dev-event-service"]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    secret = objects(run, "Secret")["dev-event-service"]
    assert set(secret["stringData"]) == {"DB_PASS"}
    # Without a role the keys stay required.
    other = edited(stack_with_secrets("dev"), "services.event-service.iamRoleArn", None)
    del other.values["secrets"]["reminder-service"]["AWS_ACCESS_KEY_ID"]
    assert "secrets.reminder-service: missing required secret(s) AWS_ACCESS_KEY_ID" in error_of(
        other
    )


def test_a_malformed_role_arn_is_refused():
    config = edited(stack_with_secrets("dev"), "services.event-service.iamRoleArn", "admin")
    assert error_of(config) == PREFIX + (
        "services.event-service.iamRoleArn: 'admin' is not an IAM role ARN "
        "(arn:<partition>:iam::<account>:role/<name>)"
    )


# --- availability ---------------------------------------------------------------------------


def test_rolling_updates_never_drop_below_the_desired_count(prod_run):
    for service in CATALOG:
        deployment = reveal(prod_run.find("Deployment", f"prod-{service}").state)
        spec = deployment["spec"]
        assert spec["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        }
        assert spec["minReadySeconds"] == 10
        assert spec["progressDeadlineSeconds"] == 300
        assert deployment["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "600"
        keys = {c["topologyKey"] for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_disruption_budgets_exactly_where_more_than_one_pod_runs(dev_run, prod_run):
    assert objects(dev_run, "PodDisruptionBudget") == {}
    budgets = objects(prod_run, "PodDisruptionBudget")
    assert set(budgets) == {f"prod-{s}" for s in CATALOG}
    for service in CATALOG:
        spec = budgets[f"prod-{service}"]["spec"]
        assert spec["maxUnavailable"] == 1
        labels = pod(prod_run, f"prod-{service}")  # the budget must select the pods
        template = reveal(prod_run.find("Deployment", f"prod-{service}").state)["spec"]["template"]
        assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        assert labels


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"minReplicas": 4, "maxReplicas": 2},
            "services.event-service.autoscaling.maxReplicas: 2 is below minReplicas 4",
        ),
        (
            {"minReplicas": 2},
            "services.event-service.autoscaling.maxReplicas: is required; set it with "
            "`pulumi config set --path 'services.event-service.autoscaling.maxReplicas' <value>`",
        ),
    ],
)
def test_bad_autoscaling(value, message):
    config = edited(stack_with_secrets("dev"), "services.event-service.autoscaling", value)
    del config.values["services"]["event-service"]["replicas"]
    assert error_of(config) == PREFIX + message


def test_replicas_and_autoscaling_together_are_refused():
    config = edited(stack_with_secrets("prod"), "services.reminder-service.replicas", 3)
    assert error_of(config) == PREFIX + (
        "services.reminder-service.replicas: remove it: with autoscaling on, "
        "the HorizontalPodAutoscaler sets the replica count"
    )


# --- network isolation ----------------------------------------------------------------------


def test_default_deny_and_only_the_needed_allows(dev_run):
    policies = objects(dev_run, "NetworkPolicy")
    assert set(policies) == {
        "dev-default-deny",
        "dev-allow-dns",
        "dev-allow-postgres",
        "dev-allow-https",
        "dev-reminder-service-allow-ingress",
        "dev-notification-service-allow-ingress",
    }
    deny = policies["dev-default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ports = {
        name: [p["port"] for rule in spec["spec"].get("egress", []) for p in rule["ports"]]
        for name, spec in policies.items()
    }
    assert ports["dev-allow-dns"] == [53, 53]
    assert ports["dev-allow-postgres"] == [5432]
    assert ports["dev-allow-https"] == [443]
    ingress = policies["dev-reminder-service-allow-ingress"]["spec"]
    assert ingress["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kong"}}}
    ]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "reminder-service"


def test_network_settings_are_overridable():
    config = edited(
        stack_with_secrets("dev"),
        "network",
        {"ingressNamespace": "ingress-nginx", "databaseCidrs": ["10.0.0.0/16"]},
    )
    policies = objects(run_program(config), "NetworkPolicy")
    assert policies["dev-allow-postgres"]["spec"]["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "10.0.0.0/16"}}
    ]
    selector = policies["dev-notification-service-allow-ingress"]["spec"]["ingress"][0]["from"]
    assert selector[0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }


# --- external services ----------------------------------------------------------------------


def test_each_database_is_an_external_name_the_pods_use(dev_run):
    services = objects(dev_run, "Service")
    for spec in CATALOG.values():
        db = services[f"dev-{spec.database}-db"]["spec"]
        assert db["type"] == "ExternalName"
        assert db["externalName"] == "dev-postgres.c9akciq32.us-east-1.rds.amazonaws.com"
        config_map = objects(dev_run, "ConfigMap")[f"dev-{spec.name}"]
        assert config_map["data"]["DB_HOST"] == f"dev-{spec.database}-db"


def test_moving_a_database_changes_only_its_external_name():
    before = run_program(stack_with_secrets("dev"))
    config = edited(
        stack_with_secrets("dev"),
        "externalServices.databaseHosts",
        {"devices": "devices.c1.us-east-1.rds.amazonaws.com"},
    )
    after = run_program(config)
    old = {r.urn: reveal(r.state) for r in before.kubernetes()}
    new = {r.urn: reveal(r.state) for r in after.kubernetes()}
    changed = {urn.rsplit("::", 1)[1] for urn in old if old[urn] != new[urn]}
    assert changed == {"dev-devices-db"}


def test_explicit_aws_values_win_over_derived_ones():
    arn = "arn:aws:sns:us-east-1:210987654321:shared-events"
    config = edited(stack_with_secrets("dev"), "externalServices.eventTopicArn", arn)
    run = run_program(config)
    for name in ("dev-reminder-service", "dev-event-service"):
        assert objects(run, "ConfigMap")[name]["data"]["EVENT_TOPIC_ARN"] == arn
    assert "EVENT_TOPIC_ARN" not in objects(run, "ConfigMap")["dev-notification-service"]["data"]


# --- ingress --------------------------------------------------------------------------------


def test_ingress_is_off_by_default_and_on_per_environment(dev_run):
    assert objects(dev_run, "Ingress") == {}
    config = edited(
        stack_with_secrets("dev"),
        "ingress",
        {"host": "api.dev.example.com", "tlsSecretName": "dev-api-tls"},
    )
    ingresses = objects(run_program(config), "Ingress")
    assert set(ingresses) == {"dev-reminder-service", "dev-notification-service"}
    spec = ingresses["dev-reminder-service"]["spec"]
    assert spec["ingressClassName"] == "kong"
    assert spec["tls"] == [{"hosts": ["api.dev.example.com"], "secretName": "dev-api-tls"}]
    path = spec["rules"][0]["http"]["paths"][0]
    assert spec["rules"][0]["host"] == "api.dev.example.com"
    assert path["path"] == "/reminders"
    assert path["backend"]["service"] == {"name": "dev-reminder-service", "port": {"name": "http"}}


def test_enabled_ingress_needs_a_host():
    config = edited(stack_with_secrets("dev"), "ingress", {"enabled": True})
    assert error_of(config) == PREFIX + "ingress.host: is required when the ingress is enabled"


# --- quotas ---------------------------------------------------------------------------------


def test_quota_and_limit_range_per_environment(dev_run):
    quota = objects(dev_run, "ResourceQuota")["dev-quota"]["spec"]["hard"]
    assert quota == {
        "requests.cpu": "4",
        "requests.memory": "8Gi",
        "limits.memory": "16Gi",
        "pods": "50",
    }
    limits = objects(dev_run, "LimitRange")["dev-limits"]["spec"]["limits"]
    assert limits == [
        {
            "type": "Container",
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "default": {"memory": "256Mi"},
            "max": {"memory": "2Gi"},
        }
    ]


def test_a_quota_too_small_for_the_services_is_refused():
    config = edited(stack_with_secrets("prod"), "quota", {"requests.cpu": "1", "pods": "10"})
    # prod at full scale: 6+1, 2+1 and 6+1 pods, each requesting 100m.
    assert error_of(config) == PREFIX + (
        "quota.requests.cpu: 1 is below the 1.7 the services need at full scale during a rolling "
        "update, most of it for services.reminder-service.autoscaling.maxReplicas (6); lower "
        "that or raise the quota; quota.pods: 10 is below the 17 pods the services need at full "
        "scale during a rolling update, most of them for "
        "services.reminder-service.autoscaling.maxReplicas (6); lower that or raise the quota"
    )


def test_a_bare_cpu_or_memory_quota_must_fit_the_requests_as_well():
    # Kubernetes reads a quota's `cpu` and `memory` as `requests.cpu` and `requests.memory`.
    config = edited(stack_with_secrets("prod"), "quota", {"cpu": "1", "memory": "64Gi"})
    assert error_of(config) == PREFIX + (
        "quota.cpu: 1 is below the 1.7 the services need at full scale during a rolling "
        "update, most of it for services.reminder-service.autoscaling.maxReplicas (6); lower "
        "that or raise the quota"
    )


def test_a_quota_message_names_the_replicas_and_speaks_the_quotas_unit():
    config = edited(stack_with_secrets("dev"), "services.event-service.replicas", 500)
    quota = {"limits.memory": "16Gi", "pods": "50"}
    assert error_of(edited(config, "quota", quota)) == PREFIX + (
        "quota.limits.memory: 16Gi is below the 126.25Gi the services need at full scale during "
        "a rolling update, most of it for services.event-service.replicas (500); lower that or "
        "raise the quota; quota.pods: 50 is below the 505 pods the services need at full scale "
        "during a rolling update, most of them for services.event-service.replicas (500); lower "
        "that or raise the quota"
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("services.event-service.resources.limits.memory", "256m"),
        ("services.event-service.resources.requests.memory", "256m"),
        ("limitRange.max.memory", "256m"),
    ],
)
def test_memory_in_milli_says_that_m_is_milli(path, value):
    assert error_of(edited(stack_with_secrets("dev"), path, value)) == PREFIX + (
        f"{path}: '256m' is 0.256 bytes, as m is milli: write 256Mi for mebibytes"
    )
    quota = edited(stack_with_secrets("dev"), "quota", {"limits.memory": value})
    assert error_of(quota) == PREFIX + (
        "quota.limits.memory: '256m' is 0.256 bytes, as m is milli: write 256Mi for mebibytes"
    )


# --- protection and waits -------------------------------------------------------------------


def test_production_namespace_is_protected_and_retained(dev_run, prod_run):
    prod_ns = next(r for r in prod_run.kubernetes() if r.kind == "Namespace")
    assert prod_ns.protect and prod_ns.retain_on_delete
    dev_ns = next(r for r in dev_run.kubernetes() if r.kind == "Namespace")
    assert not dev_ns.protect and not dev_ns.retain_on_delete
    lifted = run_program(edited(stack_with_secrets("prod"), "protect", False))
    assert not next(r for r in lifted.kubernetes() if r.kind == "Namespace").protect


def test_rollout_timeout_must_outlast_the_progress_deadline():
    config = edited(stack_with_secrets("dev"), "rollout", {"timeoutSeconds": 120})
    assert error_of(config) == PREFIX + (
        "rollout.timeoutSeconds: 120 must exceed progressDeadlineSeconds (300), so Kubernetes "
        "reports why a rollout is stuck before Pulumi gives up waiting"
    )
    run = run_program(
        edited(
            stack_with_secrets("dev"),
            "rollout",
            {"timeoutSeconds": 900, "progressDeadlineSeconds": 600},
        )
    )
    deployment = reveal(run.find("Deployment", "dev-event-service").state)
    assert deployment["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "900"
    assert deployment["spec"]["progressDeadlineSeconds"] == 600


# --- local-cluster knobs --------------------------------------------------------------------


def test_local_stack_pins_node_ports_and_admits_node_traffic():
    run = run_program(stack_with_secrets("local"))
    services = objects(run, "Service")
    assert services["local-reminder-service"]["spec"]["type"] == "NodePort"
    assert services["local-reminder-service"]["spec"]["ports"][0]["nodePort"] == 30080
    assert services["local-notification-service"]["spec"]["ports"][0]["nodePort"] == 30081
    sources = objects(run, "NetworkPolicy")["local-reminder-service-allow-ingress"]["spec"]
    assert {"ipBlock": {"cidr": "172.16.0.0/12"}} in sources["ingress"][0]["from"]
    assert container(run, "local-event-service")["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "services.reminder-service.nodePort",
            30080,
            "services.reminder-service.nodePort: needs serviceType NodePort",
        ),
    ],
)
def test_bad_node_port(path, value, message):
    assert error_of(edited(stack_with_secrets("dev"), path, value)) == PREFIX + message


def test_skip_await_is_opt_in():
    run = run_program(edited(stack_with_secrets("dev"), "rollout.skipAwait", True))
    annotations = reveal(run.find("Deployment", "dev-event-service").state)["metadata"][
        "annotations"
    ]
    assert annotations["pulumi.com/skipAwait"] == "true"
