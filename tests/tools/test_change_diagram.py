"""The change summary's picture: what a change touches, marked by what happens to it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools.test_diagram import PARSER, _parser_or_skip
from tools.change_diagram import change_diagram, change_graph, details_block
from tools.changes import compare, load_render, main, rolled, to_markdown
from tools.diagram import node_id
from tools.render import render, write
from tools.stack_config import StackConfig, load_stack

Render = dict[str, dict[str, Any]]


def _render_to(tmp: Path, stack: str, config: StackConfig | None = None) -> Render:
    write(render(stack, config=config), tmp)
    return load_render(tmp)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Render:
    return _render_to(tmp_path_factory.mktemp("base") / "prod", "prod")


@pytest.fixture(scope="module")
def variable(tmp_path_factory: pytest.TempPathFactory) -> Render:
    config = load_stack("prod")
    config.values["services"]["event-service"]["env"] = {"LOG_LEVEL": "debug"}
    return _render_to(tmp_path_factory.mktemp("variable") / "prod", "prod", config)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Render:
    config = load_stack("prod").edited("services.event-service.replicas", 3)
    return _render_to(tmp_path_factory.mktemp("scaled") / "prod", "prod", config)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """reminder-service leaves autoscaling: its autoscaler is deleted."""
    config = load_stack("prod")
    config.values["services"]["reminder-service"] = {"replicas": 2}
    return _render_to(tmp_path_factory.mktemp("fixed") / "prod", "prod", config)


def classes(base: Render, head: Render) -> dict[str, str | None]:
    changes = compare(base, head)
    graph = change_graph(base, head, changes, rolled(changes))
    assert graph is not None
    return {node: item.css_class for node, item in graph.nodes.items()}


def test_a_variable_change_rolls_its_deployment_and_replaces_its_config_map(base, variable):
    marked = classes(base, variable)
    assert marked[node_id("deployment-prod-event-service.yaml")] == "rolled"
    assert marked[node_id("configmap-prod-event-service.yaml")] == "replaced"
    # Only what the change touches and its neighbours: another service's workload is left out.
    assert node_id("deployment-prod-notification-service.yaml") not in marked
    touched = {node for node, css in marked.items() if css}
    assert touched == {
        node_id("deployment-prod-event-service.yaml"),
        node_id("configmap-prod-event-service.yaml"),
    }


def test_a_replica_change_is_an_update_not_a_rollout(base, scaled):
    marked = classes(base, scaled)
    assert marked[node_id("deployment-prod-event-service.yaml")] == "updated"
    assert "rolled" not in marked.values()


def test_deleted_objects_are_drawn_from_the_base(base, fixed):
    marked = classes(base, fixed)
    hpa = node_id("horizontalpodautoscaler-prod-reminder-service.yaml")
    assert marked[hpa] == "deleted"
    assert marked[node_id("deployment-prod-reminder-service.yaml")] == "updated"


def test_no_change_no_picture(base):
    assert change_diagram(base, base, compare(base, base), set()) is None


def test_the_markdown_carries_it_collapsed_after_what_rolls(base, variable):
    changes = compare(base, variable)
    mermaid = change_diagram(base, variable, changes, rolled(changes))
    assert mermaid is not None
    text = to_markdown(changes, diagram=details_block(mermaid))
    assert text.index("#### What rolls") < text.index("<details>") < text.index("#### Every")
    assert "```mermaid\nflowchart" in text
    assert "classDef rolled" in text and "classDef replaced" in text
    # A comment too small for the picture keeps what rolls and drops the picture whole.
    small = to_markdown(changes, diagram=details_block(mermaid), max_chars=3000)
    assert "#### What rolls" in small and "<details>" not in small


def test_the_cli_markdown_includes_it(base, variable, tmp_path, capsys):
    for name, rendered in (("base", base), ("head", variable)):
        folder = tmp_path / name
        folder.mkdir()
        for file, manifest in rendered.items():
            (folder / file).write_text(yaml.safe_dump(manifest))
    assert main([str(tmp_path / "base"), str(tmp_path / "head"), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "Diagram of what this change touches" in out


def test_mermaid_parses_the_change_diagrams(base, variable, scaled, fixed, tmp_path):
    node = _parser_or_skip()
    files = []
    for name, head in (("variable", variable), ("scaled", scaled), ("fixed", fixed)):
        changes = compare(base, head)
        mermaid = change_diagram(base, head, changes, rolled(changes))
        assert mermaid is not None
        path = tmp_path / f"{name}.mmd"
        path.write_text(mermaid)
        files.append(path)
    result = subprocess.run(
        [node, str(PARSER), *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in files:
        assert f"ok {path}#1\n" in result.stdout
