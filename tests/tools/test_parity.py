"""Staging mirrors production, and `tools.parity` proves it: what it allows, what it reports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.conventions import TIER_LABEL
from tools import parity
from tools.check import check_render
from tools.parity import ALLOWED_DIFFERENCES, EnvironmentNames, compare
from tools.render import Render, render
from tools.stack_config import ROOT, StackConfig, load_stack

Manifests = dict[str, dict[str, Any]]
NAMES = ("staging", "prod")


def _lines(a: Manifests, b: Manifests, names: tuple[str, str] = NAMES) -> list[str]:
    return [d.line() for d in compare(a, b, names)]


def _staging(config: StackConfig) -> Manifests:
    return render("staging", config=config).manifests


@pytest.fixture(scope="module")
def staging_render() -> Render:
    return render("staging")


@pytest.fixture(scope="module")
def staging(staging_render: Render) -> Manifests:
    return staging_render.manifests


@pytest.fixture(scope="module")
def prod() -> Manifests:
    return render("prod").manifests


# --- the committed staging stack ---------------------------------------------------------------


def test_committed_staging_is_in_parity_with_prod(staging: Manifests, prod: Manifests) -> None:
    assert compare(staging, prod, NAMES) == []
    # Same objects, one for one: nothing matched by accident of an empty render.
    assert len(staging) == len(prod) == 31


def test_staging_has_its_own_namespace_names_and_endpoints(staging: Manifests) -> None:
    namespace = staging["namespace-staging.yaml"]["metadata"]
    assert namespace["name"] == "staging"
    labels = namespace["labels"]
    assert labels["app.kubernetes.io/instance"] == "stg"
    # Production's policy tier: the availability rules apply to staging as they do to prod.
    assert labels[TIER_LABEL] == "production"
    for file, manifest in staging.items():
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == "staging", file
            assert manifest["metadata"]["name"].startswith("stg-"), file
    hosts = {
        m["spec"]["externalName"]
        for m in staging.values()
        if m["kind"] == "Service" and m["spec"]["type"] == "ExternalName"
    }
    assert hosts == {"stg-postgres.c9akciq32.us-east-1.rds.amazonaws.com"}
    event_config = staging["configmap-stg-event-service.yaml"]["data"]
    assert event_config["EVENT_STORE"] == "stg-event-store"
    assert event_config["EVENT_QUEUE_URL"].endswith("/stg-event-queue")
    image = staging["deployment-stg-reminder-service.yaml"]["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "docker.io/adisakshya/reminder-service:1.0.0-stg"


def test_staging_namespace_is_not_protected(staging_render: Render) -> None:
    # Staging holds no data of its own: `pulumi destroy --stack staging` must be able to remove
    # it and a rebuild must be possible, unlike production.
    namespace = next(r for r in staging_render.run.kubernetes() if r.kind == "Namespace")
    assert (namespace.protect, namespace.retain_on_delete) == (False, False)


def test_staging_passes_the_policy_rules_including_production_availability(
    staging: Manifests,
) -> None:
    assert check_render(staging) == []
    # With production's tier, a staging that dropped to one replica fails as prod would.
    one_replica = _staging(load_stack("staging").edited("services.event-service.replicas", 1))
    assert {v.rule for v in check_render(one_replica)} == {"production-availability"}


# --- what the parity check reports -------------------------------------------------------------


def test_staging_that_lost_autoscaling_is_caught(prod: Manifests) -> None:
    lost = _staging(load_stack("staging").edited("services.reminder-service.autoscaling", None))

    assert _lines(lost, prod) == [
        # A fixed count is applied with patchForce (docs/engine.md); an autoscaled one is not.
        'reminder-service Deployment: metadata.annotations["pulumi.com/patchForce"]: staging '
        "true, prod (absent)",
        "reminder-service Deployment: spec.replicas: staging 1, prod (absent)",
        "reminder-service HorizontalPodAutoscaler: only in prod",
        "reminder-service PodDisruptionBudget: only in prod",
    ]


def test_probe_path_and_resource_limit_are_reported(prod: Manifests) -> None:
    config = (
        load_stack("staging")
        .edited("services.reminder-service.probes", {"path": "/health"})
        .edited("services.event-service.resources", {"limits": {"memory": "512Mi"}})
    )
    changed = _staging(config)

    containers = "spec.template.spec.containers[0]"
    assert _lines(changed, prod) == [
        f"event-service Deployment: {containers}.resources.limits.memory: staging 512Mi, "
        "prod 256Mi",
        *(
            f"reminder-service Deployment: {containers}.{probe}.httpGet.path: staging /health, "
            "prod /docs"
            for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        ),
    ]


def test_policy_tier_and_release_version_are_reported(prod: Manifests) -> None:
    config = load_stack("staging").edited("production", False).edited("version", "1.1.0")
    lines = _lines(_staging(config), prod)

    assert (
        f'namespace Namespace: metadata.labels["{TIER_LABEL}"]: '
        "staging non-production, prod production"
    ) in lines
    # The tag's environment suffix may differ; the version in it may not.
    assert (
        "reminder-service Deployment: spec.template.spec.containers[0].image: "
        "staging docker.io/adisakshya/reminder-service:1.1.0-stg, "
        "prod docker.io/adisakshya/reminder-service:1.0.0-prod"
    ) in lines


def test_endpoints_may_differ(prod: Manifests) -> None:
    config = load_stack("staging").edited(
        "externalServices",
        {
            "databaseHost": "staging-db.internal.example",
            "awsAccountId": "210987654321",
            "eventStore": "staging-events",
        },
    )
    assert _lines(_staging(config), prod) == []


def test_an_endpoint_shared_with_prod_is_reported(prod: Manifests) -> None:
    prod_host = prod["service-prod-reminders-db.yaml"]["spec"]["externalName"]
    config = (
        load_stack("staging")
        .edited("externalServices.databaseHost", prod_host)
        .edited("externalServices.eventStore", "event-store")
    )

    shared = "staging and prod share {} (each environment needs its own)"
    database = "{}-db Service: spec.externalName: " + shared.format(prod_host)
    # Sorted by what the object belongs to, as every report of this tool is.
    assert _lines(_staging(config), prod) == [
        database.format("devices"),
        "event-service ConfigMap: data.EVENT_STORE: " + shared.format("event-store"),
        database.format("notifications"),
        database.format("reminders"),
    ]


def test_an_extra_variable_or_secret_is_reported_without_its_value(prod: Manifests) -> None:
    config = load_stack("staging").edited("services.event-service.env", {"LOG_LEVEL": "debug"})
    config = config.with_secrets({"event-service": {"SENTRY_DSN": "https://key@sentry.example/1"}})

    lines = _lines(_staging(config), prod)

    assert lines == [
        "event-service ConfigMap: data.LOG_LEVEL: staging debug, prod (absent)",
        "event-service Secret: stringData.SENTRY_DSN: staging [secret], prod (absent)",
    ]


# --- the allowed differences themselves --------------------------------------------------------


def test_each_allowance_covers_only_its_own_difference(staging: Manifests, prod: Manifests) -> None:
    env_a, env_b = EnvironmentNames.of(staging), EnvironmentNames.of(prod)

    def allowed(kind: str, parts: tuple, old: Any, new: Any) -> list[str]:
        field = parity.Field(kind, parts, old, new, env_a, env_b)
        return [a.name for a in ALLOWED_DIFFERENCES if a.allows(field)]

    meta_ns = ("metadata", "namespace")
    assert allowed("Deployment", meta_ns, "staging", "production") == ["namespace"]
    assert allowed("Deployment", meta_ns, "staging", "development") == []
    instance = ("metadata", "labels", "app.kubernetes.io/instance")
    assert allowed("ResourceQuota", instance, "stg", "prod") == ["prefix"]
    # A generated name on each side: hash and suffix do not count, the rest must match.
    config_map_a = staging["configmap-stg-event-service.yaml"]["metadata"]["name"]
    config_map_b = prod["configmap-prod-event-service.yaml"]["metadata"]["name"]
    ref = ("spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name")
    assert allowed("Deployment", ref, config_map_a, config_map_b) == ["names"]
    other_service = prod["configmap-prod-reminder-service.yaml"]["metadata"]["name"]
    assert allowed("Deployment", ref, config_map_a, other_service) == []
    image = ("spec", "template", "spec", "containers", 0, "image")
    assert allowed("Deployment", image, "r/a:1.0.0-stg", "r/a:1.0.0-prod") == ["image tag suffix"]
    assert allowed("Deployment", image, "r/a:1.0.1-stg", "r/a:1.0.0-prod") == []
    assert allowed("Deployment", image, "r/a@sha256:1", "r/a@sha256:2") == []
    assert allowed("ConfigMap", ("data", "EVENT_STORE"), "x", "y") == ["endpoints"]
    assert allowed("ConfigMap", ("data", "DB_NAME"), "x", "y") == []
    assert allowed("Service", ("spec", "externalName"), "a.example", "b.example") == ["endpoints"]
    assert allowed("Ingress", ("spec", "rules", 0, "host"), "a.example", "b.example") == ["hosts"]
    assert allowed("Ingress", ("spec", "rules", 0, "http", "paths", 0, "path"), "/a", "/b") == []
    probe = ("spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet", "path")
    assert allowed("Deployment", probe, "/health", "/docs") == []
    limit = ("spec", "template", "spec", "containers", 0, "resources", "limits", "memory")
    assert allowed("Deployment", limit, "512Mi", "256Mi") == []


def test_ingress_hosts_may_differ_but_not_be_shared(prod: Manifests) -> None:
    with_ingress = load_stack("staging").edited("ingress", {"host": "api.staging.example"})
    prod_ingress = render(
        "prod", config=load_stack("prod").edited("ingress", {"host": "api.example"})
    ).manifests
    assert _lines(_staging(with_ingress), prod_ingress) == []

    same_host = _staging(load_stack("staging").edited("ingress", {"host": "api.example"}))
    assert _lines(same_host, prod_ingress) == [
        f"{service} Ingress: spec.rules[0].host: staging and prod share api.example "
        "(each environment needs its own)"
        for service in ("notification-service", "reminder-service")
    ]
    # An Ingress in one environment only is a difference like any other object.
    assert "reminder-service Ingress: only in staging" in _lines(same_host, prod)


def test_docs_describe_every_allowed_difference() -> None:
    text = (ROOT / "docs" / "parity.md").read_text()
    for allowance in ALLOWED_DIFFERENCES:
        assert f"**{allowance.name}**" in text, allowance.name


def test_a_render_without_one_namespace_cannot_be_compared(staging: Manifests) -> None:
    without = {f: m for f, m in staging.items() if m["kind"] != "Namespace"}
    with pytest.raises(parity.ParityError, match="0 Namespaces"):
        compare(without, staging)


# --- command line ------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.parity", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_cli_in_parity_exits_0_with_one_line() -> None:
    done = _cli("staging", "prod")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "parity: staging and prod match object by object (31 objects; they differ only in "
        "namespace, prefix, names, image tag suffix, endpoints, hosts)"
    ]


def test_cli_reports_each_difference_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    (tmp_path / "Pulumi.staging.yaml").write_text(text.replace("replicas: 2", "replicas: 3"))
    # In this process other tests render after this one: keep the SDK's threads (the command
    # itself is run for real above).
    monkeypatch.setattr(parity, "shutdown", lambda: None)

    code = parity.main(["staging", "prod", "-C", str(tmp_path)])

    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "event-service Deployment: spec.replicas: staging 3, prod 2",
        "parity: 1 difference(s) between staging and prod; allowed differences: docs/parity.md",
    ]


def test_cli_bad_config_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    (tmp_path / "Pulumi.staging.yaml").write_text(text.replace("replicas: 2", "replicas: many"))
    monkeypatch.setattr(parity, "shutdown", lambda: None)

    code = parity.main(["staging", "prod", "-C", str(tmp_path)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert "services.event-service.replicas" in captured.err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["staging", "nope"], "Pulumi.nope.yaml"),
        (["staging", "staging"], "two different stacks"),
    ],
)
def test_cli_bad_usage_exits_2_with_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both fail before anything is rendered, so no SDK thread is started or stopped.
    assert parity.main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert says in captured.err


def test_cli_missing_argument_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parity.main(["staging"])
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_the_docs_example_is_what_the_command_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "docs" / "parity.md").read_text()
    command = "$ python -m tools.parity dev prod\n"
    example = text[text.index(command) + len(command) :].split("```", 1)[0]
    monkeypatch.setattr(parity, "shutdown", lambda: None)  # other tests render after this one

    assert parity.main(["dev", "prod"]) == 1
    assert capsys.readouterr().out == example, "docs/parity.md's dev/prod example is stale"
