"""What each environment contains: names, namespaces, images, replicas, variables and wiring."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.catalog import CATALOG, CONTAINER_PORT
from tests.conftest import all_secrets, stack_with_secrets
from tools.harness import ProgramRun, Registered, reveal, run_program
from tools.stack_config import ROOT, committed_stacks, load_stack

STACKS = {
    # stack: (namespace, prefix, fixed replica count or (min, max) of an autoscaler, per service)
    "dev": (
        "development",
        "dev",
        {"reminder-service": 1, "event-service": 1, "notification-service": 1},
    ),
    "staging": (
        "staging",
        "stg",
        {"reminder-service": (2, 6), "event-service": 2, "notification-service": (2, 6)},
    ),
    "prod": (
        "production",
        "prod",
        {"reminder-service": (2, 6), "event-service": 2, "notification-service": (2, 6)},
    ),
}


@pytest.fixture(params=sorted(STACKS))
def stack(request) -> tuple[str, ProgramRun]:
    return request.param, request.getfixturevalue(f"{request.param}_run")


def manifest(resource: Registered) -> dict:
    return reveal(resource.state)


def pod_spec(run: ProgramRun, name: str) -> dict:
    return manifest(run.find("Deployment", name))["spec"]["template"]["spec"]


def test_one_namespace_named_after_the_environment(stack):
    name, run = stack
    namespace, prefix, _ = STACKS[name]
    namespaces = [manifest(r) for r in run.kubernetes() if r.kind == "Namespace"]
    assert [ns["metadata"]["name"] for ns in namespaces] == [namespace]
    labels = namespaces[0]["metadata"]["labels"]
    assert labels["name"] == namespace
    assert labels["app.kubernetes.io/part-of"] == "notification-delivery"
    assert labels["app.kubernetes.io/instance"] == prefix


def test_every_object_is_in_the_namespace_and_carries_the_prefix(stack):
    name, run = stack
    namespace, prefix, _ = STACKS[name]
    namespaced = [manifest(r) for r in run.kubernetes() if r.kind != "Namespace"]
    assert namespaced
    for obj in namespaced:
        assert obj["metadata"]["namespace"] == namespace, obj["metadata"]
        assert obj["metadata"]["name"].startswith(f"{prefix}-"), obj["metadata"]


def test_deployments_and_services_are_named_prefix_dash_service(stack):
    name, run = stack
    _, prefix, _ = STACKS[name]
    deployments = {
        manifest(r)["metadata"]["name"] for r in run.kubernetes() if r.kind == "Deployment"
    }
    services = {
        manifest(r)["metadata"]["name"]
        for r in run.kubernetes()
        if r.kind == "Service" and manifest(r)["spec"]["type"] != "ExternalName"
    }
    assert deployments == {f"{prefix}-{s}" for s in CATALOG}
    # event-service is a queue worker with no HTTP route: it gets no Service.
    assert services == {f"{prefix}-reminder-service", f"{prefix}-notification-service"}


def test_image_tag_is_version_dash_prefix_from_the_default_registry(stack):
    name, run = stack
    _, prefix, _ = STACKS[name]
    for service in CATALOG:
        container = pod_spec(run, f"{prefix}-{service}")["containers"][0]
        assert container["image"] == f"docker.io/adisakshya/{service}:1.0.0-{prefix}"
        # Tags are re-pushed on every commit of their branch, so they must be pulled again.
        assert container["imagePullPolicy"] == "Always"


def test_replicas_come_from_the_stack(stack):
    name, run = stack
    _, prefix, replicas = STACKS[name]
    for service in CATALOG:
        spec = manifest(run.find("Deployment", f"{prefix}-{service}"))["spec"]
        expected = replicas[service]
        autoscalers = [
            manifest(r)["spec"]
            for r in run.kubernetes()
            if r.kind == "HorizontalPodAutoscaler" and r.name == f"{prefix}-{service}"
        ]
        if isinstance(expected, tuple):
            # The autoscaler owns the count: the program must not set it and fight over it.
            assert "replicas" not in spec
            assert [(a["minReplicas"], a["maxReplicas"]) for a in autoscalers] == [expected]
            assert autoscalers[0]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{prefix}-{service}",
            }
        else:
            assert spec["replicas"] == expected
            assert autoscalers == []


def test_variables_are_catalog_defaults_overridden_by_the_stack(stack):
    name, run = stack
    _, prefix, _ = STACKS[name]
    external = load_stack(name).values["externalServices"]
    account = external["awsAccountId"]
    derived = {
        "EVENT_TOPIC_ARN": f"arn:aws:sns:us-east-1:{account}:{prefix}-event-topic",
        "EVENT_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/{account}/{prefix}-event-queue",
        "NOTIFICATION_QUEUE_URL": (
            f"https://sqs.us-east-1.amazonaws.com/{account}/{prefix}-notification-queue"
        ),
        "EVENT_STORE": external["eventStore"],
    }
    for service, spec in CATALOG.items():
        config_map = next(
            manifest(r)
            for r in run.kubernetes()
            if r.kind == "ConfigMap" and r.name == f"{prefix}-{service}"
        )
        expected = {
            **spec.env,
            # Pods reach their database through the environment's ExternalName Service.
            "DB_HOST": f"{prefix}-{spec.database}-db",
            **{k: v for k, v in derived.items() if k in spec.required_env},
        }
        assert config_map["data"] == expected
        assert config_map["data"]["NODE_ENV"] == "production"
        assert config_map["data"]["PORT"] == str(CONTAINER_PORT)


def test_container_reads_its_own_configmap_and_secret(stack):
    name, run = stack
    _, prefix, _ = STACKS[name]
    for service in CATALOG:
        instance = f"{prefix}-{service}"
        config_map = next(
            r for r in run.kubernetes() if r.kind == "ConfigMap" and r.name == instance
        )
        secret = next(r for r in run.kubernetes() if r.kind == "Secret" and r.name == instance)
        env_from = pod_spec(run, instance)["containers"][0]["envFrom"]
        assert env_from == [
            {"configMapRef": {"name": manifest(config_map)["metadata"]["name"]}},
            {"secretRef": {"name": manifest(secret)["metadata"]["name"]}},
        ]
        # The original event/notification manifests wired reminder-service's secret: never again.
        assert manifest(secret)["metadata"]["name"].startswith(f"{instance}-")
        assert set(reveal(secret.inputs)["stringData"]) == set(CATALOG[service].required_secrets)


def test_selector_is_stable_and_services_select_the_pods(stack):
    name, run = stack
    _, prefix, _ = STACKS[name]
    for service in CATALOG:
        deployment = manifest(run.find("Deployment", f"{prefix}-{service}"))
        selector = deployment["spec"]["selector"]["matchLabels"]
        # Nothing release-specific: a Deployment's selector cannot change without a replacement.
        assert selector == {
            "app.kubernetes.io/name": service,
            "app.kubernetes.io/instance": f"{prefix}-{service}",
        }
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= template_labels.items()
        assert template_labels["app.kubernetes.io/version"] == "1.0.0"
        assert template_labels["app.kubernetes.io/managed-by"] == "pulumi"
        assert template_labels["app.kubernetes.io/part-of"] == "notification-delivery"
        if CATALOG[service].http:
            svc = manifest(run.find("Service", f"{prefix}-{service}"))
            assert svc["spec"]["selector"] == selector
            assert svc["spec"]["type"] == "ClusterIP"
            assert svc["spec"]["ports"] == [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
            ]
            ports = pod_spec(run, f"{prefix}-{service}")["containers"][0]["ports"]
            assert {"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"} in ports


def test_stack_outputs_name_every_service(stack):
    name, run = stack
    namespace, prefix, replicas = STACKS[name]
    assert run.outputs["namespace"] == namespace
    services = run.outputs["services"]
    assert set(services) == set(CATALOG)
    for service, out in services.items():
        assert out["deployment"] == f"{prefix}-{service}"
        assert out["image"] == f"docker.io/adisakshya/{service}:1.0.0-{prefix}"
        expected = replicas[service]
        if isinstance(expected, tuple):
            assert out["replicas"] is None
            assert out["autoscaling"] == {"minReplicas": expected[0], "maxReplicas": expected[1]}
        else:
            assert out["replicas"] == expected
            assert out["autoscaling"] is None
        if CATALOG[service].http:
            assert out["service"] == f"{prefix}-{service}"
            assert out["serviceDns"] == f"{prefix}-{service}.{namespace}.svc.cluster.local"
        else:
            assert out["service"] is None


def test_a_new_environment_needs_only_a_stack_file(tmp_path: Path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.staging.yaml").write_text(
        """config:
  notification-delivery:cluster: {context: staging}
  notification-delivery:environment: staging
  notification-delivery:prefix: stg
  notification-delivery:version: 1.2.0
  notification-delivery:services:
    reminder-service:
      replicas: 3
      env: {DB_HOST: stg-db.internal, EVENT_TOPIC_ARN: "arn:aws:sns:us-east-1:1:stg-events"}
    event-service:
      env:
        DB_HOST: stg-db.internal
        EVENT_TOPIC_ARN: "arn:aws:sns:us-east-1:1:stg-events"
        EVENT_QUEUE_URL: https://sqs.us-east-1.amazonaws.com/1/stg-events
    notification-service:
      env: {DB_HOST: stg-db.internal, NOTIFICATION_QUEUE_URL: "https://sqs/1/stg-n"}
