"""The CLIs' lean process: no GC passes, no teardown, and nothing lost or changed on the way out."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from tools import render as render_module
from tools.stack_config import ROOT

# A CLI in miniature: a module-level object announces the interpreter's teardown, an exit
# handler announces itself, and `main` reports whether the collector runs and ends with 3.
SCRIPT = textwrap.dedent(
    """
    import atexit, gc, sys, threading, time
    from tools.process import exit_without_teardown, run_cli

    class Announces:
        def __del__(self):
            sys.stdout.write("torn down\\n")

    KEEP = Announces()
    atexit.register(lambda: sys.stdout.write("exit handler ran\\n"))

    def main():
        sys.stdout.write(f"collector on: {gc.isenabled()}\\n")
        if "--thread" in sys.argv:
            def late():
                time.sleep(0.1)
                sys.stdout.write("thread finished\\n")
            threading.Thread(target=late).start()
        if "--broken-stdout" in sys.argv:
            class Broken:
                def write(self, text): return len(text)
                def flush(self): raise OSError("closed pipe")
            sys.stdout = Broken()
            return 0
        return 3

    if "--plain" in sys.argv:
        sys.exit(main())
    run_cli(main)
    """
)


def run_script(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_plain_exit_tears_down_so_the_script_can_tell():
    # The control for the next test: without run_cli the teardown is visible.
    done = run_script("--plain")
    assert done.returncode == 3
    assert "collector on: True" in done.stdout
    assert "torn down" in done.stdout


def test_run_cli_skips_collection_and_teardown_but_keeps_output_and_exit_handlers():
    done = run_script()
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["collector on: False", "exit handler ran"]
    assert done.stderr == ""


def test_a_running_thread_gets_the_normal_exit_that_waits_for_it():
    done = run_script("--thread")
    assert done.returncode == 3, done.stderr
    assert "thread finished" in done.stdout


def test_a_failed_final_flush_fails_the_exit_as_python_does():
    done = run_script("--broken-stdout")
    assert done.returncode == 120


def test_importing_the_render_cli_leaves_the_collector_alone():
    # This module imported tools.render, as the other tests do: only its __main__ block
    # (`python -m tools.render`) may switch the collector off.
    assert render_module.__name__ == "tools.render"
    assert gc.isenabled()


def test_the_lean_render_cli_writes_everything_and_says_so(tmp_path: Path):
    stack = "dev"
    out = tmp_path / stack
    done = subprocess.run(
        [sys.executable, "-m", "tools.render", stack, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = render_module.render(stack).manifests
    assert sorted(p.name for p in out.glob("*.yaml")) == sorted(expected)
    # Output is flushed before the process ends: the summary's last line is there.
    assert done.stdout.splitlines()[-1] == f"wrote {len(expected)} objects to {out}"


def test_the_program_tells_the_engine_from_the_mock_runtime():
    # Under the engine the monitor is a gRPC stub (the channel connects lazily, so none is
    # needed here); under the mocks the tests and the render use, it is the mock monitor.
    code = textwrap.dedent(
        """
        import pulumi
        from tools.harness import ProviderMocks
        from components.runtime import under_engine

        pulumi.runtime.set_mocks(ProviderMocks())
        print("mocks", under_engine())
        engine = pulumi.runtime.Settings(monitor="127.0.0.1:1", project="p", stack="s")
        pulumi.runtime.configure(engine)
        print("engine", under_engine())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["mocks False", "engine True"]
