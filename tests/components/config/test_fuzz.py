"""No value anywhere in a stack file ends in a Python exception.

Each key the model declares, at every depth, is set in turn to an arbitrary value of any type a
stack file can hold (YAML's scalars, lists and mappings, and text shaped like the grammars the
rules apply); the loader must either accept the stack or refuse it with `ConfigError`'s one line,
never let another exception (a traceback under `pulumi up`) escape.
"""

from __future__ import annotations

import copy
import os
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from components.catalog import CATALOG
from components.config import ConfigError
from components.config.errors import PREFIX
from components.config.loading import load
from components.config.model import StackSettings, unwrap
from tests.conftest import stack_with_secrets
from tools.stack_config import ROOT

# A key for each mapping whose keys the stack chooses, so the walk reaches the values below it.
_MAP_KEYS = {
    "services": sorted(CATALOG)[0],
    "secrets": sorted(CATALOG)[0],
    "env": "LOG_LEVEL",
    "quota": "requests.cpu",
    "databaseHosts": "reminders",
}


def key_paths(model: type[BaseModel] = StackSettings, prefix: tuple[str, ...] = ()) -> list:
    """Every key the model declares, as the path a stack file writes it at."""
    paths = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = (*prefix, key)
        paths.append(path)
        node = unwrap(field.annotation)
        if typing.get_origin(node) is dict and key in _MAP_KEYS:
            paths.append((*path, _MAP_KEYS[key]))
            node = unwrap(typing.get_args(node)[1])
            if typing.get_origin(node) is dict:  # secrets.<service>.<VAR>
                paths.append((*path, _MAP_KEYS[key], "DB_PASS"))
            path = (*path, _MAP_KEYS[key])
        if isinstance(node, type) and issubclass(node, BaseModel):
            paths += key_paths(node, path)
    return paths


PATHS = key_paths()

# Text built from the characters the grammars care about: quantities' digits, signs, exponents
# and suffixes, names' '.', '-', '_', images' '/', ':', '@', hosts' '*', URLs' '://'.
_GRAMMAR_TEXT = st.text(
    alphabet="0123456789eE.+-_kKMGTPmi/:@*aszAZ x[]%",
    max_size=40,
)
_EDGE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "1e999999999",
        "1e-999999999",
        "9" * 5000,
        "1E9999999999999999999",
        "-0",
        ".",
        "0x10",
        "nan",
        "inf",
        "Infinity",
        "\x00",
        "\u00e9",
        "https://",
        "sha256:",
        "a@sha256:" + "0" * 64,
        "*.",
        "::",
        "0.0.0.0/0",
        "[::1]",
    ]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | _GRAMMAR_TEXT
    | _EDGE_TEXT
)
VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def set_path(values: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `values` with `path` set, as `pulumi config set --path` would set it."""
    result = copy.deepcopy(values)
    node = result
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return result


BASE = stack_with_secrets("dev")


def load_stack_values(values: dict[str, Any]) -> None:
    load(
        values,
        secret_keys=BASE.secret_keys,
        project_dir=ROOT,
        stand_in_secrets=True,
        offline=True,
    )


def load_or_refuse(values: dict[str, Any]) -> None:
    """Load the stack; a refusal must be the one-line `ConfigError` naming a key."""
    try:
        load_stack_values(values)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(PREFIX), message
        assert "\n" not in message, message
        assert "Traceback" not in message, message
        assert len(message) > len(PREFIX), message


def test_the_walk_reaches_every_depth():
    # A walk that silently stopped at the top level would make the property below vacuous.
    dotted = {".".join(p) for p in PATHS}
    assert "services.event-service.resources.limits.memory" in dotted
    assert "services.event-service.probes.startup.periodSeconds" in dotted
    assert "externalServices.databaseHosts.reminders" in dotted
    assert "quota.requests.cpu" in dotted
    assert "secrets.event-service.DB_PASS" in dotted
    assert "limitRange.max.cpu" in dotted


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "600")),  # more: FUZZ_EXAMPLES=8000
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(path=st.sampled_from(PATHS), value=VALUES)
@example(path=("services", "event-service", "resources", "requests", "cpu"), value="1e999999999")
@example(path=("quota", "requests.cpu"), value="1E9999999999999999999")
@example(path=("services", "event-service", "build", "context"), value="9" * 5000)
@example(path=("services", "event-service", "build", "dockerfile"), value="a/" + "b" * 300)
@example(path=("cluster",), value={"\n": None})
def test_no_value_anywhere_ends_in_an_exception(path: tuple[str, ...], value: Any):
    load_or_refuse(set_path(BASE.values, path, value))


# The inputs the property found, each with the line it must now end in.
CRASHES = {
    # decimal.Overflow out of parse_quantity.
    "quantity beyond a decimal": (
        ("quota", "requests.cpu"),
        "1E9999999999999999999",
        "quota.requests.cpu: '1E9999999999999999999' is out of range for a quantity; write the "
        "amount with a suffix, e.g. 500m, 4, 64Gi",
    ),
    # OSError (ENAMETOOLONG) out of Path.is_dir.
    "build context too long to look up": (
        ("services", "event-service", "build", "context"),
        "9" * 300,
        f"services.event-service.build.context: {'9' * 300!r} is not a folder",
    ),
    # A raw line break in the message, breaking the one-line contract.
    "line break in a key": (
        ("cluster",),
        {"context": "c", "\n": 1},
        "cluster.\\n: unknown key (allowed: context, server)",
    ),
}


@pytest.mark.parametrize("case", sorted(CRASHES))
def test_the_inputs_that_crashed_end_in_one_line(case: str):
    path, value, line = CRASHES[case]
    with pytest.raises(ConfigError) as error:
        load_stack_values(set_path(BASE.values, path, value))
    assert str(error.value) == PREFIX + line


@pytest.mark.parametrize("path", PATHS, ids=".".join)
def test_every_key_refuses_a_wrong_type_in_one_line(path: tuple[str, ...]):
    # A mapping fits nowhere a scalar goes, and a list nowhere at all: each key must say so.
    for value in ({"x": {"y": 1}}, [1, [2]]):
        load_or_refuse(set_path(BASE.values, path, value))
