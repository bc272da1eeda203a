"""The change summary (`tools.changes`) on real renders of the program and on edge cases."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import all_secrets, secret_value
from tools import changes
from tools.changes import (
    MARKER,
    Change,
    compare,
    load_render,
    to_markdown,
    to_text,
    what_rolls,
    what_rolls_lines,
)
from tools.render import render, write
from tools.stack_config import ROOT, SECRET_PLACEHOLDER, StackConfig, load_stack

Render = dict[str, dict[str, Any]]


def _render_to(tmp: Path, stack: str, config: StackConfig | None = None) -> Render:
    """Render through the files on disk, as the workflow does (YAML round trip included)."""
    write(render(stack, config=config), tmp)
    return load_render(tmp)


def _lines(found: list[Change]) -> list[str]:
    return [line for change in found for line in change.lines()]


def _lead(found: list[Change]) -> list[str]:
    """The section the report opens with: what rolls, starts or stops, is replaced, or neither."""
    return what_rolls_lines(what_rolls(found))


def _name(render: Render, file: str) -> str:
    return render[file]["metadata"]["name"]


NOTHING_ROLLS = ["Pods roll: none", "Pods start or stop: none", "Replaced: none"]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return _render_to(tmp_path_factory.mktemp("base") / "dev", "dev")


@pytest.fixture(scope="module")
def prod_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("base") / "prod"
    write(render("prod"), folder)
    return folder


@pytest.fixture(scope="module")
def prod(prod_dir: Path) -> Render:
    return load_render(prod_dir)


def test_identical_renders_have_no_changes(dev: Render, tmp_path: Path) -> None:
    again = _render_to(tmp_path / "dev", "dev")
    assert compare(dev, again) == []
    assert to_text([]).splitlines() == [
        *NOTHING_ROLLS,
        "No pod restarts: none",
        "",
        "Changes: 0 created, 0 updated, 0 replaced, 0 deleted",
        "no changes",
    ]


def test_replica_change_is_one_field_of_one_deployment_and_no_rollout(
    prod: Render, tmp_path: Path
) -> None:
    config = load_stack("prod").edited("services.event-service.replicas", 3)
    head = _render_to(tmp_path / "head", "prod", config)

    found = compare(prod, head)

    assert _lines(found) == ["prod-event-service Deployment: spec.replicas 2 -> 3"]
    assert found[0].action == "updated"
    assert found[0].namespace == "production"
    # Scaling adds a pod; it restarts none, so it must not read as a rollout.
    assert _lead(found) == [
        *NOTHING_ROLLS,
        "No pod restarts (1):",
        "  prod-event-service Deployment: spec.replicas 2 -> 3",
    ]
    assert to_text(found).splitlines() == [
        *_lead(found),
        "",
        "Changes: 0 created, 1 updated, 0 replaced, 0 deleted",
        "prod-event-service Deployment: spec.replicas 2 -> 3",
    ]


def test_scaling_dev_up_changes_only_replicas_of_its_deployment(
    dev: Render, tmp_path: Path
) -> None:
    config = load_stack("dev")
    config.values["services"]["event-service"]["replicas"] = 3
    head = _render_to(tmp_path / "head", "dev", config)

    found = compare(dev, head)

    updated = [c for c in found if c.action != "created"]
    assert _lines(updated) == ["dev-event-service Deployment: spec.replicas 1 -> 3"]
    # Objects that only exist with more than one replica (a disruption budget) may appear, but
    # only for this service, and nothing else in the environment moves.
    assert all(c.name == "dev-event-service" for c in found if c.action == "created")


def test_changed_variable_replaces_config_map_and_rolls_only_its_deployment(
    dev: Render, tmp_path: Path
) -> None:
    config = load_stack("dev")
    config.values["services"]["event-service"].setdefault("env", {})["EVENT_STORE"] = "es-2"
    head = _render_to(tmp_path / "head", "dev", config)

    found = {(c.kind, c.name): c for c in compare(dev, head)}

    assert set(found) == {("ConfigMap", "dev-event-service"), ("Deployment", "dev-event-service")}
    config_map = found["ConfigMap", "dev-event-service"]
    old_name = dev["configmap-dev-event-service.yaml"]["metadata"]["name"]
    new_name = head["configmap-dev-event-service.yaml"]["metadata"]["name"]
    assert old_name != new_name
    assert (config_map.action, config_map.old_name, config_map.new_name) == (
        "replaced",
        old_name,
        new_name,
    )
    old_store = dev["configmap-dev-event-service.yaml"]["data"]["EVENT_STORE"]
    assert old_store != "es-2"
    assert config_map.details() == [f"data.EVENT_STORE {old_store} -> es-2"]

    deployment = found["Deployment", "dev-event-service"]
    assert deployment.action == "updated"
    assert deployment.details() == [
        f"spec.template.spec.containers[0].envFrom[0].configMapRef.name {old_name} -> {new_name}"
    ]

    assert _lead(list(found.values())) == [
        "Pods roll (1):",
        "  dev-event-service Deployment: variables changed: EVENT_STORE",
        "Pods start or stop: none",
        "Replaced (1):",
        f"  dev-event-service ConfigMap: data.EVENT_STORE changed; created as {new_name}, "
        f"{old_name} deleted at the end of the update",
        "No pod restarts: none",
    ]


def test_release_rolls_every_deployment_and_nothing_else(prod: Render, tmp_path: Path) -> None:
    head = _render_to(tmp_path / "head", "prod", load_stack("prod").edited("version", "1.0.1"))

    found = compare(prod, head)

    assert {(c.kind, c.action) for c in found} == {("Deployment", "updated")}
    image = "docker.io/adisakshya/{0}:1.0.0-prod -> docker.io/adisakshya/{0}:1.0.1-prod"
    assert _lead(found) == [
        "Pods roll (3):",
        *(
            f"  prod-{service} Deployment: image {image.format(service)}; "
            "pod label app.kubernetes.io/version 1.0.0 -> 1.0.1"
            for service in ("event-service", "notification-service", "reminder-service")
        ),
        "Pods start or stop: none",
        "Replaced: none",
        "No pod restarts: none",
    ]


def test_secret_change_rolls_only_its_deployment_and_shows_no_value(
    tmp_path: Path,
) -> None:
    before = all_secrets()
    after = copy.deepcopy(before)
    after["event-service"]["DB_PASS"] = "rotated-pass-41c9"
    base = _render_to(tmp_path / "base", "prod", load_stack("prod").with_secrets(before))
    head = _render_to(tmp_path / "head", "prod", load_stack("prod").with_secrets(after))

    found = compare(base, head)
    output = to_text(found) + to_markdown(found) + repr(found)

    old_name = _name(base, "secret-prod-event-service.yaml")
    new_name = _name(head, "secret-prod-event-service.yaml")
    assert old_name != new_name
    assert _lead(found) == [
        "Pods roll (1):",
        "  prod-event-service Deployment: secrets changed (values not shown)",
        "Pods start or stop: none",
        "Replaced (1):",
        f"  prod-event-service Secret: secret values changed (not shown); created as {new_name}, "
        f"{old_name} deleted at the end of the update",
        "No pod restarts: none",
    ]
    for value in ("rotated-pass-41c9", secret_value("event-service", "DB_PASS")):
        assert value not in output


def test_added_secret_is_named_but_not_shown(dev: Render, tmp_path: Path) -> None:
    # The render stands in `[secret]` for the required secrets, as it did for the base.
    config = load_stack("dev").with_secrets(
        {"event-service": {"SENTRY_DSN": "https://key@sentry.example/1"}}
    )
    head = _render_to(tmp_path / "head", "dev", config)

    lead = _lead(compare(dev, head))

    assert lead[:2] == [
        "Pods roll (1):",
        "  dev-event-service Deployment: secrets changed: SENTRY_DSN (values not shown)",
    ]
    assert "sentry.example" not in "\n".join(lead)


def test_pod_template_field_rolls_and_autoscaler_bounds_do_not(
    prod: Render, tmp_path: Path
) -> None:
    config = (
        load_stack("prod")
        .edited("services.notification-service.resources.limits.memory", "512Mi")
        .edited("services.reminder-service.autoscaling.maxReplicas", 8)
    )
    head = _render_to(tmp_path / "head", "prod", config)

    assert _lead(compare(prod, head)) == [
        "Pods roll (1):",
        "  prod-notification-service Deployment: pod template "
        "spec.template.spec.containers[0].resources.limits.memory 384Mi -> 512Mi",
        "Pods start or stop: none",
        "Replaced: none",
        "No pod restarts (1):",
        "  prod-reminder-service HorizontalPodAutoscaler: spec.maxReplicas 6 -> 8",
    ]


def test_immutable_fields_force_a_replacement_under_the_same_name(dev: Render) -> None:
    # What pulumi-kubernetes cannot update in place (its diff.go): a Deployment's selector and a
    # Service's clusterIP. A Service's type it updates in place.
    head = copy.deepcopy(dev)
    deployment = head["deployment-dev-event-service.yaml"]["spec"]
    deployment["selector"]["matchLabels"]["track"] = "stable"
    deployment["template"]["metadata"]["labels"]["track"] = "stable"
    head["service-dev-reminder-service.yaml"]["spec"]["clusterIP"] = "None"
    head["service-dev-notification-service.yaml"]["spec"]["type"] = "NodePort"

    found = {c.label: c for c in compare(dev, head)}

    assert {label: c.action for label, c in found.items()} == {
        "dev-event-service Deployment": "replaced",
        "dev-reminder-service Service": "replaced",
        "dev-notification-service Service": "updated",
    }
    assert found["dev-event-service Deployment"].lines()[0] == (
        "dev-event-service Deployment: replaced (deleted, then created again: "
        "spec.selector.matchLabels.track cannot change in place)"
    )
    assert _lead(list(found.values())) == [
        "Pods roll (1):",
        "  dev-event-service Deployment: replaced: every pod stops before the new ones start "
        "(spec.selector.matchLabels.track)",
        "Pods start or stop: none",
        "Replaced (2):",
        "  dev-event-service Deployment: spec.selector.matchLabels.track cannot change in place: "
        "deleted, then created again under the same name",
        "  dev-reminder-service Service: spec.clusterIP cannot change in place: "
        "deleted, then created again under the same name",
        "No pod restarts (1):",
        "  dev-notification-service Service: spec.type ClusterIP -> NodePort",
    ]


def test_markdown_leads_with_what_rolls(dev: Render, tmp_path: Path) -> None:
    config = load_stack("dev").edited("services.event-service.env", {"EVENT_STORE": "es-2"})
    head = _render_to(tmp_path / "head", "dev", config)
    old_name = _name(dev, "configmap-dev-event-service.yaml")
    new_name = _name(head, "configmap-dev-event-service.yaml")

    lines = to_markdown(compare(dev, head), title="dev: changes").splitlines()

    start, end = lines.index("#### What rolls"), lines.index("#### Every change")
    assert lines[:3] == [MARKER, "### dev: changes", ""]
    assert lines[start:end] == [
        "#### What rolls",
        "",
        "**Pods roll** (1):",
        "- `dev-event-service` Deployment: variables changed: `EVENT_STORE`",
        "",
        "**Pods start or stop**: none",
        "",
        "**Replaced** (1):",
        f"- `dev-event-service` ConfigMap: `data.EVENT_STORE` changed; created as `{new_name}`, "
        f"`{old_name}` deleted at the end of the update",
        "",
        "**No pod restarts**: none",
        "",
    ]
    assert "**0 created, 1 updated, 1 replaced, 0 deleted**" in lines[end:]


def test_dev_and_prod_share_no_object(dev: Render, prod: Render) -> None:
    found = compare(dev, prod)

    assert {c.action for c in found} == {"created", "deleted"}
    deleted = [c for c in found if c.action == "deleted"]
    created = [c for c in found if c.action == "created"]
    assert len(deleted) == len(dev) and len(created) == len(prod)
    assert all(c.name.startswith("dev-") or c.name == "development" for c in deleted)
    assert all(c.name.startswith("prod-") or c.name == "production" for c in created)
    assert {c.namespace for c in created if c.kind != "Namespace"} == {"production"}
    assert f"{len(prod)} created, 0 updated, 0 replaced, {len(dev)} deleted" in to_text(found)
    lead = _lead(found)
    assert "Pods start or stop (6):" in lead
    assert "  dev-event-service Deployment: deleted, its pods stop" in lead
    assert "  prod-event-service Deployment: created, its pods start" in lead
    assert "  prod-event-service PodDisruptionBudget: created" in lead


def test_real_secret_value_never_printed(dev: Render, tmp_path: Path) -> None:
    config = load_stack("dev").with_secrets({"event-service": {"DB_PASS": "hunter2-real-pass"}})
    head = _render_to(tmp_path / "head", "dev", config)

    found = compare(dev, head)
    text, markdown = to_text(found), to_markdown(found)

    assert "hunter2" not in text + markdown + repr(found)
    kinds = {(c.kind, c.action) for c in found}
    assert kinds == {("Secret", "replaced"), ("Deployment", "updated")}
    (deployment,) = (c for c in found if c.kind == "Deployment")
    assert [f.path for f in deployment.fields] == [
        "spec.template.spec.containers[0].envFrom[1].secretRef.name"
    ]


def test_secret_placeholder_masks_whatever_a_render_holds(dev: Render) -> None:
    # A hand-edited or broken render that leaks values: the summary still shows only [secret].
    head = copy.deepcopy(dev)
    secret = head["secret-dev-event-service.yaml"]
    secret["stringData"]["DB_PASS"] = "leaked-in-file"
    secret["stringData"]["NEW_TOKEN"] = "also-leaked"
    secret["data"] = {"BINARY": "bGVha2Vk"}
    config_map = head["configmap-dev-event-service.yaml"]
    config_map["data"]["DB_HOST"] = SECRET_PLACEHOLDER
    base = copy.deepcopy(dev)
    base["configmap-dev-event-service.yaml"]["data"]["DB_HOST"] = "was-plain-now-secret"

    found = compare(base, head)
    output = to_text(found) + to_markdown(found) + repr(found)

    for leaked in ("leaked-in-file", "also-leaked", "bGVha2Vk", "was-plain-now-secret"):
        assert leaked not in output
    # Same names, changed data: pulumi-kubernetes replaces both (deleting the old one first).
    assert sorted(_lines(found)) == sorted(
        [
            "dev-event-service ConfigMap: replaced (deleted, then created again: "
            "data.DB_HOST cannot change in place)",
            "dev-event-service ConfigMap: data.DB_HOST [secret] -> [secret]",
            "dev-event-service Secret: replaced (deleted, then created again: "
            "data.BINARY, stringData.NEW_TOKEN cannot change in place)",
            "dev-event-service Secret: data.BINARY (absent) -> [secret]",
            "dev-event-service Secret: stringData.NEW_TOKEN (absent) -> [secret]",
        ]
    )


def test_reordered_containers_are_matched_by_name(dev: Render) -> None:
    base = copy.deepcopy(dev)
    deployment = base["deployment-dev-event-service.yaml"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    sidecar = {"name": "sidecar", "image": "busybox:1", "ports": []}
    containers.append(sidecar)
    head = copy.deepcopy(base)
    head_containers = head["deployment-dev-event-service.yaml"]["spec"]["template"]["spec"][
        "containers"
    ]
    head_containers.reverse()
    assert compare(base, head) == []

    head_containers[1]["image"] = "docker.io/adisakshya/event-service:1.0.1-dev"
    assert _lines(compare(base, head)) == [
        "dev-event-service Deployment: spec.template.spec.containers[1].image "
        "docker.io/adisakshya/event-service:1.0.0-dev -> "
        "docker.io/adisakshya/event-service:1.0.1-dev"
    ]


def test_label_keys_with_dots_are_quoted(dev: Render) -> None:
    head = copy.deepcopy(dev)
    labels = head["deployment-dev-reminder-service.yaml"]["metadata"]["labels"]
    labels["app.kubernetes.io/version"] = "1.0.1"
    assert _lines(compare(dev, head)) == [
        'dev-reminder-service Deployment: metadata.labels["app.kubernetes.io/version"] '
        "1.0.0 -> 1.0.1"
    ]


def test_markdown_is_one_findable_comment(dev: Render) -> None:
    head = copy.deepcopy(dev)
    head["deployment-dev-event-service.yaml"]["spec"]["replicas"] = 3
    del head["service-dev-reminder-service.yaml"]

    markdown = to_markdown(compare(dev, head), title="dev: changes")
    lines = markdown.splitlines()

    assert lines[0] == MARKER
    assert markdown.count(MARKER) == 1
    assert "### dev: changes" in lines
    assert "**0 created, 1 updated, 0 replaced, 1 deleted**" in lines
    assert any(
        line.startswith("| `dev-event-service` | Deployment | `development` | updated |")
        and "`spec.replicas`: `1` → `3`" in line
        for line in lines
    )
    assert any(
        "| `dev-reminder-service` | Service |" in line and "deleted" in line for line in lines
    )


def test_markdown_stays_under_the_comment_limit(dev: Render, prod: Render) -> None:
    found = compare(dev, prod)
    short = to_markdown(found, max_chars=1_500)
    assert len(short) <= 1_500
    assert short.startswith(MARKER)
    # What rolls goes first; what does not fit is counted, and the table is left out whole.
    assert short.splitlines()[-1].startswith("_")
    assert f"more lines of what rolls and {len(found)} more objects left out" in short
    assert "| Object |" not in short


def test_markdown_keeps_what_rolls_and_cuts_the_table_first(dev: Render) -> None:
    head = copy.deepcopy(dev)
    head["deployment-dev-event-service.yaml"]["spec"]["replicas"] = 3
    head["deployment-dev-reminder-service.yaml"]["spec"]["replicas"] = 3
    found = compare(dev, head)
    full = to_markdown(found)
    # Room for everything but the last table row (and for the note saying it is missing).
    room = len(full) - len(full.splitlines()[-1]) - 1 + changes.NOTE_ROOM
    cut = to_markdown(found, max_chars=room)
    assert to_markdown(found, max_chars=room + len(full.splitlines()[-1]) + 1) == full

    assert "- `dev-event-service` Deployment: `spec.replicas` `1` → `3`" in cut
    assert "- `dev-reminder-service` Deployment: `spec.replicas` `1` → `3`" in cut
    assert "| `dev-event-service` | Deployment |" in cut
    assert "| `dev-reminder-service` | Deployment |" not in cut
    assert cut.splitlines()[-1] == ("_1 more objects left out to fit a comment; see the job log._")


def test_cli_reports_and_exits_zero(prod_dir: Path, tmp_path: Path) -> None:
    head = tmp_path / "head"
    write(
        render("prod", config=load_stack("prod").edited("services.event-service.replicas", 3)), head
    )

    done = subprocess.run(
        [sys.executable, "-m", "tools.changes", str(prod_dir), str(head), "--format", "markdown"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(MARKER)
    assert "**0 created, 1 updated, 0 replaced, 0 deleted**" in done.stdout
    assert "**Pods roll**: none" in done.stdout.splitlines()


def test_cli_missing_folder_is_exit_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.changes", str(tmp_path / "missing"), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "missing" in done.stderr


def test_cli_bad_arguments_is_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        changes.main(["only-one-folder"])
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_unreadable_render_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
    assert changes.main([str(tmp_path), str(tmp_path)]) == 2
