"""Benchmark: `python -m benchmark [--quick] [--rounds N] [--profile-up] [--mock ...]`.

Measures, on the machine it runs on, where users wait: (1) a first deploy of dev, a
one-variable change to rolled pods and a no-op preview, by the real Pulumi engine against the
kubectl floor and against Helm, each tool on a fresh control plane of its own in every round
(`benchmark.deploy`); (2) as an informational row, the offline render of dev against the limit
process (the SDK registering the same objects under a trivial mock). With `--profile-up`, where
one `pulumi up` spends its time (`benchmark.profile_up`); with `--mock`, the mock-runtime room of
the earlier issues (render against three floors, scale against a bare SDK program, and with
`--instructions` the counted comparison). Prints a markdown report and writes it to
`benchmark/results/results.md`, with the raw numbers in `results.json`.

Exit codes: 0 done; 2 a measurement failed (or the toolchain is missing). Goals are reported, not
enforced: on a shared machine they are numbers to read, not pass/fail gates. The blast radius
of single changes, which is a property of the program, is a test
(tests/benchmark/test_blast_radius.py).

Not part of the test suite. docs/benchmark.md explains every column.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark import deploy, instructions, pair, profile_program, profile_up
from benchmark import scale as real_scale
from tools.stack_config import ROOT

PYTHON = sys.executable
OUT_DIR = ROOT / "benchmark" / "results"

# The goals of issue 25: ratios of medians of per-round wall-time ratios, same machine, same run.
GOALS_DEPLOY = {
    ("change", "helm"): 1.0,
    ("change", "kubectl"): 1.5,
    ("first_deploy", "helm"): 2.0,
    ("noop_preview", "kubectl"): 2.0,
}
"""(scenario, the tool compared with): the most `pulumi`'s wall time may be over it."""

# The mock-runtime room's goals (issue 15), reported with `--mock`.
GOAL_RENDER_OVER_LIMIT = 1.2
"""The dev render's time over the limit process's, median of per-round ratios."""
GOAL_OVER_BARE = 1.15
"""Our marginal cost per service over the bare program's for the same objects."""
GOAL_LINEAR = 1.25
"""Marginal cost per service at the largest step over that at the smallest step."""

STACK = "dev"


class MeasurementError(Exception):
    """A measured subprocess failed; the message carries its stderr tail."""


