"""Shared helpers: stack config as the CLI would hand it over, and runs of the real program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.catalog import CATALOG
from tools.harness import ProgramRun, ProviderMocks, run_program
from tools.stack_config import ROOT, StackConfig, load_stack

STACKS_HERE = ", ".join(
    sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
)
"""The stack files in the checkout, as a missing stack's message lists them."""


def secret_value(service: str, name: str) -> str:
    """A distinctive value per secret, easy to search for in anything the program emits."""
    return f"s3cr3t-{service}-{name}-7f3a9c"


def all_secrets() -> dict[str, dict[str, str]]:
    return {
        spec.name: {name: secret_value(spec.name, name) for name in spec.required_secrets}
        for spec in CATALOG.values()
    }


def stack_with_secrets(stack: str = "dev") -> StackConfig:
    """The committed stack file plus every required secret, marked secret as `--secret` does."""
    return load_stack(stack).with_secrets(all_secrets())


class CountingMocks(ProviderMocks):
    """Provider stand-in that also remembers every resource it was asked to create."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def new_resource(self, args):  # type: ignore[override]
        self.created.append(f"{args.typ}::{args.name}")
        return super().new_resource(args)


@pytest.fixture
def run() -> Callable[[StackConfig], ProgramRun]:
    def _run(config: StackConfig) -> ProgramRun:
        return run_program(config)

    return _run


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    return run_program(stack_with_secrets("dev"))


@pytest.fixture(scope="session")
def prod_run() -> ProgramRun:
    return run_program(stack_with_secrets("prod"))


@pytest.fixture(scope="session")
def staging_run() -> ProgramRun:
    return run_program(stack_with_secrets("staging"))


def edited(config: StackConfig, path: str, value: Any) -> StackConfig:
    return config.edited(path, value)
