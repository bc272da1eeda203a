"""One measurement of the benchmark, in a process of its own: `python -m benchmark.driver ...`.

Modes (`program` and `bare` print one JSON line on stdout: `{"objects", "kubernetes", "seconds",
"cpu_seconds"}`, wall and CPU time of the program run alone, imports excluded):

- `program --services N [--dump FILE]`: the program (`components.program.deploy`, config loaded
  and checked inside the run as `__main__.py` does) over a synthetic catalog of N services with
  every feature on (`benchmark.synthetic`), passed to the loader, under the mock runtime
  (`tools.harness.run_program`); times that run alone. `--dump` writes what was registered
  (type, name, parent, provider, dependencies, inputs) so that `bare` can register exactly the
  same objects.
- `bare --inputs FILE`: `benchmark.bare` registers the dumped objects with the SDK's own classes
  and nothing else, under the same mock runtime: the SDK's cost for them.
- `dump STACK --out FILE`: render a committed stack as `tools.render` does and write the same
  dump, for the limit process of `benchmark.limit`; prints `{"objects", "kubernetes",
  "modules"}`, the last being the `pulumi_kubernetes` type modules the objects live in.

Both timed modes run as the project's CLIs do (tools/process.py): no garbage-collection passes
from the start of `main` and no interpreter teardown, so that the two are treated alike and
neither pays for collections the other is spared. Both take two more flags:

- `--without-stack-traces`: the SDK sends no stack trace with any registration (what it sends
  when it finds no caller to name), so that the run leaves out the SDK's walk of the Python stack
  at every registration, a cost that grows with the depth of the caller's stack
  (docs/benchmark.md, "What the SDK charges per frame"). For the benchmark's comparison only.
- `--count-frames`: also report `frames`, the mean number of stack frames the SDK sent per
  registration (an untimed run: counting costs time).

A fresh process per measurement keeps one size's garbage, caches and peak memory out of the next,
and lets the caller read the peak RSS of exactly this run.

Exit codes: 0 done; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark import bare, synthetic
from tools.harness import ProgramRun, is_secret, run_program, shutdown
from tools.process import run_cli
from tools.render import render
from tools.stack_config import StackConfig


def _plain(value: Any) -> Any:
    """Recorded wire values to JSON, each secret envelope as `{bare.SECRET_KEY: value}`."""
    if is_secret(value):
        return {bare.SECRET_KEY: _plain(value["value"])}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_run(run: ProgramRun, path: Path) -> None:
    """What `benchmark/bare.py` needs to register the same objects."""
    records = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "custom": r.custom,
            "provider": r.provider,
            "dependencies": r.dependencies,
            "inputs": _plain(r.inputs),
        }
        for r in run.resources
    ]
    path.write_text(json.dumps(records))


def _report(run: ProgramRun, seconds: float, cpu_seconds: float, frames: list[int]) -> None:
    report: dict[str, Any] = {
        "objects": len(run.resources),
        "kubernetes": len(run.kubernetes()),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }
    if frames:
        report["frames"] = sum(frames) / len(frames)
    print(json.dumps(report))


def _stack_traces(*, send: bool, count: bool) -> list[int]:
    """Leave out (or count) the stack trace the SDK sends with every registration.

    Returns the list that `count` fills with the frames of each registration's trace.
    """
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    counted: list[int] = []
    if not send:
        # The empty trace is the SDK's own answer when no caller is found.
        resource._get_stack_trace = source_pb2.StackTrace  # type: ignore[attr-defined]
    if count:
        capture = resource._get_stack_trace  # type: ignore[attr-defined]

        def counting() -> Any:
            trace = capture()
            counted.append(len(trace.frames))
            return trace

        resource._get_stack_trace = counting  # type: ignore[attr-defined]
    return counted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.driver")
    sub = parser.add_subparsers(dest="mode", required=True)
    program_mode = sub.add_parser("program", help="the real program over a synthetic catalog")
    program_mode.add_argument("--services", type=int, required=True)
    program_mode.add_argument("--dump", type=Path, help="write the registered objects here")
    bare_mode = sub.add_parser("bare", help="the SDK alone, registering a dump's objects")
    bare_mode.add_argument("--inputs", type=Path, required=True)
    for timed in (program_mode, bare_mode):
        timed.add_argument(
            "--without-stack-traces",
            action="store_true",
            help="the SDK sends no stack trace with a registration (see the module docstring)",
        )
        timed.add_argument(
            "--count-frames",
            action="store_true",
            help="report the mean stack frames the SDK sent per registration",
        )
    dump = sub.add_parser("dump", help="dump a committed stack's render, for the limit process")
    dump.add_argument("stack")
    dump.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.mode == "dump":
        run = render(args.stack).run
        dump_run(run, args.out)
        modules = {bare.kubernetes_module(r.type) for r in run.resources}
        print(
            json.dumps(
                {
                    "objects": len(run.resources),
                    "kubernetes": len(run.kubernetes()),
                    "modules": sorted(m for m in modules if m is not None),
                }
            )
        )
        shutdown()
        return 0
    if args.mode == "program":
        services = synthetic.services(args.services)
        config = synthetic.stack(services)
        # The catalog goes to the loader; `components.catalog.CATALOG` stays the real one.
        program = synthetic.program(config.values, catalog=services)
    else:
        # Read before the clock starts: reading the dump is not part of registering.
        config = StackConfig(project=synthetic.PROJECT, stack="bench", values={})
        program = bare.program(json.loads(args.inputs.read_text()))

    frames = _stack_traces(send=not args.without_stack_traces, count=args.count_frames)
    start, start_cpu = time.perf_counter(), time.process_time()
    run = run_program(config, program=program)
    seconds = time.perf_counter() - start
    # All threads of this process: the SDK's worker threads register on its behalf.
    cpu_seconds = time.process_time() - start_cpu
    if args.mode == "program" and args.dump:
        dump_run(run, args.dump)
    _report(run, seconds, cpu_seconds, frames)
    shutdown()
    return 0


if __name__ == "__main__":
    # As the CLIs run (tools/process.py): the same for `program` and `bare`.
    run_cli(main)
