"""Benchmark: `python -m tools.bench [--runs N] [--quick] [--profile]`.

Measures, on the machine it runs on, (1) the cost of rendering the dev stack against the floor of
any Pulumi Python program (importing the SDKs), (2) how the program's cost grows with the number
of services, beside the SDK's own cost of registering the very same objects, and (3) how many
objects each kind of single change touches, beside the fewest it has to. Prints a markdown report
and writes it to `bench/results.md`, with the raw numbers in `bench/results.json`.

Exit codes: 0 done; 1 a change touches more (or fewer) objects than it must (a bug, see the
blast-radius table); 2 a measurement failed. Time and memory goals are reported, not enforced:
on a shared machine they are numbers to read, not pass/fail gates.

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.stack_config import ROOT

PYTHON = sys.executable
OUT_DIR = ROOT / "bench"

# The goals.
GOAL_RENDER_OVER_FLOOR = 1.3
GOAL_LINEAR = 1.25
"""Marginal cost per service at the largest step over that at the smallest step."""
GOAL_OVER_SDK = 1.25
"""Our marginal cost per service over the bare SDK's for the same objects."""

FLOOR_CODE = "import pulumi, pulumi_kubernetes, pulumi_docker"


class MeasurementError(Exception):
    """A measured subprocess failed; the message carries its stderr tail."""


@dataclass
class Sample:
    wall: float
    """Seconds from spawn to exit, measured here."""
    max_rss_kb: int
    """Peak resident set of that process alone (`ru_maxrss` of `wait4`, KiB on Linux)."""
    payload: dict[str, Any] | None = None
    """The JSON line a driver printed, when it prints one."""


