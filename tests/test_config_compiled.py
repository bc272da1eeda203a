"""The compiled validator (components/config/compiled.py) against the model it is compiled from.

The loader validates with the compiled schema so that a run never imports pydantic. That is only
sound if the compiled validator accepts, converts and refuses exactly what
`StackSettings.model_validate` does: these tests hold the two to that on every committed stack
and on a few hundred broken variants of them, and check the compiler refuses what it cannot
write down.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import typing
from typing import Any

import pydantic_core
import pytest
from pydantic import BaseModel, ValidationError

from components.config import compiled, loading, rules
from components.config.model import Service, StackSettings, unwrap
from components.config.record import Record, record
from components.config.stack_file import is_secure, project_values, stack_file_config
from components.conventions import PROJECT
from tools import config_compiler
from tools.stack_config import ROOT, committed_stacks

RICH_SERVICE = {
    "replicas": "2",
    "env": {"LOG_LEVEL": "debug", "RETRIES": 3, "VERBOSE": True},
    "resources": {"requests": {"cpu": "100m", "memory": 128}, "limits": {"memory": "256Mi"}},
    "probes": {"path": "/health", "startup": {"failureThreshold": 10}, "liveness": {}},
    "serviceType": "NodePort",
    "nodePort": 30080.0,
    "build": {"context": "./app", "platform": "linux/amd64"},
}


def _plain(value: Any) -> Any:
    """A model instance or a record as (class name, fields, fields set), recursively."""
    if isinstance(value, (BaseModel, Record)):
        fields = value.__dict__
        return (
            type(value).__name__,
            {k: _plain(v) for k, v in fields.items()},
            sorted(value.__pydantic_fields_set__),
        )
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_plain(v) for v in value])
    return (type(value).__name__, value)


def _outcome(validate: Any, values: Any) -> Any:
    try:
        return ("valid", _plain(validate(values)))
    except ValidationError as error:
        return (
            "invalid",
            [
                (e["type"], e["loc"], e["msg"], repr(e.get("input")))
                for e in error.errors(include_url=False)
            ],
        )


def _stack_values(stack: str) -> dict[str, Any]:
    values = project_values(stack_file_config(ROOT / f"Pulumi.{stack}.yaml"), PROJECT)

    def reveal(value: Any) -> Any:
        if is_secure(value):
            return "s3cret"
        if isinstance(value, dict):
            return {k: reveal(v) for k, v in value.items()}
        return value

    return reveal(values)


def _bases() -> list[dict[str, Any]]:
    bases = [_stack_values(stack) for stack in committed_stacks()]
    rich = copy.deepcopy(bases[0])
    rich["services"] = {
        "event-service": RICH_SERVICE,
        "reminder-service": {"autoscaling": {"maxReplicas": 4}, "image": "nginx:1.27"},
    }
    rich["ingress"] = {"host": "api.example.com", "tlsSecretName": "api-tls"}
    rich["quota"] = {"pods": 20, "requests.cpu": "2"}
    rich["limitRange"] = {"max": {"memory": "1Gi"}}
    rich["production"] = "true"
    return [*bases, rich]


def test_every_committed_stack_validates_to_the_same_values_as_the_model() -> None:
    for values in _bases():
        expected = _outcome(StackSettings.model_validate, values)
        assert expected[0] == "valid", expected
        assert _outcome(compiled.validate, values) == expected


JUNK = [
    None,
    True,
    "true",
    "",
    "x",
    "Bad_Name",
    0,
    -1,
    2.5,
    "3",
    2**40,
    [],
    ["a"],
    {},
    {"unknownKey": 1},
    "100m",
    "10.0.0.0/8",
    "NodePort",
    "https://sqs.us-east-1.amazonaws.com/123456789012/q",
]


def _field_paths(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key the model declares, as alias paths; a map's values under a sample key."""
    found = []
    for name, field in model.model_fields.items():
        key = (*path, field.alias or name)
        found.append(key)
        inner = unwrap(field.annotation)
        while typing.get_origin(inner) is dict:
            key = (*key, "event-service")
            found.append(key)
            inner = unwrap(typing.get_args(inner)[1])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found += _field_paths(inner, key)
    return found