@dataclass
class Sample:
    wall: float
    """Seconds from spawn to exit, measured here."""
    cpu: float
    """User plus system CPU seconds of that process (all its threads)."""
    max_rss_kb: int
    """Peak resident set of that process alone (`ru_maxrss` of `wait4`, KiB on Linux)."""
    payload: dict[str, Any] | None = None
    """The JSON line a driver printed, when it prints one."""


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of every measured process: byte-code cached, outside the project.

    With PYTHONDONTWRITEBYTECODE set (as on this machine) no run would ever find a cached
    `.pyc` of the project's own modules, and a warm-up would warm nothing. A cache prefix of
    the benchmark's own lets the warm-up compile every module once, for every process alike,
    and writes nothing into the project or the virtualenv.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def measure(argv: Sequence[str], env: Mapping[str, str], *, json_out: bool = False) -> Sample:
    """Run `argv` from the project root and return its wall time, CPU time and own peak RSS.

    `os.wait4` reports the rusage of exactly that child, which `RUSAGE_CHILDREN` cannot once a
    previous child had a larger peak (it keeps the maximum over all children ever reaped).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        # Tell Popen the child is reaped, so it never waits for the pid again.
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise MeasurementError(f"{' '.join(argv[1:])} exited {process.returncode}: {tail}")
    payload = json.loads(stdout.strip().splitlines()[-1]) if json_out else None
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_kb=usage.ru_maxrss,
        payload=payload,
    )


@dataclass
class Stats:
    median: float
    low: float
    high: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        ordered = sorted(values)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(statistics.median(ordered), ordered[0], ordered[-1], q1, q3, len(ordered))


METRICS = ("cpu", "wall")
"""Judged on CPU time, wall time beside it: see docs/benchmark.md ("Which time")."""


def _paired(
    rounds: Sequence[Mapping[str, Sample]],
    a: str,
    b: str,
    how: Callable[[float, float], float],
    metric: str,
) -> dict[str, float]:
    """Stats of `how(a, b)` over the rounds, each round's `a` against the same round's `b`."""
    return asdict(Stats.of([how(getattr(r[a], metric), getattr(r[b], metric)) for r in rounds]))


def _ratio(x: float, y: float) -> float:
    return x / y


def _difference_ms(x: float, y: float) -> float:
    return 1000 * (x - y)


# --- 1. render against three floors ------------------------------------------------------------

FLOORS = ("import", "types", "limit")
"""The floors, cheapest first; docs/benchmark.md explains each."""


def floors(runs: int, env: Mapping[str, str], tmp: Path, pydantic: bool) -> dict[str, Any]:
    """Interleaved rounds of the floors and the render, in a rotating order."""
    dump = tmp / f"objects-{STACK}.json"
    info = measure(
        [PYTHON, "-m", "benchmark.driver", "dump", STACK, "--out", str(dump)], env, json_out=True
    ).payload
    assert info is not None
    modules: list[str] = info["modules"]
    limit = [PYTHON, "-m", "benchmark.limit"]
    processes: dict[str, Callable[[int], list[str]]] = {
        "import": lambda _: [*limit, "import"],
        "types": lambda _: [*limit, "types", "--modules", *modules],
        "limit": lambda _: [*limit, "limit", "--inputs", str(dump)],
        "render": lambda i: [PYTHON, "-m", "tools.render", STACK, "--out", f"{tmp}/render-{i}"],
    }
    if pydantic:
        processes["pydantic"] = lambda _: [*limit, "pydantic"]
    names = list(processes)
    # One untimed run of each compiles every module into the cache and reads it into memory.
    for name in names:
        measure(processes[name](-1), env)
    rounds: list[dict[str, Sample]] = []
    for index in range(runs):
        # A rotating order, so that no process always runs right after the same other one.
        shift = index % len(names)
        samples = {}
        for name in names[shift:] + names[:shift]:
            samples[name] = measure(processes[name](index), env)
        rounds.append(samples)

    def series(name: str) -> dict[str, Any]:
        return {
            "wall": asdict(Stats.of([r[name].wall for r in rounds])),
            "cpu": asdict(Stats.of([r[name].cpu for r in rounds])),
            "mib": asdict(Stats.of([r[name].max_rss_kb / 1024 for r in rounds])),
        }

    result: dict[str, Any] = {
        "stack": STACK,
        "objects": info["objects"],
        "kubernetes": info["kubernetes"],
        "modules": modules,
        "runs": runs,
        "processes": {name: series(name) for name in names},
    }
    for metric in METRICS:
        result[metric] = {
            "render_over": {f: _paired(rounds, "render", f, _ratio, metric) for f in FLOORS},
            "limit_over": {
                f: _paired(rounds, "limit", f, _ratio, metric) for f in ("import", "types")
            },
            # Where the render's time goes, each step a per-round difference.
            "steps_ms": {
                "import": asdict(Stats.of([1000 * getattr(r["import"], metric) for r in rounds])),
                "types": _paired(rounds, "types", "import", _difference_ms, metric),
                "limit": _paired(rounds, "limit", "types", _difference_ms, metric),
                "render": _paired(rounds, "render", "limit", _difference_ms, metric),
            },
        }
        if pydantic:
            result[metric]["pydantic_ms"] = _paired(
                rounds, "pydantic", "import", _difference_ms, metric
            )
    return result


def pydantic_available(env: Mapping[str, str]) -> bool:
    done = subprocess.run(
        [PYTHON, "-c", "import pydantic"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    return done.returncode == 0


# --- 2. scale ----------------------------------------------------------------------------------


def _fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R² of ys against xs."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    return slope, intercept, 1 - ss_res / ss_tot if ss_tot else 1.0


def _growth(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Marginal cost of the last step over that of the first step."""
    first = (ys[1] - ys[0]) / (xs[1] - xs[0])
    last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return last / first


PAYLOAD_KEY = {"cpu": "cpu_seconds", "wall": "seconds"}


