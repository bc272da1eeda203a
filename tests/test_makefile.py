"""`make help` lists every target the Makefile offers, from its `##` lines."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tools.stack_config import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def phony_targets() -> list[str]:
    (line,) = [line for line in MAKEFILE.splitlines() if line.startswith(".PHONY:")]
    return line.removeprefix(".PHONY:").split()


def test_every_target_has_a_help_line_before_it() -> None:
    for target in phony_targets():
        assert re.search(
            rf"^## {re.escape(target)}: .+\n(## .*\n)*{re.escape(target)}:", MAKEFILE, re.M
        ), target


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target_once_with_its_description() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = [line.split(":", 1)[0] for line in lines if not line.startswith(" ")]
    assert sorted(listed) == sorted(phony_targets())
    expected = [
        re.sub(r"^## ([a-z0-9-]+:)", r"\1", line).replace("## ", "    ", 1)
        for line in MAKEFILE.splitlines()
        if line.startswith("## ")
    ]
    assert lines == expected
    assert "    a local `--policy-pack policy` installs nothing itself" in lines