"""
    )
    run = run_program(load_stack("staging", root=tmp_path).with_secrets(all_secrets()))
    assert run.outputs["namespace"] == "staging"
    names = {manifest(r)["metadata"]["name"] for r in run.kubernetes() if r.kind == "Deployment"}
    assert names == {f"stg-{s}" for s in CATALOG}
    reminder = manifest(run.find("Deployment", "stg-reminder-service"))
    assert reminder["spec"]["replicas"] == 3
    # An unlisted replica count defaults to one.
    assert manifest(run.find("Deployment", "stg-event-service"))["spec"]["replicas"] == 1
    image = reminder["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "docker.io/adisakshya/reminder-service:1.2.0-stg"


def test_building_from_source_deploys_the_pushed_digest(tmp_path):
    context = tmp_path / "reminder-service"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM node:20-alpine\n")
    config = stack_with_secrets("dev")
    config.values["services"]["reminder-service"]["build"] = {
        "context": str(context),
        "platform": "linux/amd64",
    }
    config.values["registry"] = "registry.example.com/team"
    config.values["registryUsername"] = "ci-bot"
    config.values["registryPassword"] = "registry-token-123"
    config.secret_keys.add("registryPassword")
    run = run_program(config)
    images = [r for r in run.resources if r.type == "docker:index/image:Image"]
    assert len(images) == 1
    inputs = reveal(images[0].inputs)
    assert inputs["imageName"] == "registry.example.com/team/reminder-service:1.0.0-dev"
    assert inputs["build"]["context"] == str(context)
    assert inputs["build"]["platform"] == "linux/amd64"
    assert inputs["registry"]["server"] == "registry.example.com"
    assert inputs["registry"]["username"] == "ci-bot"
    # The registry password travels as a Pulumi secret.
    assert "registry-token-123" not in str(images[0].inputs["registry"].get("username"))
    assert str(images[0].inputs).count("4dabf18193072939515e22adb298388d") >= 1
    container = pod_spec(run, "dev-reminder-service")["containers"][0]
    assert container["image"].startswith("registry.example.com/team/reminder-service@sha256:")
    assert container["imagePullPolicy"] == "IfNotPresent"
    # Services without a build context still run the published image.
    other = pod_spec(run, "dev-event-service")["containers"][0]["image"]
    assert other == "registry.example.com/team/event-service:1.0.0-dev"


def test_every_secret_is_delivered_even_one_the_catalog_does_not_list():
    config = stack_with_secrets("dev")
    config.values["secrets"]["event-service"]["SENTRY_DSN"] = "https://key@sentry.example/1"
    run = run_program(config)
    secret = next(
        r for r in run.kubernetes() if r.kind == "Secret" and r.name == "dev-event-service"
    )
    assert "SENTRY_DSN" in reveal(secret.inputs)["stringData"]


def test_committed_stacks_are_the_ones_git_tracks(tmp_path: Path):
    # The README's deploy quickstart copies dev to an untracked Pulumi.sandbox.yaml: a private
    # stack, for which no golden render, diagram page or test may be asked.
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert committed_stacks(tmp_path) == ["dev", "prod"]  # not a git checkout: every file
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "Pulumi.yaml", "Pulumi.dev.yaml"], check=True)
    assert committed_stacks(tmp_path) == ["dev"]
    shutil.copy(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.sandbox.yaml")
    assert committed_stacks(tmp_path) == ["dev"]
    subprocess.run([*git, "add", "Pulumi.prod.yaml"], check=True)
    assert committed_stacks(tmp_path) == ["dev", "prod"]
    (tmp_path / "Pulumi.prod.yaml").unlink()  # deleted, not yet staged
    assert committed_stacks(tmp_path) == ["dev"]
