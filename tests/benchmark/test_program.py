"""The benchmark runs the real program over a catalog of its own, without touching the global."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmark import bare, driver, synthetic
from components import catalog
from tools.harness import run_program
from tools.stack_config import ROOT


def test_the_synthetic_program_deploys_its_own_services_and_leaves_the_catalog_alone():
    before = dict(catalog.CATALOG)
    services = synthetic.services(4)
    config = synthetic.stack(services)
    run = run_program(config, program=synthetic.program(config.values, catalog=services))
    deployments = {r.name for r in run.kubernetes() if r.kind == "Deployment"}
    assert deployments == {f"bench-{name}" for name in services}
    assert dict(catalog.CATALOG) == before
    assert not set(services) & set(before)


def test_the_bare_program_registers_what_ours_does_with_the_same_provider_and_dependencies(
    tmp_path,
):
    """The floor it is compared with must make the same registrations, options included: the
    explicit provider (the wrong-cluster guard) is a reference every object awaits, and the
    dependencies (each object on its namespace, a Deployment on its ConfigMap, Secret and
    ServiceAccount) are what orders a correct deploy, so the floor carries them too."""
    services = synthetic.services(3)
    config = synthetic.stack(services)
    ours = run_program(config, program=synthetic.program(config.values, catalog=services))
    dump = tmp_path / "objects.json"
    driver.dump_run(ours, dump)
    theirs = run_program(config, program=bare.program(json.loads(dump.read_text())))
    assert {r.urn: (r.type, r.provider) for r in theirs.resources} == {
        r.urn: (r.type, r.provider) for r in ours.resources
    }
    assert sum(1 for r in theirs.resources if r.provider) == len(theirs.kubernetes())
    assert {r.urn: sorted(set(r.dependencies)) for r in theirs.resources} == {
        r.urn: sorted(set(r.dependencies)) for r in ours.resources
    }
    assert sum(len(r.dependencies) for r in theirs.resources) > len(theirs.kubernetes())


def test_the_bare_program_registers_parents_and_dependencies_first():
    records = [
        {"urn": "d", "parent": "c", "dependencies": ["b", "a"]},
        {"urn": "b", "parent": "c", "dependencies": ["a"]},
        {"urn": "a", "parent": "c", "dependencies": [], "provider": "p::p-id"},
        {"urn": "c", "parent": "stack"},
        {"urn": "p", "parent": "stack"},
    ]
    assert [r["urn"] for r in bare.ordered(records)] == ["c", "p", "a", "b", "d"]


def _driver(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.driver", "program", "--services", "2", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_driver_counts_the_stack_frames_the_sdk_sends_and_can_leave_them_out():
    """The benchmark's comparison without stack traces stubs the very function the SDK calls at
    every registration: counted, it sees the frames; left out, it sends none."""
    counted = _driver("--count-frames")
    without = _driver("--count-frames", "--without-stack-traces")
    assert counted["frames"] > 5  # the program's frames under each resource's constructor
    assert without["frames"] == 0
    assert without["objects"] == counted["objects"]
