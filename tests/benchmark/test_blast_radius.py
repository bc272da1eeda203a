"""Each kind of single change touches exactly the objects it must, and no other.

The rows are `benchmark.blast`'s: each renders an environment before and after one change,
classifies every object with `tools.changes.compare` and sets the result beside the fewest
objects that change has to touch (written out per row, with why). A row that touches more is a
bug in the program (its blast radius grew); one that touches fewer fails to deliver the change.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmark.blast import ROWS, BlastRow


@pytest.mark.parametrize("row", ROWS, ids=[row.__name__ for row in ROWS])
def test_a_change_touches_exactly_the_objects_it_must(row: Callable[[], BlastRow]) -> None:
    result = row()
    assert (result.extra, result.missing) == ([], []), result.why
    assert result.verdict == "ok"
    assert result.counts == result.minimum, result.change
