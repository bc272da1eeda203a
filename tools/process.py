"""How the project's one-shot command-line runs use the interpreter: no GC passes, no teardown.

A run such as `python -m tools.render dev` builds a heap of SDK objects (the Kubernetes type
modules, resources, outputs, futures), writes its result and ends. Two of CPython's defaults buy
such a run nothing and cost it about a third of its time (docs/benchmark.md has the numbers):

- the cyclic garbage collector walks the growing heap again and again while the program
  registers; the run makes little cyclic garbage, and all of it dies with the process anyway;
- at exit the interpreter tears that heap down object by object, after the output is written.

`run_cli` turns both off for one CLI's `main`. Nothing here acts on import: a module that calls it
from its `if __name__ == "__main__":` block behaves exactly as before when the tests import it.

Under `pulumi up`/`preview` the program keeps the interpreter's defaults: switching the collector
off there made no difference a real deploy could measure (docs/benchmark.md, "Where a `pulumi
up` spends its time"), and the language host's runner picks the exit code after the program
returns, so the program cannot end the process itself.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

# CPython's own exit status when flushing stdout fails at exit (e.g. a closed pipe).
FLUSH_FAILED = 120


def collect_less() -> None:
    """Stop cyclic garbage collection for the rest of this process.

    Reference counting still frees every object that is not part of a cycle, which is nearly
    all of them; the measured cost is a few percent more peak memory (docs/benchmark.md).
    """
    gc.disable()


def _other_threads_alive() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with `code` once output is flushed, skipping the heap's teardown.

    Exit handlers still run (logging's flush, the SDK's tracing shutdown), and standard output
    and error are flushed, so nothing a normal exit would deliver is lost. If a non-daemon thread
    is still running, a normal exit (which waits for it) is taken instead.
    """
    if _other_threads_alive():
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # What a normal exit does when its final flush fails.
            code = code or FLUSH_FAILED
    os._exit(code)


def run_cli(main: Callable[[], int]) -> NoReturn:
    """Run a CLI's `main` without garbage-collection passes and exit without teardown.

    Exceptions (including argparse's SystemExit) leave the usual way, with a traceback and
    the interpreter's normal exit.
    """
    collect_less()
    exit_without_teardown(main())