def scale(sizes: Sequence[int], rounds: int, env: Mapping[str, str], tmp: Path) -> dict[str, Any]:
    """Ours and the bare program, size by size, each pair run back to back."""
    # Untimed: writes what each size registers for the bare program, warms the caches, and counts
    # the stack frames the SDK sends per registration (counting costs time, so never when timed).
    frames: dict[str, float] = {}
    for n in sizes:
        dump = [*pair.dump_command(n, tmp), "--count-frames"]
        frames["program"] = _payload(measure(dump, env, json_out=True))["frames"]
    counted = measure([*pair.command("bare", sizes[-1], tmp), "--count-frames"], env, json_out=True)
    frames["bare"] = _payload(counted)["frames"]

    # Each pair also runs with the SDK's stack traces left out of both: what is left of the gap
    # is the program's own (docs/benchmark.md, "What the SDK charges per frame").
    samples: list[dict[int, dict[str, Sample]]] = []
    for index in range(rounds):
        this_round: dict[int, dict[str, Sample]] = {}
        for n in sizes:
            # Alternate which goes first, so that none always follows another.
            order = pair.VARIANTS if index % 2 == 0 else pair.VARIANTS[::-1]
            this_round[n] = {
                which: measure(pair.command(which, n, tmp), env, json_out=True) for which in order
            }
        samples.append(this_round)

    xs = [float(n) for n in sizes]

    def seconds(sample: Sample, metric: str) -> float:
        assert sample.payload is not None
        return float(sample.payload[PAYLOAD_KEY[metric]])

    def per_round(which: str, metric: str) -> list[list[float]]:
        return [[seconds(r[n][which], metric) for n in sizes] for r in samples]

    result: dict[str, Any] = {"sizes": list(sizes), "rounds": rounds, "frames": frames}
    for which in pair.VARIANTS:
        rows = []
        for n in sizes:
            runs = [r[n][which] for r in samples]
            payload = runs[0].payload or {}
            rows.append(
                {
                    "services": n,
                    "objects": payload.get("objects"),
                    "kubernetes": payload.get("kubernetes"),
                    **{m: asdict(Stats.of([seconds(s, m) for s in runs])) for m in METRICS},
                    "process_wall": asdict(Stats.of([s.wall for s in runs])),
                    "mib": asdict(Stats.of([s.max_rss_kb / 1024 for s in runs])),
                }
            )
        mib = [r["mib"]["median"] for r in rows]
        objects = [float(r["objects"]) for r in rows]
        mem_slope, _, mem_r2 = _fit(xs, mib)
        object_slope, _, _ = _fit(xs, objects)
        entry: dict[str, Any] = {
            "rows": rows,
            "kib_per_service": 1024 * mem_slope,
            "memory_r2": mem_r2,
            "objects_per_service": object_slope,
        }
        for metric in METRICS:
            medians = [r[metric]["median"] for r in rows]
            slope, intercept, r2 = _fit(xs, medians)
            entry[metric] = {
                "ms_per_service": asdict(
                    Stats.of([1000 * _fit(xs, ys)[0] for ys in per_round(which, metric)])
                ),
                "steps_ms_per_service": [
                    1000 * (medians[i + 1] - medians[i]) / (xs[i + 1] - xs[i])
                    for i in range(len(xs) - 1)
                ],
                "ms_per_object": 1000 * slope / object_slope,
                "fixed_seconds": intercept,
                "r2": r2,
                # Of the medians' steps (informational); the goal is judged per round.
                "growth": _growth(xs, medians),
                "growth_per_round": asdict(
                    Stats.of([_growth(xs, ys) for ys in per_round(which, metric)])
                ),
            }
        result[which] = entry

    def over(ours: list[list[float]], bare: list[list[float]]) -> dict[str, float]:
        # Pair by pair: each round's slope of ours over the same round's slope of the bare.
        return asdict(
            Stats.of([_fit(xs, o)[0] / _fit(xs, b)[0] for o, b in zip(ours, bare, strict=True)])
        )

    for metric in METRICS:
        ours, bare = per_round("program", metric), per_round("bare", metric)
        result[metric] = {
            "over_bare": over(ours, bare),
            "over_bare_no_traces": over(
                per_round("program" + pair.NO_TRACES, metric),
                per_round("bare" + pair.NO_TRACES, metric),
            ),
            "over_bare_by_size": [
                asdict(Stats.of([o[i] / b[i] for o, b in zip(ours, bare, strict=True)]))
                for i in range(len(sizes))
            ],
        }
    return result


def _payload(sample: Sample) -> dict[str, Any]:
    assert sample.payload is not None
    return sample.payload


# --- 4. profiles (optional) --------------------------------------------------------------------


