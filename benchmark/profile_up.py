"""Where one `pulumi up` of dev spends its time, from the engine's own OpenTelemetry spans.

`python -m benchmark --profile-up` runs one first deploy of dev with `--otel-traces file://...`
(the CLI's span exporter, which the language host and the provider plugin report into too) on a
fresh control plane, and reads back:

- the phases: CLI start to its first output, each plugin's start (`newPlugin`), the language
  host's `GetRequiredPlugins` (it lists the virtualenv's packages), the program's run
  (`run-program`: Python's start, the imports, the config checks and every registration), and
  the time from the program's end to the update's end (waiting for the last step);
- the program's first and last registration, relative to the start of its run (before the
  first: Python's start, the imports and the config checks);
- the provider's steps (`Check`, `Create`, ...): how many, their summed and longest time;
  `Create` includes the provider's await (a Deployment's rollout, a Service's endpoints);
- the checkpoint writes of the file backend (`gocloud.dev/blob.NewWriter`);
- from the state (`pulumi stack export`), the resource graph: how many objects wait on another
  (a dependency other than their provider and parents) and the longest chain of them.

The run is a profile, not a measurement: tracing costs time of its own; the timed figures are
`benchmark.deploy`'s.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark import deploy
from tests.e2e.engine import Project


@dataclass
class Span:
    service: str
    name: str
    start: float
    end: float
    """Seconds since the trace's first span."""
    attributes: dict[str, Any]

    @property
    def seconds(self) -> float:
        return self.end - self.start


