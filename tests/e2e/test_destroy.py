"""`pulumi destroy`: dev goes completely; production's protected namespace does not.

docs/safety.md, "Protecting production": with `protect` on (prod's default) the namespace is
protected and retained, so `pulumi destroy` fails instead of deleting it and everything in it;
lifting `protect` first is the deliberate way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from components.conventions import PROJECT
from tests.e2e.engine import Cluster, Project


def test_destroy_of_dev_removes_everything_it_created(
    make_project: Callable[..., Project], cluster: Cluster, tmp_path: Path
) -> None:
    project = make_project("dev")
    project.up()
    rendered = project.render(tmp_path / "render")
    project.pulumi("destroy", "--yes")
    left = [
        f"{kind}/{name}"
        for (kind, name), manifest in rendered.items()
        if cluster.get(kind, name, manifest["metadata"].get("namespace")) is not None
    ]
    assert left == []
    assert "development" not in cluster.namespaces()


def test_destroy_of_prod_fails_and_leaves_its_namespace(
    make_project: Callable[..., Project], cluster: Cluster
) -> None:
    project = make_project("prod")
    project.up()
    result = project.pulumi("destroy", "--yes", check=False)
    assert result.returncode != 0
    assert "protect" in result.stdout + result.stderr
    assert "production" in cluster.namespaces()
    # The deliberate way: lift `protect` and `retainOnDelete` (an update that changes nothing in
    # the cluster), then destroy.
    project.edit(lambda c: c.update({f"{PROJECT}:protect": False}))
    before = cluster.get("namespace", "production")["metadata"]["resourceVersion"]  # type: ignore[index]
    project.up()
    assert cluster.get("namespace", "production")["metadata"]["resourceVersion"] == before  # type: ignore[index]
    project.pulumi("destroy", "--yes")
    assert "production" not in cluster.namespaces()