def profile(out_dir: Path, services: int, env: Mapping[str, str], tmp: Path) -> list[Path]:
    """pyinstrument text profiles of the dev render, the limit, and both scale modes.

    Through `benchmark.profile`, which profiles each the way it runs (GC off from `main`,
    no teardown) and writes the profile before the process ends.
    """
    written = []
    targets = {
        f"render-{STACK}": ["render", STACK, "--out", f"{tmp}/profile-render"],
        f"limit-{STACK}": ["limit", "--inputs", str(tmp / f"objects-{STACK}.json")],
        f"program-{services}": ["program", "--services", str(services)],
        f"bare-{services}": ["bare", "--inputs", str(tmp / f"objects-{services}.json")],
    }
    for name, target in targets.items():
        path = out_dir / f"profile-{name}.txt"
        measure([PYTHON, "-m", "benchmark.profile", str(path), *target], env)
        written.append(path)
    return written


# --- report ------------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _span(stats: Mapping[str, float], fmt: str, scale_by: float = 1.0) -> str:
    return (
        f"{stats['median'] * scale_by:{fmt}} "
        f"({stats['low'] * scale_by:{fmt}}–{stats['high'] * scale_by:{fmt}})"
    )


LABELS = {
    "import": "floor 1: import the SDK",
    "types": "floor 2: + the type modules used",
    "limit": "floor 3: the limit process",
    "render": f"render {STACK}",
    "pydantic": "floor 1 + pydantic, 12 models",
}


