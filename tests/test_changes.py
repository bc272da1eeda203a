"""The change summary (`tools.changes`) on real renders of the program and on edge cases."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools import changes
from tools.changes import MARKER, Change, compare, load_render, to_markdown, to_text
from tools.render import render, write
from tools.stack_config import ROOT, SECRET_PLACEHOLDER, StackConfig, load_stack

Render = dict[str, dict[str, Any]]


def _render_to(tmp: Path, stack: str, config: StackConfig | None = None) -> Render:
    """Render through the files on disk, as the workflow does (YAML round trip included)."""
    write(render(stack, config=config), tmp)
    return load_render(tmp)


def _lines(found: list[Change]) -> list[str]:
    return [line for change in found for line in change.lines()]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return _render_to(tmp_path_factory.mktemp("base") / "dev", "dev")


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return _render_to(tmp_path_factory.mktemp("base") / "prod", "prod")


def test_identical_renders_have_no_changes(dev: Render, tmp_path: Path) -> None:
    again = _render_to(tmp_path / "dev", "dev")
    assert compare(dev, again) == []
    assert to_text([]).splitlines() == [
        "Changes: 0 created, 0 updated, 0 replaced, 0 deleted",
        "no changes",
    ]


def test_replica_change_is_one_field_of_one_deployment(prod: Render, tmp_path: Path) -> None:
    config = load_stack("prod")
    config.values["services"]["event-service"]["replicas"] = 3
    head = _render_to(tmp_path / "head", "prod", config)

    found = compare(prod, head)

    assert _lines(found) == ["prod-event-service Deployment: spec.replicas 2 -> 3"]
    assert found[0].action == "updated"
    assert found[0].namespace == "production"
    assert to_text(found).splitlines() == [
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
    assert sorted(_lines(found)) == sorted(
        [
            "dev-event-service ConfigMap: data.DB_HOST [secret] -> [secret]",
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
    assert len(short) < 2_000
    assert short.startswith(MARKER)
    assert "more objects left out" in short


def test_cli_reports_and_exits_zero(tmp_path: Path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    config = load_stack("prod")
    config.values["services"]["event-service"]["replicas"] = 3
    write(render("prod"), base)
    write(render("prod", config=config), head)

    done = subprocess.run(
        [sys.executable, "-m", "tools.changes", str(base), str(head), "--format", "markdown"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(MARKER)
    assert "**0 created, 1 updated, 0 replaced, 0 deleted**" in done.stdout


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
