"""The release ledger's stack output: what an update deployed, for the release tag and rollback."""

from __future__ import annotations

import pytest

from components.catalog import CATALOG
from tools.harness import reveal


@pytest.mark.parametrize("fixture", ["dev_run", "prod_run"])
def test_release_output_names_version_images_and_config_maps(fixture, request):
    run = request.getfixturevalue(fixture)
    release = run.outputs["release"]
    prefix = "dev" if fixture == "dev_run" else "prod"
    assert release["version"] == "1.0.0"
    deployments = {
        r.name: reveal(r.state)["spec"]["template"]["spec"]["containers"][0]
        for r in run.kubernetes()
        if r.kind == "Deployment"
    }
    config_maps = {
        reveal(r.state)["metadata"]["name"] for r in run.kubernetes() if r.kind == "ConfigMap"
    }
    for service in CATALOG:
        # Exactly what the pods run, and the ConfigMap (its name carries the content hash).
        assert release["images"][service] == deployments[f"{prefix}-{service}"]["image"]
        assert release["configMaps"][service] in config_maps
    assert "release" not in run.secret_outputs
