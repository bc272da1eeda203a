"""The program's Python process in a real `pulumi up`: `python -m benchmark --profile-program`.

Two first deploys of dev, each on a fresh control plane, with a `sitecustomize` module of the
benchmark's on the Python path of every Python process the CLI starts (`PYTHONPATH`, which the
language host passes on), and nothing of the program changed:

- **imports**: `PYTHONPROFILEIMPORTTIME=1`; the hook sends the interpreter's standard error of
  the language host's runner (`pulumi-language-python-exec`, which runs `__main__.py`) to a
  file, so every import's own and cumulative microseconds are kept (`-X importtime`'s format);
- **cProfile**: the hook profiles that process from its `site` import to its exit, and writes
  the statistics at exit (the runner ends with `sys.exit`, so exit handlers run).

Both hooks also note, for every Python process the update starts, when the kernel started it,
when `site` got to the hook and when it exited, so the report can say how long the
interpreter took to start and which other Python processes ran (the language host's `pip
list`). Profiles, not measurements: both hooks slow the process they watch.
"""

from __future__ import annotations

import json
import pstats
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark import deploy
from tests.e2e.engine import Project

SITECUSTOMIZE = '''\
"""benchmark/profile_program.py's hook: profiles this process when asked to (an env var)."""
import atexit
import json
import os
import sys
import time

_out = os.environ.get("BENCHMARK_PROGRAM_PROFILE")
if _out:
    _site = time.time()
    _argv = list(sys.argv)
    _name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if sys.argv[:1] == ["-m"] or _name == "-m":
        _name = "python-m"
    _stem = os.path.join(_out, f"{os.getpid()}-{_name}")
    with open("/proc/self/stat") as _stat:
        _ticks = int(_stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as _boot:
        _btime = next(int(l.split()[1]) for l in _boot if l.startswith("btime"))
    _started = _btime + _ticks / os.sysconf("SC_CLK_TCK")
    _runner = _name == "pulumi-language-python-exec"
    _mode = os.environ.get("BENCHMARK_PROGRAM_PROFILE_MODE", "")
    if _runner and _mode == "importtime":
        _fd = os.open(_stem + ".importtime", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(_fd, 2)
    _profile = None
    if _runner and _mode == "cprofile":
        import cProfile

        _profile = cProfile.Profile()
        _profile.enable()

    def _done():
        if _profile is not None:
            _profile.disable()
            _profile.dump_stats(_stem + ".pstats")
        with open(_stem + ".json", "w") as _file:
            json.dump({"argv": _argv, "started": _started, "site": _site,
                       "exited": time.time()}, _file)

    atexit.register(_done)
'''

RUNNER = "pulumi-language-python-exec"
FUNCTIONS = {
    "the program's run (`runpy.run_path` of `__main__.py`)": ("runpy.py", "run_path"),
    "loading and checking the config (`from_pulumi_config`)": ("engine.py", "from_pulumi_config"),
    "`deploy` (every component and object built and registered)": ("program.py", "deploy"),
    "`Environment.__init__`": ("environment.py", "__init__"),
    "`Microservice.__init__` (all services)": ("microservice.py", "__init__"),
    "the SDK's stack trace per registration (`_get_stack_trace`)": (
        "resource.py",
        "_get_stack_trace",
    ),
    "the SDK's `pulumi.log.debug` (one blocking RPC each)": ("log.py", "debug"),
    "the event loop waiting for the engine (`select`)": ("selectors.py", "select"),
}


def _run(root: Path, mode: str, prep: deploy.Prepared) -> tuple[Path, deploy.Sample]:
    work = root / mode
    hooks, out = work / "hooks", work / "out"
    hooks.mkdir(parents=True)
    out.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cluster = deploy.start_cluster(work / "cluster")
    try:
        shutil.copytree(prep.template.dir, work / "program", symlinks=True)
        shutil.copytree(prep.template.state, work / "state", symlinks=True)
        project = Project(dir=work / "program", stack=deploy.STACK, cluster=cluster,
                          home=prep.template.home, state=work / "state")  # fmt: skip
        env = {**project.env(), "PYTHONPATH": str(hooks), "BENCHMARK_PROGRAM_PROFILE": str(out),
               "BENCHMARK_PROGRAM_PROFILE_MODE": mode}  # fmt: skip
        if mode == "importtime":
            env["PYTHONPROFILEIMPORTTIME"] = "1"
        sample = deploy.measured(
            [["pulumi", "up", "--yes", "--skip-preview", "--stack", deploy.STACK,
              "--non-interactive", "--color", "never"]],
            env, project.dir, work / "output.log", cluster,
        )  # fmt: skip
    finally:
        deploy.stop_cluster(cluster)
    return out, sample


def processes(out: Path, origin: float) -> list[dict[str, Any]]:
    """Every Python process the update started (not the benchmark's own `tree.py`): argv,
    start, interpreter start, lifetime."""
    found = []
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        if data["argv"] and data["argv"][0].endswith("tree.py"):
            continue
        found.append({
            "argv": " ".join(data["argv"])[:120],
            "starts_at": data["started"] - origin,
            "to_site": data["site"] - data["started"],
            "lives": data["exited"] - data["started"],
        })  # fmt: skip
    return sorted(found, key=lambda p: p["starts_at"])


