"""The program as a function: `deploy(loaded)` with a catalog of the caller's own, and
component args that carry only what one component needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pulumi

from components.args import Sensitive
from components.catalog import CATALOG
from components.config import load
from components.program import deploy, stack_outputs
from tests.conftest import all_secrets, secret_value
from tools.harness import run_program
from tools.stack_config import load_stack


def test_deploy_takes_settings_loaded_against_a_catalog_of_its_own():
    template = CATALOG["reminder-service"]
    catalog = {
        name: dataclasses.replace(
            template,
            name=name,
            database=f"{name}-db",
            env=MappingProxyType({**template.env, "DB_NAME": f"{name}-db"}),
        )
        for name in ("audit-service", "billing-service")
    }
    config = load_stack("dev")
    values = dict(config.values)
    values["services"] = {}
    values["secrets"] = {
        name: {secret: f"s-{name}-{secret}" for secret in spec.required_secrets}
        for name, spec in catalog.items()
    }

    def program() -> None:
        loaded = load(values, secret_keys={"secrets"}, catalog=catalog)
        for key, value in stack_outputs(deploy(loaded)).items():
            pulumi.export(key, value)

    run = run_program(config, program=program)
    deployments = {r.name for r in run.kubernetes() if r.kind == "Deployment"}
    assert deployments == {"dev-audit-service", "dev-billing-service"}
    assert set(run.outputs["services"]) == set(catalog)
    assert set(CATALOG) == {"reminder-service", "event-service", "notification-service"}


def test_component_args_carry_no_other_services_secrets():
    values = dict(load_stack("dev").values)
    values["secrets"] = all_secrets()
    loaded = load(values, secret_keys={"secrets"})
    args = next(s for s in loaded.services if s.name == "event-service")
    reachable = set(_secrets_in(args))
    assert secret_value("event-service", "DB_PASS") in reachable
    for other in ("reminder-service", "notification-service"):
        assert secret_value(other, "DB_PASS") not in reachable
    assert set(_secrets_in(loaded.environment)) == set()


def _secrets_in(value: object) -> Iterator[str]:
    """Every secret value reachable from `value` through fields, mappings and sequences."""
    if isinstance(value, Sensitive):
        yield value.value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _secrets_in(getattr(value, item.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secrets_in(item)


def test_exported_names_are_the_names_of_the_registered_objects():
    # The program exports the names it sets (Deployment, Service, ConfigMap) without reading
    # them back from the objects; they must still be the objects' own, in every stack.
    from tools.render import render
    from tools.stack_config import committed_stacks

    for stack in committed_stacks():
        run = render(stack).run
        names = {(r.kind, r.state["metadata"]["name"]) for r in run.kubernetes()}
        exported = run.outputs["services"]
        for name, outputs in exported.items():
            assert ("Deployment", outputs["deployment"]) in names, (stack, name)
            if outputs["service"] is not None:
                assert ("Service", outputs["service"]) in names, (stack, name)
        for name, config_map in run.outputs["release"]["configMaps"].items():
            assert ("ConfigMap", config_map) in names, (stack, name)
        assert len(exported) == sum(1 for kind, _ in names if kind == "Deployment"), stack
