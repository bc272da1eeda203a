"""The real-engine scale run's machinery, without the toolchain: the generated catalog and stack
config the program's copy is given, and how growth is judged."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from benchmark import deploy, scale, synthetic
from benchmark.__main__ import report
from components.catalog import ServiceSpec, _frozen
from components.config import load
from tools.stack_config import load_stack


@pytest.mark.parametrize("count", [3, 100])
def test_the_generated_catalog_holds_exactly_the_synthetic_services(count: int):
    specs = synthetic.services(count)
    namespace: dict[str, Any] = {
        "ServiceSpec": ServiceSpec, "MappingProxyType": MappingProxyType, "_frozen": _frozen,
    }  # fmt: skip
    exec(compile(scale.catalog_source(specs), "catalog.py", "exec"), namespace)
    assert dict(namespace["CATALOG"]) == specs


def test_the_generated_stack_passes_every_config_check_at_100_services():
    """dev's stack file with the synthetic services: the quota fits them, every name is valid."""
    specs = synthetic.services(100)
    config = {f"notification-delivery:{k}": v for k, v in load_stack("dev").values.items()}
    scale.stack_config(config, specs)
    values = {k.removeprefix("notification-delivery:"): v for k, v in config.items()}
    loaded = load(values, catalog=specs, stand_in_secrets=True, offline=True)
    assert [s.name for s in loaded.services] == list(specs)
    assert all(s.replicas == 1 for s in loaded.services)


def test_a_fixed_cost_with_a_constant_slope_is_linear_and_a_quadratic_cost_is_not():
    linear = scale.growth([3, 30, 100], [10 + 2 * n for n in (3, 30, 100)])
    assert linear["seconds_per_service"] == pytest.approx(2)
    assert linear["fixed_seconds"] == pytest.approx(10)
    assert linear["marginal_last_over_first"] == pytest.approx(1) and linear["linear"]
    assert linear["per_service_last_over_previous"] < 1
    quadratic = scale.growth([3, 30, 100], [0.05 * n * n for n in (3, 30, 100)])
    assert quadratic["marginal_last_over_first"] == pytest.approx(130 / 33)
    assert not quadratic["linear"]
    # Two sizes cannot tell a fixed cost from a slope: judged on the seconds per service.
    two = scale.growth([30, 100], [0.05 * n * n for n in (30, 100)])
    assert two["per_service_last_over_previous"] == pytest.approx(100 / 30)
    assert two["marginal_last_over_first"] is None and not two["linear"]


def _sample(wall: float) -> deploy.Sample:
    return deploy.Sample(wall=wall, cpu=wall / 4, max_rss_mib=100, control_plane_cpu=1,
                         start=0, end=wall, requests=int(wall))  # fmt: skip


def test_the_report_shows_every_size_and_judges_the_issues_growth_goal():
    done = {
        n: [{label: {s: _sample(5 + n * (0.5 if label.startswith("pulumi") else 0.1))
                     for s in scale.SCENARIOS}
             for label in ("pulumi", "kubectl", "helm", "helm_available", "pulumi_p32")}]
        for n in (30, 100)
    }  # fmt: skip
    result = scale.summarize(done, {"sizes": [30, 100], "rounds": 1,
                                    "objects": {"30": 200, "100": 650}})  # fmt: skip
    text = "\n".join(scale.table(result))
    row = next(line for line in text.splitlines() if line.startswith("| pulumi | "))
    assert row.startswith("| pulumi | 20.0 | 55.0 | 0.500 | 5.0 | 0.8") and "| yes |" in row
    assert "pulumi `--parallel 32`" in text
    assert scale.goal_rows(result)[0].endswith("| yes |")
    assert "not measured" in scale.goal_rows(None)[0]
    assert "## Scale" in report({"machine": _machine(), "total_seconds": 1, "scale": result})


def _machine() -> dict[str, Any]:
    return {"platform": "linux", "cpus": 2, "python": "3.11", "date": "now", "command": "c"}


def test_the_program_profile_reads_import_times_and_process_notes(tmp_path: Path):
    from benchmark import profile_program

    (tmp_path / "1-x.importtime").write_text(
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |   _io\n"
        "import time:       200 |        300 | encodings\n"
        "import time:      1000 |       5000 |     pulumi_kubernetes.core.v1\n"
        "import time:      2000 |       9000 |   pulumi\n"
        "some line the program printed\n"
    )
    found = profile_program.imports(tmp_path / "1-x.importtime")
    assert found["total_seconds"] == pytest.approx(0.0033)
    assert found["of_interest"] == {"pulumi": 0.009, "pulumi_kubernetes.core.v1": 0.005}
    assert [t["module"] for t in found["top"]] == ["encodings"]
    (tmp_path / "2-python.json").write_text(
        '{"argv": ["-m", "pip"], "started": 10.0, "site": 10.5, "exited": 12.0}'
    )
    (tmp_path / "3-runner.json").write_text(
        '{"argv": ["runner"], "started": 5.0, "site": 5.25, "exited": 20.0}'
    )
    rows = profile_program.processes(tmp_path, 5.0)
    assert [r["argv"] for r in rows] == ["runner", "-m pip"]
    assert rows[1] == {"argv": "-m pip", "starts_at": 5.0, "to_site": 0.5, "lives": 2.0}