def _with(base: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    values = copy.deepcopy(base)
    node = values
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)
    return values


def test_every_key_refuses_and_converts_exactly_as_the_model_does() -> None:
    base = _bases()[-1]
    paths = _field_paths(StackSettings)
    assert len(paths) > 80, paths  # every nested section is walked, not only the top level
    outcomes = {"valid": 0, "invalid": 0}
    for path in paths:
        unknown = (*path[:-1], "unknownKey")
        for values in [_with(base, path, junk) for junk in JUNK] + [_with(base, unknown, 1)]:
            expected = _outcome(StackSettings.model_validate, values)
            assert _outcome(compiled.validate, values) == expected, (path, values)
            outcomes[expected[0]] += 1
    # Both sides are exercised: values the model takes (converted) and values it refuses.
    assert outcomes["invalid"] > 1000 and outcomes["valid"] > 100, outcomes


def test_default_service_is_the_models_default() -> None:
    assert _plain(compiled.default_service()) == _plain(Service.model_validate({}))
    assert loading.default_service() == compiled.default_service()


def test_records_are_read_only_values() -> None:
    settings = compiled.validate({"environment": "dev", "prefix": "dev"})
    assert isinstance(settings, compiled.StackSettings)
    with pytest.raises(AttributeError, match="StackSettings is read-only: cannot set 'prefix'"):
        settings.prefix = "prod"
    with pytest.raises(AttributeError, match="read-only"):
        del settings.prefix
    assert settings == compiled.validate({"prefix": "dev", "environment": "dev"})
    assert settings != compiled.validate({"environment": "dev", "prefix": "qa"})
    # Only the fields are in the instance's dict: a section reads as a mapping of its fields.
    assert set(vars(settings)) == set(StackSettings.model_fields)
    assert sorted(settings.__pydantic_fields_set__) == ["environment", "prefix"]
    timing = record(compiled.ProbeTiming, {"period_seconds": 5})
    assert repr(timing) == "ProbeTiming(period_seconds=5)"
    assert hash(timing) == hash(record(compiled.ProbeTiming, {"period_seconds": 5}))


def test_the_model_validates_when_pydantic_core_is_not_the_compiled_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = _bases()[-1]
    compiled_result = _plain(loading.validate(values))
    monkeypatch.setattr(compiled, "VALIDATOR", None)
    assert isinstance(loading.validate(values), StackSettings)
    assert _plain(loading.validate(values)) == compiled_result
    assert isinstance(loading.default_service(), Service)
    with pytest.raises(RuntimeError, match="compiled for pydantic-core"):
        compiled.validate(values)


def test_compiled_for_the_installed_pydantic_core() -> None:
    # requirements.txt pins pydantic exactly; a different pydantic-core means a stale file.
    assert pydantic_core.__version__ == compiled.PYDANTIC_CORE_VERSION
    assert compiled.VALIDATOR is not None


def test_a_render_does_not_import_pydantic() -> None:
    script = (
        "import sys\n"
        "from tools import render\n"
        "render.render('dev')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_config_error_still_names_the_allowed_keys() -> None:
    # The error path imports the model for the key names (tests/test_config_loading.py has the
    # messages); here only that it works from the compiled validator's errors.
    with pytest.raises(loading.ConfigError, match=r"rollout\.timeoutSecs: unknown key; did you"):
        loading.load({"environment": "dev", "prefix": "dev", "rollout": {"timeoutSecs": 5}})


def test_the_compiler_refuses_what_it_cannot_name() -> None:
    writer = config_compiler._Writer()
    with pytest.raises(config_compiler.CompileError, match="services.env: validator .* is not"):
        writer.function(lambda value: value, "services.env")
    with pytest.raises(config_compiler.CompileError, match="quota: cannot write object"):
        writer.value(object(), "", "quota")
    assert writer.function(rules.check_dns_label, "environment") == "rules.check_dns_label"
