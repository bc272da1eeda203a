"""The benchmark runs the real program over a catalog of its own, without touching the global."""

from __future__ import annotations

from benchmark import synthetic
from components import catalog
from tools.harness import run_program


def test_the_synthetic_program_deploys_its_own_services_and_leaves_the_catalog_alone():
    before = dict(catalog.CATALOG)
    services = synthetic.services(4)
    config = synthetic.stack(services)
    run = run_program(config, program=synthetic.program(config.values, catalog=services))
    deployments = {r.name for r in run.kubernetes() if r.kind == "Deployment"}
    assert deployments == {f"bench-{name}" for name in services}
    assert dict(catalog.CATALOG) == before
    assert not set(services) & set(before)
