"""The harness reads a stack's exports back exactly as the SDK's `Output.from_input` would."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.output import UNKNOWN

from tools.harness import ProviderMocks, is_unknown, settle


async def _value(value: Any) -> Any:
    return value


def _output(value: Any, *, known: bool = True, secret: bool = False) -> pulumi.Output[Any]:
    """An Output as a resource gives one: a value that may be unknown (a preview) or secret."""
    return pulumi.Output(set(), _value(value), _value(known), _value(secret))


# Each case builds its value inside the run: an Output belongs to the event loop it is made on.
CASES = {
    "plain": lambda: {"version": "1.0.0", "replicas": 2, "autoscaling": None, "empty": {}},
    "nested outputs": lambda: {
        "services": {"a": {"deployment": _output("dev-a"), "image": _output("x:1")}},
        "list": [_output(1), 2, [_output(3)]],
        "tuple": (_output("t"), "u"),
    },
    "an output of a nested value": lambda: _output({"a": [_output("b")]}),
    "a secret deep inside": lambda: {"a": {"b": [_output("s", secret=True)]}, "c": "plain"},
    "unknown in a preview": lambda: {"image": _output(None, known=False), "name": "dev-a"},
    "unknown holding a value": lambda: _output({"name": "n"}, known=False),
    "unknown already marked": lambda: _output([UNKNOWN, "x"], known=False),
}


@pytest.fixture
def mocks() -> None:
    pulumi.runtime.set_mocks(ProviderMocks(), project="notification-delivery", stack="dev")


@pytest.mark.parametrize("case", CASES)
@pulumi.runtime.test
def test_settle_reads_a_value_as_from_input_does(mocks, case):
    async def compare() -> None:
        expected_output = pulumi.Output.from_input(CASES[case]())
        expected = await expected_output.future(with_unknowns=True)
        expected_secret = await expected_output.is_secret()
        assert await settle(CASES[case]()) == (expected, expected_secret)

    return compare()


@pulumi.runtime.test
def test_settle_marks_unknowns_and_secrets(mocks):
    async def check() -> None:
        value, secret = await settle({"image": _output(None, known=False), "n": _output("n")})
        assert is_unknown(value["image"]) and value["n"] == "n" and secret is False
        value, secret = await settle([_output("p", secret=True)])
        assert value == ["p"] and secret is True

    return check()