def measure(argv: Sequence[str], *, json_out: bool = False) -> Sample:
    """Run `argv` from the project root and return its wall time and its own peak RSS.

    `os.wait4` reports the rusage of exactly that child, which `RUSAGE_CHILDREN` cannot once a
    previous child had a larger peak (it keeps the maximum over all children ever reaped).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err)
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
    return Sample(wall=wall, max_rss_kb=usage.ru_maxrss, payload=payload)


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


# --- 1. floor and overhead ---------------------------------------------------------------------


def floor_and_render(runs: int) -> dict[str, Any]:
    floor: list[Sample] = []
    renders: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        # One untimed pass of each, so the first timed run does not pay for cold page cache
        # and .pyc compilation (which once took minutes on this machine).
        measure([PYTHON, "-c", FLOOR_CODE])
        measure([PYTHON, "-m", "tools.render", "dev", "--out", f"{tmp}/warm"])
        # Interleaved, so that drift of a shared machine hits both series alike.
        for index in range(runs):
            floor.append(measure([PYTHON, "-c", FLOOR_CODE]))
            renders.append(
                measure([PYTHON, "-m", "tools.render", "dev", "--out", f"{tmp}/{index}"])
            )
    floor_t = Stats.of([s.wall for s in floor])
    render_t = Stats.of([s.wall for s in renders])
    floor_m = Stats.of([s.max_rss_kb / 1024 for s in floor])
    render_m = Stats.of([s.max_rss_kb / 1024 for s in renders])
    # Paired ratios (each render with the floor run just before it) are less exposed to drift
    # than a ratio of medians; both are reported.
    paired = Stats.of([r.wall / f.wall for f, r in zip(floor, renders, strict=True)])
    return {
        "floor_seconds": asdict(floor_t),
        "render_seconds": asdict(render_t),
        "floor_mib": asdict(floor_m),
        "render_mib": asdict(render_m),
        "time_ratio": render_t.median / floor_t.median,
        "time_ratio_paired": asdict(paired),
        "memory_ratio": render_m.median / floor_m.median,
    }


# --- 2. scale ----------------------------------------------------------------------------------


def _slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R² of ys against xs."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    return slope, intercept, 1 - ss_res / ss_tot if ss_tot else 1.0


def scale(sizes: Sequence[int], rounds: int, dump_dir: Path) -> dict[str, Any]:
    samples: dict[str, dict[int, list[Sample]]] = {
        "program": {n: [] for n in sizes},
        "bare": {n: [] for n in sizes},
    }
    for round_index in range(rounds):
        for n in sizes:
            dump = dump_dir / f"objects-{n}.json"
            argv = [PYTHON, "-m", "tools.bench_driver", "program", "--services", str(n)]
            if round_index == 0:
                # Dumped after the timed part, so it costs this run nothing it reports.
                argv += ["--dump", str(dump)]
            samples["program"][n].append(measure(argv, json_out=True))
            samples["bare"][n].append(
                measure(
                    [PYTHON, "-m", "tools.bench_driver", "bare", "--inputs", str(dump)],
                    json_out=True,
                )
            )
    result: dict[str, Any] = {"sizes": list(sizes), "rounds": rounds}
    for which, by_size in samples.items():
        rows = []
        for n in sizes:
            runs = by_size[n]
            payload = runs[0].payload or {}
            rows.append(
                {
                    "services": n,
                    "objects": payload.get("objects"),
                    "kubernetes": payload.get("kubernetes"),
                    "seconds": asdict(Stats.of([s.payload["seconds"] for s in runs if s.payload])),
                    "wall": asdict(Stats.of([s.wall for s in runs])),
                    "mib": asdict(Stats.of([s.max_rss_kb / 1024 for s in runs])),
                }
            )
        xs = [float(r["services"]) for r in rows]
        seconds = [r["seconds"]["median"] for r in rows]
        mib = [r["mib"]["median"] for r in rows]
        objects = [float(r["objects"]) for r in rows]
        steps = [
            {
                "from": rows[i]["services"],
                "to": rows[i + 1]["services"],
                "ms_per_service": 1000 * (seconds[i + 1] - seconds[i]) / (xs[i + 1] - xs[i]),
                "kib_per_service": 1024 * (mib[i + 1] - mib[i]) / (xs[i + 1] - xs[i]),
            }
            for i in range(len(rows) - 1)
        ]
        slope, intercept, r2 = _slope(xs, seconds)
        mem_slope, _, mem_r2 = _slope(xs, mib)
        object_slope, _, _ = _slope(xs, objects)
        result[which] = {
            "rows": rows,
            "steps": steps,
            "ms_per_service": 1000 * slope,
            "fixed_seconds": intercept,
            "r2": r2,
            "kib_per_service": 1024 * mem_slope,
            "memory_r2": mem_r2,
            "objects_per_service": object_slope,
            "ms_per_object": 1000 * slope / object_slope,
            "growth": steps[-1]["ms_per_service"] / steps[0]["ms_per_service"],
        }
    result["over_sdk"] = result["program"]["ms_per_service"] / result["bare"]["ms_per_service"]
    return result


# --- 3. blast radius ---------------------------------------------------------------------------


def blast_radius() -> list[dict[str, Any]]:
    # Its own process: it swaps the catalog and runs the program several times under the mocks.
    completed = subprocess.run(
        [PYTHON, "-m", "tools.bench_blast"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise MeasurementError(f"tools.bench_blast exited {completed.returncode}: {tail}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- 4. profiles (optional) --------------------------------------------------------------------


def profile(out_dir: Path, services: int) -> list[Path]:
    """pyinstrument text profiles of the dev render and of both scale modes at `services`.

    pyinstrument samples the main thread only; the mock monitor's work on the SDK's executor
    threads shows up as time the main thread spends waiting on its futures.
    """
    written = []
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        dump = Path(tmp) / "objects.json"
        targets = {
            "render-dev": ["-m", "tools.render", "dev", "--out", f"{tmp}/render"],
            f"program-{services}": [
                "-m", "tools.bench_driver", "program", "--services", str(services),
                "--dump", str(dump),
            ],
            f"bare-{services}": ["-m", "tools.bench_driver", "bare", "--inputs", str(dump)],
        }  # fmt: skip
        for name, target in targets.items():
            path = out_dir / f"profile-{name}.txt"
            argv = [PYTHON, "-m", "pyinstrument", "-r", "text", "-o", str(path)]
            measure([*argv, *target])
            written.append(path)
    return written


# --- report ------------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _span(stats: dict[str, float], fmt: str) -> str:
    return f"{stats['median']:{fmt}} ({stats['low']:{fmt}}–{stats['high']:{fmt}})"


def report(results: dict[str, Any]) -> str:
    meta = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {meta['platform']}, {meta['cpus']} CPUs, Python {meta['python']}; "
        f"{meta['date']}; `{meta['command']}` took {results['total_seconds']:.0f} s.",
        "",
        "## 1. Floor and overhead (dev stack)",
        "",
        f"{results['floor']['floor_seconds']['n']} interleaved runs each; median (min–max), "
        "IQR in brackets.",
        "",
        "| measure | floor: import SDKs | render dev | render / floor | goal | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    fl = results["floor"]
    goal = GOAL_RENDER_OVER_FLOOR
    for label, f_key, r_key, ratio, fmt in (
        ("wall time, s", "floor_seconds", "render_seconds", fl["time_ratio"], ".3f"),
        ("peak RSS, MiB", "floor_mib", "render_mib", fl["memory_ratio"], ".1f"),
    ):
        f, r = fl[f_key], fl[r_key]
        lines.append(
            f"| {label} | {_span(f, fmt)} [{f['q1']:{fmt}}–{f['q3']:{fmt}}] "
            f"| {_span(r, fmt)} [{r['q1']:{fmt}}–{r['q3']:{fmt}}] "
            f"| {ratio:.2f}x | ≤ {goal}x | {_met(ratio <= goal)} |"
        )
    paired = fl["time_ratio_paired"]
    lines += [
        "",
        f"Paired time ratio (each render over the floor run just before it): "
        f"{_span(paired, '.2f')}x.",
        "",
    ]

    sc = results["scale"]
    lines += [
        "## 2. Scale (one environment, every feature on)",
        "",
        f"{sc['rounds']} rounds, sizes interleaved; seconds = the program run alone "
        "(imports excluded), median (min–max); MiB = peak RSS of the whole process.",
        "",
        "| services | objects | ours, s | ours, MiB | bare SDK, s | bare SDK, MiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for ours, bare in zip(sc["program"]["rows"], sc["bare"]["rows"], strict=True):
        lines.append(
            f"| {ours['services']} | {ours['objects']} | {_span(ours['seconds'], '.2f')} "
            f"| {ours['mib']['median']:.0f} | {_span(bare['seconds'], '.2f')} "
            f"| {bare['mib']['median']:.0f} |"
        )
    p, b = sc["program"], sc["bare"]
    steps = ", ".join(f"{s['from']}→{s['to']}: {s['ms_per_service']:.1f}" for s in p["steps"])
    bare_steps = ", ".join(f"{s['from']}→{s['to']}: {s['ms_per_service']:.1f}" for s in b["steps"])
    lines += [
        "",
        "| metric | ours | bare SDK | goal | met |",
        "| --- | --- | --- | --- | --- |",
        f"| marginal time per service (fit), ms | {p['ms_per_service']:.1f} "
        f"| {b['ms_per_service']:.1f} | ours ≤ {GOAL_OVER_SDK}x bare "
        f"| {_met(sc['over_sdk'] <= GOAL_OVER_SDK)} ({sc['over_sdk']:.2f}x) |",
        f"| marginal time per object, ms | {p['ms_per_object']:.2f} | {b['ms_per_object']:.2f} "
        "| – | – |",
        f"| marginal time per service by step, ms | {steps} | {bare_steps} | – | – |",
        f"| growth: last step / first step | {p['growth']:.2f}x | {b['growth']:.2f}x "
        f"| ours ≤ {GOAL_LINEAR}x | {_met(p['growth'] <= GOAL_LINEAR)} |",
        f"| R² of a linear fit, time | {p['r2']:.4f} | {b['r2']:.4f} | – | – |",
        f"| marginal memory per service, KiB | {p['kib_per_service']:.0f} "
        f"| {b['kib_per_service']:.0f} | – | – |",
        f"| R² of a linear fit, memory | {p['memory_r2']:.4f} | {b['memory_r2']:.4f} | – | – |",
        f"| objects per service | {p['objects_per_service']:.1f} "
        f"| {b['objects_per_service']:.1f} | – | – |",
        "",
        "## 3. Blast radius of single changes",
        "",
        "| change | created | updated | replaced | deleted | minimum (c/u/r/d) | why | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["blast"]:
        c, m = row["counts"], row["minimum"]
        minimum = "/".join(str(m[a]) for a in ("created", "updated", "replaced", "deleted"))
        verdict = row["verdict"] if row["verdict"] == "ok" else f"**{row['verdict']}**"
        lines.append(
            f"| {row['change']} | {c['created']} | {c['updated']} | {c['replaced']} "
            f"| {c['deleted']} | {minimum} | {row['why']} | {verdict} |"
        )
        for extra in row["extra"]:
            lines.append(f"|  ↳ touches more than it must: {extra} | | | | | | | |")
        for missing in row["missing"]:
            lines.append(f"|  ↳ fails to touch: {missing} | | | | | | | |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, help="runs of floor and render (default 7; quick 3)")
    parser.add_argument(
        "--rounds", type=int, help="rounds of the scale measurements (default 3; quick 2)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs, sizes 10 and 30")
    parser.add_argument("--sizes", type=int, nargs="+", help="catalog sizes (default 30 100 300)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also write pyinstrument profiles to bench/ (needs pyinstrument in the venv)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where results go (default bench/, or bench/quick/ with --quick so that a quick "
        "check never overwrites the committed full-run figures)",
    )
    args = parser.parse_args(argv)
    args.out = args.out or (OUT_DIR / "quick" if args.quick else OUT_DIR)
    runs = args.runs or (3 if args.quick else 7)
    rounds = args.rounds or (2 if args.quick else 3)
    sizes = sorted(set(args.sizes or ((10, 30) if args.quick else (30, 100, 300))))
    if len(sizes) < 2 or runs < 1 or rounds < 1:
        parser.error("need two sizes or more, and at least one run and round")

    started = time.perf_counter()
    command = "python -m tools.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": command.strip(),
        },
        "goals": {
            "render_over_floor": GOAL_RENDER_OVER_FLOOR,
            "linear_growth": GOAL_LINEAR,
            "over_sdk": GOAL_OVER_SDK,
        },
    }
    try:
        print(f"floor and render: {runs} runs each ...", file=sys.stderr)
        results["floor"] = floor_and_render(runs)
        print(f"scale: sizes {sizes}, {rounds} rounds ...", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            results["scale"] = scale(sizes, rounds, Path(tmp))
        print("blast radius ...", file=sys.stderr)
        results["blast"] = blast_radius()
        args.out.mkdir(parents=True, exist_ok=True)
        if args.profile:
            print("profiles ...", file=sys.stderr)
            results["profiles"] = [
                str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
                for p in profile(args.out, sizes[-1])
            ]
    except MeasurementError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results["total_seconds"] = time.perf_counter() - started

    text = report(results)
    (args.out / "results.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(text)
    failed = [row["change"] for row in results["blast"] if row["verdict"] != "ok"]
    if failed:
        print(f"blast radius above (or below) its minimum: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
