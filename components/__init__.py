"""Reusable Pulumi components of the notification-delivery deployment program.

Imported on first use (`from components import Microservice` still works), so that a module of
plain names such as `components.conventions` loads without the Pulumi SDK: the policy pack reads
it and runs without the program's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.environment import Environment, EnvironmentArgs
    from components.microservice import Microservice, MicroserviceArgs
    from components.program import Deployed, deploy

__all__ = [
    "Deployed",
    "Environment",
    "EnvironmentArgs",
    "Microservice",
    "MicroserviceArgs",
    "deploy",
]

_HOMES = {
    "Deployed": "components.program",
    "deploy": "components.program",
    "Environment": "components.environment",
    "EnvironmentArgs": "components.environment",
    "Microservice": "components.microservice",
    "MicroserviceArgs": "components.microservice",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