def render_table(fl: Mapping[str, Any]) -> list[str]:
    cpu, wall = fl["cpu"], fl["wall"]
    lines = [
        f"## 1. Render {fl['stack']} against three floors",
        "",
        f"{fl['runs']} rounds, each running every process once in a rotating order; "
        f"{fl['objects']} registrations ({fl['kubernetes']} Kubernetes objects), type modules "
        f"{', '.join(fl['modules'])}. Median (min–max); ratios are medians of per-round ratios.",
        "",
        "| process | CPU, s | wall, s | peak RSS, MiB | render over it, CPU "
        "| render over it, wall |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, series in fl["processes"].items():
        if name in FLOORS:
            over = " | ".join(_span(m["render_over"][name], ".2f") + "x" for m in (cpu, wall))
        else:
            over = "– | –"
        lines.append(
            f"| {LABELS[name]} | {_span(series['cpu'], '.3f')} | {_span(series['wall'], '.3f')} "
            f"| {series['mib']['median']:.1f} | {over} |"
        )
    ratio = cpu["render_over"]["limit"]["median"]
    lines += [
        "",
        "| goal | CPU time | wall time | met (CPU) |",
        "| --- | --- | --- | --- |",
        f"| render within {GOAL_RENDER_OVER_LIMIT}x of the limit process | {ratio:.2f}x "
        f"| {wall['render_over']['limit']['median']:.2f}x "
        f"| {_met(ratio <= GOAL_RENDER_OVER_LIMIT)} |",
        "",
        "Where the render's time goes (medians of per-round differences, ms):",
        "",
        "| step | CPU, ms | wall, ms | whose |",
        "| --- | --- | --- | --- |",
    ]
    for key, label, whose in (
        ("import", "start Python, import pulumi and pulumi_kubernetes (floor 1)", "SDK"),
        ("types", "import the type modules the objects live in (floor 2 − floor 1)", "SDK"),
        ("limit", "register the objects under a trivial mock (floor 3 − floor 2)", "SDK"),
        ("render", "everything else the render does (render − floor 3)", "ours and harness"),
    ):
        lines.append(
            f"| {label} | {_span(cpu['steps_ms'][key], '.0f')} "
            f"| {_span(wall['steps_ms'][key], '.0f')} | {whose} |"
        )
    lines += [
        "",
        f"The limit process over floor 1: {_span(cpu['limit_over']['import'], '.2f')}x CPU, "
        f"{_span(wall['limit_over']['import'], '.2f')}x wall; over floor 2: "
        f"{_span(cpu['limit_over']['types'], '.2f')}x CPU, "
        f"{_span(wall['limit_over']['types'], '.2f')}x wall.",
    ]
    if "pydantic_ms" in cpu:
        lines += [
            "",
            f"pydantic (import and 12 small models, over floor 1): "
            f"{_span(cpu['pydantic_ms'], '.0f')} ms CPU, {_span(wall['pydantic_ms'], '.0f')} ms "
            "wall; the render pays it too (it validates with the config model, docs/config.md).",
        ]
    return [*lines, ""]


def scale_table(sc: Mapping[str, Any]) -> list[str]:
    lines = [
        "## 2. Scale (one environment, every feature on)",
        "",
        f"{sc['rounds']} rounds; in each, every size runs ours and the bare program back to back, "
        "both without GC passes. Seconds = the program run alone (imports excluded), CPU time of "
        "the process (all threads); median (min–max). MiB = peak RSS of the whole process.",
        "",
        "| services | objects | ours, CPU s | bare, CPU s | ours / bare, CPU | ours / bare, wall "
        "| ours, MiB | bare, MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, (ours, bare) in enumerate(zip(sc["program"]["rows"], sc["bare"]["rows"], strict=True)):
        lines.append(
            f"| {ours['services']} | {ours['objects']} | {_span(ours['cpu'], '.2f')} "
            f"| {_span(bare['cpu'], '.2f')} | {_span(sc['cpu']['over_bare_by_size'][i], '.2f')}x "
            f"| {_span(sc['wall']['over_bare_by_size'][i], '.2f')}x "
            f"| {ours['mib']['median']:.0f} | {bare['mib']['median']:.0f} |"
        )
    p, b = sc["program"], sc["bare"]
    sizes = sc["sizes"]
    step_names = [f"{sizes[i]}→{sizes[i + 1]}" for i in range(len(sizes) - 1)]

    def steps(which: Mapping[str, Any]) -> str:
        return ", ".join(
            f"{name}: {ms:.1f}"
            for name, ms in zip(step_names, which["cpu"]["steps_ms_per_service"], strict=True)
        )

    over, over_wall = sc["cpu"]["over_bare"], sc["wall"]["over_bare"]
    # Judged per round, as the per-service ratio is: the ratio of two differences of medians
    # taken from different rounds swings on a noisy machine, at times outside every round's own.
    growth = p["cpu"]["growth_per_round"]["median"]

    def growth_cell(which: Mapping[str, Any]) -> str:
        return (
            f"{_span(which['cpu']['growth_per_round'], '.2f')}x "
            f"(of the medians' steps {which['cpu']['growth']:.2f}x)"
        )

    lines += [
        "",
        "| metric (CPU time unless named) | ours | bare | goal | met |",
        "| --- | --- | --- | --- | --- |",
        f"| marginal time per service, ms (per-round fit) "
        f"| {_span(p['cpu']['ms_per_service'], '.1f')} "
        f"| {_span(b['cpu']['ms_per_service'], '.1f')} | – | – |",
        f"| ours over bare, per-round slopes paired | {_span(over, '.2f')}x "
        f"(wall {_span(over_wall, '.2f')}x) | – "
        f"| ≤ {GOAL_OVER_BARE}x | {_met(over['median'] <= GOAL_OVER_BARE)} |",
        f"| the same, the SDK's stack traces left out of both "
        f"| {_span(sc['cpu']['over_bare_no_traces'], '.2f')}x | – | – | – |",
        f"| stack frames the SDK sends per registration (mean) | {sc['frames']['program']:.1f} "
        f"| {sc['frames']['bare']:.1f} | – | – |",
        f"| marginal time per service without stack traces, ms "
        f"| {_span(sc['program' + pair.NO_TRACES]['cpu']['ms_per_service'], '.1f')} "
        f"| {_span(sc['bare' + pair.NO_TRACES]['cpu']['ms_per_service'], '.1f')} | – | – |",
        f"| marginal time per object, ms | {p['cpu']['ms_per_object']:.2f} "
        f"| {b['cpu']['ms_per_object']:.2f} | – | – |",
        f"| marginal time per service by step, ms | {steps(p)} | {steps(b)} | – | – |",
        f"| growth: last step / first step, per round | {growth_cell(p)} "
        f"| {growth_cell(b)} | ours ≤ {GOAL_LINEAR}x | {_met(growth <= GOAL_LINEAR)} |",
        f"| R² of a linear fit, time | {p['cpu']['r2']:.4f} | {b['cpu']['r2']:.4f} | – | – |",
        f"| marginal memory per service, KiB | {p['kib_per_service']:.0f} "
        f"| {b['kib_per_service']:.0f} | – | – |",
        f"| R² of a linear fit, memory | {p['memory_r2']:.4f} | {b['memory_r2']:.4f} | – | – |",
        f"| objects per service | {p['objects_per_service']:.1f} "
        f"| {b['objects_per_service']:.1f} | – | – |",
        "",
    ]
    return lines


SCENARIO_LABELS = {
    "first_deploy": "first deploy of dev, empty to every Deployment available",
    "change": "one variable (reminder-service LOG_LEVEL) to rolled, available pods",
    "noop_preview": "no-op preview",
}
SHORT = {"first_deploy": "first deploy", "change": "change", "noop_preview": "no-op preview"}
COMMANDS = {
    "first_deploy": {
        "pulumi": "`pulumi up --skip-preview`",
        "kubectl": "`kubectl apply --server-side` + `rollout status`",
        "helm": "`helm upgrade --install --wait`",
        "helm_available": "the same + `kubectl rollout status`",
    },
    "change": {
        "pulumi": "`pulumi up --skip-preview`",
        "kubectl": "`apply --server-side` + `rollout status` + `delete` the old ConfigMap",
        "helm": "`helm upgrade --install --wait`",
        "helm_available": "the same + `kubectl rollout status`",
    },
    "noop_preview": {
        "pulumi": "`pulumi preview --expect-no-changes`",
        "kubectl": "`kubectl diff --server-side`",
        "helm": "`helm upgrade --dry-run=server`",
        "helm_available": "(as helm)",
    },
}
TOOL_LABELS = {
    "pulumi": "pulumi",
    "kubectl": "kubectl (floor)",
    "helm": "helm (peer)",
    "helm_available": "helm to available",
}


def deploy_table(results: Mapping[str, Any]) -> list[str]:
    summary, detail, meta = results["deploy"], results["deploy_detail"], results["deploy_meta"]
    lines = [
        "## 1. Where users wait: pulumi, the kubectl floor and helm on the same API server",
        "",
        f"{meta['rounds']} rounds; in each, every tool (order rotating) deploys dev's "
        f"{meta['objects']} objects to a control plane of its own, started fresh "
        "(`scripts/cluster.sh`: etcd, kube-apiserver, controller-manager, scheduler, kwok), then "
        "makes the change, then previews. Median (min–max) over the rounds; ratios are medians "
        "of per-round ratios. CPU = every process the tool started (CLI, language host, "
        "program, provider plugin); control plane = etcd, apiserver, controllers, scheduler and "
        "kwok over the same window; MiB = the largest peak RSS among the tool's processes; "
        "requests = the API server's audit log. Helm 3's `--wait` returns once the pods are "
        "Ready, before the Deployments' `minReadySeconds` (10 s in dev) makes them available; "
        "`helm to available` is `helm upgrade --install --wait` followed by `kubectl rollout "
        "status`, the readiness pulumi and the floor wait for.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
    ]
    for scenario in deploy.SCENARIOS:
        d = detail[scenario]
        lines += [
            f"### {SCENARIO_LABELS[scenario]}",
            "",
            "| tool | command | wall, s | CPU, s | control plane CPU, s | peak MiB | requests |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for tool in deploy.REPORTED:
            t = d[tool]
            lines.append(
                f"| {TOOL_LABELS[tool]} | {COMMANDS[scenario][tool]} | {_span(t['wall'], '.2f')} "
                f"| {_span(t['cpu'], '.2f')} | {_span(t['control_plane_cpu'], '.2f')} "
                f"| {t['max_rss_mib']['median']:.0f} | {_span(t['requests'], '.0f')} |"
            )
        lines += [
            "",
            "| pulumi over | wall (per-round ratios) | CPU (per-round ratios) |",
            "| --- | --- | --- |",
        ]
        for other in deploy.OTHERS:
            key = f"pulumi_over_{other}"
            lines.append(
                f"| {TOOL_LABELS[other]} | {_span(d['wall_ratios'][key], '.2f')}x "
                f"| {_span(d['cpu_ratios'][key], '.2f')}x |"
            )
        lines.append("")
    requests = summary["requests"]["change"]
    lines += [
        "### Goals (wall time, median of per-round ratios)",
        "",
        "| goal | measured | met |",
        "| --- | --- | --- |",
    ]
    for (scenario, other), limit in GOALS_DEPLOY.items():
        ratio = summary[scenario][f"pulumi_over_{other}"]
        lines.append(
            f"| {SHORT[scenario]}: pulumi ≤ {limit}x {other} | {ratio:.2f}x "
            f"| {_met(ratio <= limit)} |"
        )
        if other == "helm" and scenario != "noop_preview":
            same = detail[scenario]["wall_ratios"]["pulumi_over_helm_available"]["median"]
            lines.append(
                f"| … the same against helm waited to available (`rollout status` after it) "
                f"| {same:.2f}x | {_met(same <= limit)} |"
            )
    lines += [
        f"| change: fewer API requests than helm | pulumi {requests['pulumi']:.0f}, "
        f"helm {requests['helm']:.0f} | {_met(requests['pulumi'] < requests['helm'])} |",
        *real_scale.goal_rows(results.get("scale")),
        "",
    ]
    return lines


def informational_render(fl: Mapping[str, Any] | None) -> list[str]:
    """The earlier issues' headline, kept as one row: the offline render over the limit."""
    if fl is None:
        return []
    cpu, wall = fl["cpu"]["render_over"]["limit"], fl["wall"]["render_over"]["limit"]
    render = fl["processes"]["render"]
    return [
        "## 2. Informational: the offline render against the limit process",
        "",
        "What no user waits for, kept to see a regression in the program's own work: "
        "`python -m tools.render dev` over the SDK registering the same objects under a trivial "
        f"mock (`benchmark.limit`), {fl['runs']} paired rounds.",
        "",
        "| | CPU | wall | render CPU, s | render wall, s |",
        "| --- | --- | --- | --- | --- |",
        f"| render dev over the limit process | {_span(cpu, '.2f')}x | {_span(wall, '.2f')}x "
        f"| {_span(render['cpu'], '.3f')} | {_span(render['wall'], '.3f')} |",
        "",
    ]


def report(results: Mapping[str, Any]) -> str:
    meta = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {meta['platform']}, {meta['cpus']} CPUs, {meta.get('memory_gib', '?')} GiB, "
        f"Python {meta['python']}; {meta['date']}; load average before the run "
        f"{meta.get('load_before', '?')}, after {meta.get('load_after', '?')}; "
        f"`{meta['command']}` took {results['total_seconds']:.0f} s.",
        "",
    ]
    if "deploy" in results:
        lines += deploy_table(results)
    lines += informational_render(results.get("floors"))
    if "profile_up" in results:
        lines += profile_up.table(results["profile_up"])
    if "profile_program" in results:
        lines += profile_program.table(results["profile_program"])
    if "scale" in results:
        lines += real_scale.table(results["scale"])
    if "mock_scale" in results:
        lines += ["## Mock runtime (`--mock`)", "", *render_table(results["floors"])]
        lines += scale_table(results["mock_scale"])
        lines += instructions.table(results.get("instructions"))
    return "\n".join(lines) + "\n"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _sizes(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"sizes must be whole numbers from 1: {text}")
    return values


def _command(argv: Sequence[str] | None) -> str:
    return ("python -m benchmark " + " ".join(argv if argv is not None else sys.argv[1:])).strip()


def written(results: Mapping[str, Any], out: Path) -> int:
    """Write `results.md` (also to stdout) and `results.json` into `out`; 0, the exit code."""
    text = report(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(text)
    return 0


def merged_run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """`--scale` and `--profile-program`: run alone, each merged into the results folder's files
    under its own key (the full run's figures stay as they are)."""
    started = time.perf_counter()
    existing = args.out / "results.json"
    results: dict[str, Any] = json.loads(existing.read_text()) if existing.is_file() else {}
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": _command(argv),
        "load_before": _load(),
    }
    added: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-merged-") as name:
        try:
            if args.profile_up:
                print("profile of one pulumi up ...", file=sys.stderr, flush=True)
                added["profile_up"] = profile_up.profile(Path(name) / "pu", args.out)
            if args.profile_program:
                print("profile of the program's process ...", file=sys.stderr, flush=True)
                added["profile_program"] = profile_program.profile(Path(name) / "pp", args.out)
            if args.scale is not None:
                added["scale"] = real_scale.run(
                    args.scale, args.parallel, args.scale_rounds, Path(name) / "scale",
                    lambda message: print(message, file=sys.stderr, flush=True),
                )  # fmt: skip
        except deploy.DeployError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    machine["load_after"] = _load()
    for key, value in added.items():
        results[key] = {**value, "machine": machine,
                        "total_seconds": time.perf_counter() - started}  # fmt: skip
    results.setdefault("machine", machine)
    results.setdefault("total_seconds", time.perf_counter() - started)
    return written(results, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds of the deploy comparison (default 5; quick 2)"
    )
    parser.add_argument(
        "--runs", type=int, help="rounds of the render and its floors (default 10; quick 3)"
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of dev, 3 of the render row")
    parser.add_argument(
        "--no-deploy", action="store_true", help="leave out the real-engine comparison"
    )
    parser.add_argument(
        "--profile-up",
        action="store_true",
        help="also profile one `pulumi up` of dev (benchmark.profile_up)",
    )
    parser.add_argument(
        "--mock",
        action="store_true",
        help="also the mock-runtime room: render against three floors, scale against the bare "
        "program",
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="--mock's sizes (default 30 100 300)")
    parser.add_argument(
        "--mock-rounds", type=int, help="--mock's scale rounds (default 5; quick 2)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --mock, also write pyinstrument profiles of the mock runs (needs pyinstrument)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="with --mock, also count instructions per service with cachegrind (needs valgrind)",
    )
    parser.add_argument(
        "--scale",
        type=_sizes,
        help="only the real-engine scale run at these sizes (comma-separated, e.g. 3,30,100): "
        "first deploy and one change of synthetic environments, each tool on a fresh control "
        "plane; merged as `scale` into the results folder's results.json and results.md",
    )
    parser.add_argument(
        "--parallel",
        type=_sizes,
        default=[],
        help="with --scale, also `pulumi up --parallel P` for each P (comma-separated)",
    )
    parser.add_argument(
        "--scale-rounds", type=int, default=1, help="with --scale, rounds per size (default 1)"
    )
    parser.add_argument(
        "--profile-program",
        action="store_true",
        help="only two profiled first deploys of dev (imports, cProfile of the program's "
        "process; benchmark.profile_program), merged into the results folder's files (with "
        "--profile-up, that profile too)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where results go (default benchmark/results/, or benchmark/results/quick/ with "
        "--quick, git-ignored, so that a quick check never overwrites the committed figures)",
    )
    args = parser.parse_args(argv)
    args.out = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    if args.scale is not None and (len(args.scale) < 2 or args.scale_rounds < 1):
        parser.error("--scale needs two sizes or more, and at least one round")
    if args.scale is not None or args.profile_program:
        return merged_run(args, argv)
    rounds = args.rounds or (2 if args.quick else 5)
    runs = args.runs or (3 if args.quick else 10)
    mock_rounds = args.mock_rounds or (2 if args.quick else 5)
    sizes = sorted(set(args.sizes or ((10, 30) if args.quick else (30, 100, 300))))
    if len(sizes) < 2 or runs < 1 or rounds < 1 or mock_rounds < 1:
        parser.error("need two sizes or more, and at least one run and round")

    started = time.perf_counter()
    command = "python -m benchmark " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_gib": _memory_gib(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": command.strip(),
            "load_before": _load(),
        },
        "goals": {
            "deploy": {f"pulumi_over_{o}:{s}": v for (s, o), v in GOALS_DEPLOY.items()},
            "render_over_limit": GOAL_RENDER_OVER_LIMIT,
            "over_bare": GOAL_OVER_BARE,
            "linear_growth": GOAL_LINEAR,
        },
    }

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as name:
        tmp = Path(name)
        env = child_env(tmp / "pycache")
        try:
            if not args.no_deploy:
                done, meta = deploy.rounds(rounds, tmp / "deploy", progress)
                results["deploy"], results["deploy_detail"] = deploy.summarize(done)
                results["deploy_meta"] = {**meta, "rounds": rounds}
            if args.profile_up:
                progress("profile of one pulumi up ...")
                results["profile_up"] = profile_up.profile(tmp / "profile-up", args.out)
            progress(f"render and the limit: {runs} rounds ...")
            results["floors"] = floors(runs, env, tmp, args.mock and pydantic_available(env))
            if args.mock:
                progress(f"mock scale: sizes {sizes}, {mock_rounds} rounds ...")
                results["mock_scale"] = scale(sizes, mock_rounds, env, tmp)
                if args.instructions:
                    progress("instructions per service (cachegrind) ...")
                    results["instructions"] = instructions.count(env, tmp)
            args.out.mkdir(parents=True, exist_ok=True)
            if args.mock and args.profile:
                progress("profiles ...")
                results["profiles"] = [
                    str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
                    for p in profile(args.out, sizes[-1], env, tmp)
                ]
        except (MeasurementError, instructions.CountError, deploy.DeployError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    results["total_seconds"] = time.perf_counter() - started
    results["machine"]["load_after"] = _load()

    return written(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