def imports(path: Path, top: int = 15) -> dict[str, Any]:
    """`-X importtime` lines: the total, and the top-level imports by cumulative time."""
    rows: list[tuple[str, int, int, int]] = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((name.strip(), int(own), int(cumulative), depth))
    shallowest = min((r[3] for r in rows), default=0)
    first = [r for r in rows if r[3] == shallowest]
    return {
        "total_seconds": sum(r[1] for r in rows) / 1e6,
        "top": [{"module": n, "cumulative": c / 1e6} for n, _, c, _ in
                sorted(first, key=lambda r: -r[2])[:top]],  # fmt: skip
        "of_interest": {
            name: c / 1e6 for name, _, c, _ in rows
            if name in ("pulumi", "pulumi_kubernetes", "pulumi_kubernetes.core.v1",
                        "pulumi_kubernetes.apps.v1", "pulumi_kubernetes.networking.v1",
                        "components.program", "components.config", "pydantic", "grpc")
        },
    }  # fmt: skip


def functions(path: Path) -> dict[str, Any]:
    """cProfile: the process's total, and the cumulative time of the functions that matter."""
    stats = pstats.Stats(str(path))
    raw: Mapping[Any, Any] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, dict[str, float]] = {}
    for label, (file, function) in FUNCTIONS.items():
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, total_calls, _, cum, _) in raw.items():
            # Python 3.11 names frozen modules `<frozen runpy>`.
            frozen = filename == f"<frozen {file.removesuffix('.py')}>"
            if name == function and (filename.endswith(file) or frozen):
                calls += total_calls
                cumulative = max(cumulative, cum)
        found[label] = {"calls": calls, "cumulative": cumulative}
    return {"total": stats.total_tt, "functions": found}  # type: ignore[attr-defined]


def profile(root: Path, out_dir: Path) -> dict[str, Any]:
    """Both profiled first deploys of dev; writes the cProfile listing beside the results."""
    toolchain = deploy.Toolchain.find()
    prep = deploy.prepare(root / "prepared", toolchain)
    result: dict[str, Any] = {}
    for mode in ("importtime", "cprofile"):
        out, sample = _run(root, mode, prep)
        # From the benchmark's tree.py, which starts the CLI at once.
        origin = min(json.loads(p.read_text())["started"] for p in out.glob("*.json"))
        entry: dict[str, Any] = {"wall": sample.wall, "cpu": sample.cpu,
                                 "processes": processes(out, origin)}  # fmt: skip
        runner = next(out.glob(f"*-{RUNNER}.{'importtime' if mode == 'importtime' else 'pstats'}"))
        if mode == "importtime":
            entry["imports"] = imports(runner)
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runner, out_dir / "profile-program-up-importtime.txt")
        else:
            entry["profile"] = functions(runner)
            listing = out_dir / "profile-program-up.txt"
            out_dir.mkdir(parents=True, exist_ok=True)
            with listing.open("w") as stream:
                stream.write(
                    "cProfile of the program's process in one `pulumi up` of dev "
                    "(benchmark/profile_program.py), top 60 by cumulative time\n\n"
                )
                pstats.Stats(str(runner), stream=stream).sort_stats("cumulative").print_stats(60)
        result[mode] = entry
    return result


def table(result: Mapping[str, Any]) -> list[str]:
    it, cp = result["importtime"], result["cprofile"]
    lines = [
        "## The program's process in a real `pulumi up` (dev, first deploy)",
        "",
        f"Two profiled runs (`benchmark/profile_program.py`): imports ({it['wall']:.1f} s wall) "
        f"and cProfile ({cp['wall']:.1f} s wall; the listing is `profile-program-up.txt`). "
        "Both hooks slow the process they watch.",
        "",
        "| Python process (imports run) | starts at, s | start to `site`, s | lives, s |",
        "| --- | --- | --- | --- |",
    ]
    for p in it["processes"]:
        lines.append(
            f"| `{p['argv']}` | {p['starts_at']:.2f} | {p['to_site']:.2f} | {p['lives']:.2f} |"
        )
    imp = it["imports"]
    lines += [
        "",
        f"Imports of the runner's process: {imp['total_seconds']:.2f} s in all "
        "(`-X importtime`, own times summed).",
        "",
        "| module | cumulative import, s |",
        "| --- | --- |",
        *(f"| `{name}` | {s:.3f} |" for name, s in sorted(imp["of_interest"].items())),
        "",
        "The runner's top-level imports, by cumulative time (the whole list: "
        "`profile-program-up-importtime.txt`):",
        "",
        "| module | cumulative import, s |",
        "| --- | --- |",
        *(f"| `{t['module']}` | {t['cumulative']:.3f} |" for t in imp["top"]),
        "",
        f"cProfile of the runner's process: {cp['profile']['total']:.2f} s of profiled time.",
        "",
        "| function | calls | cumulative, s |",
        "| --- | --- | --- |",
        *(
            f"| {label} | {f['calls']} | {f['cumulative']:.3f} |"
            for label, f in cp["profile"]["functions"].items()
        ),  # fmt: skip
        "",
    ]
    return lines
