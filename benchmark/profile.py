"""A pyinstrument profile of one benchmarked process: `python -m benchmark.profile OUT MODE ...`.

MODE is `render ARGS` (tools.render's CLI), `limit ARGS` (benchmark.limit) or `program ARGS` /
`bare ARGS` (benchmark.driver). Each runs as it does when measured: imports with the collector
on (the limit: off), no garbage-collection passes from `main` on. The profile covers the imports
and the run and is written to OUT before the process ends without teardown, which is why this
wrapper exists: `python -m pyinstrument -m tools.render` would never see the end of a process
that leaves through `os._exit`. pyinstrument samples the main thread only; the mock monitor's
work on the SDK's worker threads shows as time the main thread waits on their futures.

Exit codes: 0 profile written; 2 bad arguments or pyinstrument missing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

MODULES = {
    "render": "tools.render",
    "limit": "benchmark.limit",
    "program": "benchmark.driver",
    "bare": "benchmark.driver",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.profile")
    parser.add_argument("out", type=Path, help="text profile to write")
    parser.add_argument("mode", choices=sorted(MODULES))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the process's own arguments")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("error: pyinstrument is not installed (requirements-dev.txt)", file=sys.stderr)
        return 2

    from tools.process import collect_less, exit_without_teardown

    profiler = Profiler()
    profiler.start()
    module = importlib.import_module(MODULES[args.mode])
    collect_less()
    # tools.render takes its arguments as they are; the others take the mode first.
    driver_args = args.args if args.mode == "render" else [args.mode, *args.args]
    code = module.main(driver_args)
    profiler.stop()
    args.out.write_text(profiler.output_text())
    exit_without_teardown(code)


if __name__ == "__main__":
    sys.exit(main())