def read_spans(path: Path) -> list[Span]:
    """Every span of an OTLP JSON file (one export batch a line), times relative to the first."""
    raw: list[tuple[str, str, int, int, dict[str, Any]]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        for resource in json.loads(line).get("resourceSpans", []):
            service = next(
                (a["value"].get("stringValue", "?")
                 for a in resource.get("resource", {}).get("attributes", [])
                 if a["key"] == "service.name"), "?",
            )  # fmt: skip
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    attributes = {a["key"]: next(iter(a["value"].values()), None)
                                  for a in span.get("attributes", [])}  # fmt: skip
                    raw.append((service, span["name"], int(span["startTimeUnixNano"]),
                                int(span["endTimeUnixNano"]), attributes))  # fmt: skip
    if not raw:
        return []
    origin = min(r[2] for r in raw)
    return sorted(
        (Span(s, n, (b - origin) / 1e9, (e - origin) / 1e9, a) for s, n, b, e, a in raw),
        key=lambda s: s.start,
    )


def _one(spans: Iterable[Span], name: str, service: str = "pulumi-cli") -> Span | None:
    return next((s for s in spans if s.name == name and s.service == service), None)


def summarize(spans: list[Span]) -> dict[str, Any]:
    cli = _one(spans, "pulumi")
    run = _one(spans, "run-program")
    registrations = [s for s in spans if s.name.endswith("ResourceMonitor/RegisterResource")]
    steps: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span.service == "pulumi-cli" and span.name.startswith("pulumirpc.ResourceProvider/"):
            steps[span.name.split("/")[1]].append(span)
    writes = [s for s in spans if s.name == "gocloud.dev/blob.NewWriter"]
    first_print = _one(spans, "time-to-first-print")
    required = _one(spans, "pulumirpc.LanguageRuntime/GetRequiredPlugins")
    result: dict[str, Any] = {
        "total": cli.seconds if cli else None,
        "time_to_first_print": first_print.seconds if first_print else None,
        "plugins": [
            {"plugin": s.attributes.get("prefix"), "start": s.start, "seconds": s.seconds}
            for s in spans
            if s.name == "newPlugin"
        ],  # fmt: skip
        "get_required_plugins": required.seconds if required else None,
        "run_program": {"start": run.start, "seconds": run.seconds} if run else None,
        "registrations": len(registrations),
        "first_registration_after_run_start": (
            registrations[0].start - run.start if run and registrations else None
        ),
        "last_registration_after_run_start": (
            max(s.start for s in registrations) - run.start if run and registrations else None
        ),
        "after_program": cli.end - run.end if cli and run else None,
        "steps": {
            name: {
                "count": len(found),
                "sum": sum(s.seconds for s in found),
                "max": max(s.seconds for s in found),
                "first_start": min(s.start for s in found),
                "last_end": max(s.end for s in found),
            }
            for name, found in sorted(steps.items())
        },
        "checkpoint_writes": {"count": len(writes), "sum": sum(s.seconds for s in writes)},
    }
    return result


def graph(resources: list[Mapping[str, Any]]) -> dict[str, Any]:
    """From a stack export: objects that wait on another, and the longest chain of waits."""
    custom = {r["urn"]: r for r in resources if r.get("custom") and "providers" not in r["type"]}
    waits = {urn: [d for d in r.get("dependencies", []) if d in custom]
             for urn, r in custom.items()}  # fmt: skip
    depth: dict[str, int] = {}

    def chain(urn: str) -> int:
        if urn not in depth:
            depth[urn] = 1 + max((chain(d) for d in waits[urn]), default=0)
        return depth[urn]

    longest = max((chain(u) for u in custom), default=0)
    deepest = max(custom, key=chain) if custom else None
    path: list[str] = []
    while deepest:
        path.append(custom[deepest]["type"].split(":")[-1] + " " + deepest.split("::")[-1])
        deepest = max(waits[deepest], key=chain) if waits[deepest] else None
    return {
        "objects": len(custom),
        "waiting_on_another": sum(1 for w in waits.values() if w),
        "longest_chain": longest,
        "chain": path[::-1],
    }


def profile(root: Path, out_dir: Path) -> dict[str, Any]:
    """One traced first deploy of dev on a fresh control plane; writes profile-pulumi-up.md."""
    toolchain = deploy.Toolchain.find()
    prep = deploy.prepare(root / "prepared", toolchain)
    work = root / "run"
    work.mkdir(parents=True)
    cluster = deploy.start_cluster(work / "cluster")
    trace, preview_trace = work / "trace.json", work / "trace-preview.json"
    try:
        shutil.copytree(prep.template.dir, work / "program", symlinks=True)
        shutil.copytree(prep.template.state, work / "state", symlinks=True)
        project = Project(dir=work / "program", stack=deploy.STACK, cluster=cluster,
                          home=prep.template.home, state=work / "state")  # fmt: skip
        sample = deploy.measured(
            [["pulumi", "up", "--yes", "--skip-preview", "--stack", deploy.STACK,
              "--non-interactive", "--color", "never", "--otel-traces", f"file://{trace}"]],
            project.env(), project.dir, work / "output.log", cluster,
        )  # fmt: skip
        exported = json.loads(project.pulumi("stack", "export").stdout)
        # The no-op preview every pull request pays, traced the same way, on the deployed stack.
        preview = deploy.measured(
            [["pulumi", "preview", "--expect-no-changes", "--stack", deploy.STACK,
              "--non-interactive", "--color", "never", "--otel-traces",
              f"file://{preview_trace}"]],
            project.env(), project.dir, work / "output.log", cluster,
        )  # fmt: skip
    finally:
        deploy.stop_cluster(cluster)
    result = {
        "wall": sample.wall,
        "cpu": sample.cpu,
        "control_plane_cpu": sample.control_plane_cpu,
        "spans": summarize(read_spans(trace)),
        "graph": graph(exported["deployment"].get("resources", [])),
        "preview": {
            "wall": preview.wall,
            "cpu": preview.cpu,
            "spans": summarize(read_spans(preview_trace)),
        },  # fmt: skip
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile-pulumi-up.md").write_text("\n".join(table(result)) + "\n")
    return result


def table(result: Mapping[str, Any]) -> list[str]:
    s, g = result["spans"], result["graph"]
    lines = [
        "## 3. Profile of one `pulumi up` (first deploy of dev, traced)",
        "",
        f"One traced run (`--otel-traces`; tracing costs time of its own): "
        f"{result['wall']:.2f} s wall, {result['cpu']:.2f} s CPU of the CLI and its plugins, "
        f"{result['control_plane_cpu']:.2f} s CPU of the control plane. Seconds from the "
        "CLI's first span.",
        "",
        *phases(s),
    ]
    cw = s["checkpoint_writes"]
    lines += [
        "",
        f"Checkpoint writes (file backend): {cw['count']}, {cw['sum']:.2f} s in all. "
        f"Resource graph: {g['objects']} objects, {g['waiting_on_another']} wait on another "
        f"object; the longest chain is {g['longest_chain']} objects "
        f"({' → '.join(g['chain'])}).",
        "",
    ]
    preview = result.get("preview")
    if preview:
        lines += [
            "### The no-op preview after it (`pulumi preview --expect-no-changes`, traced)",
            "",
            f"{preview['wall']:.2f} s wall, {preview['cpu']:.2f} s CPU.",
            "",
            *phases(preview["spans"]),
            "",
        ]
    return lines


def phases(s: Mapping[str, Any]) -> list[str]:
    """The phases and provider steps of one traced command."""
    run = s["run_program"] or {"start": 0.0, "seconds": 0.0}
    lines = [
        "| phase | starts at, s | takes, s |",
        "| --- | --- | --- |",
        f"| CLI start to its first output | 0 | {s['time_to_first_print'] or 0:.2f} |",
    ]
    for plugin in s["plugins"]:
        lines.append(
            f"| start plugin `{plugin['plugin']}` | {plugin['start']:.2f} "
            f"| {plugin['seconds']:.2f} |"
        )
    lines += [
        f"| language host lists the virtualenv's packages (`GetRequiredPlugins`) | – "
        f"| {s['get_required_plugins'] or 0:.2f} |",
        f"| the program's run (Python, imports, config, {s['registrations']} registrations, "
        f"waiting for their outputs) | {run['start']:.2f} | {run['seconds']:.2f} |",
        f"| … Python's start, imports and config checks, to the first registration "
        f"| {run['start']:.2f} | {s['first_registration_after_run_start'] or 0:.2f} |",
        f"| … the last registration sent, after the run's start | – "
        f"| {s['last_registration_after_run_start'] or 0:.2f} |",
        f"| from the program's end to the update's end | {run['start'] + run['seconds']:.2f} "
        f"| {s['after_program'] or 0:.2f} |",
        f"| the whole `pulumi` command | 0 | {s['total'] or 0:.2f} |",
        "",
        "| provider step | count | summed, s | longest, s | first starts, s | last ends, s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, step in s["steps"].items():
        lines.append(
            f"| {name} | {step['count']} | {step['sum']:.2f} | {step['max']:.2f} "
            f"| {step['first_start']:.2f} | {step['last_end']:.2f} |"
        )
    return lines
