"""What the program deploys, as files: the committed stacks' renders must match tests/golden/."""

from __future__ import annotations

import pytest

from tools import golden

STACKS = golden.committed_stacks()


def test_every_committed_stack_has_a_golden_render():
    assert sorted(p.name for p in golden.GOLDEN.iterdir() if p.is_dir()) == STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_the_golden_files(stack):
    assert not golden.stale(stack), f"run `python -m tools.golden --write` ({stack} changed)"


def test_a_changed_golden_file_is_caught(tmp_path):
    stack = STACKS[0]
    folder = tmp_path / stack
    folder.mkdir()
    for name, text in golden.expected(stack).items():
        (folder / name).write_text(text)
    assert not golden.stale(stack, golden=tmp_path)
    first = sorted(folder.glob("*.yaml"))[0]
    first.write_text(first.read_text().replace("name:", "name: x", 1))
    assert golden.stale(stack, golden=tmp_path)
