"""The benchmark's synthetic environment, and the program run over a catalog of its own.

`services(N)` and `stack(services)` describe one environment of N services with every feature on;
`program(values, catalog=...)` is what `__main__.py` does (load the config, deploy it, export
its outputs), with the catalog passed to `components.config.load` instead of read from
`components.catalog`. Nothing here swaps a module global: the real catalog stays as it is for
everything else in the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pulumi

from components.catalog import CATALOG, ServiceSpec
from components.config import load
from components.conventions import PROJECT
from components.program import deploy, stack_outputs
from tools.stack_config import StackConfig


def services(count: int) -> dict[str, ServiceSpec]:
    """`count` services shaped like the real three, cycling through their shapes.

    Each copy keeps its template's kind (HTTP or worker), probe, AWS resources, required
    variables and secrets, but gets a database of its own, so that the environment's per-database
    objects (one ExternalName Service each) grow with the catalog as they would in real life.
    """
    templates = list(CATALOG.values())
    copies: dict[str, ServiceSpec] = {}
    for index in range(count):
        template = templates[index % len(templates)]
        name = f"{template.name}-{index:03d}"
        database = f"{template.database}{index:03d}"
        # A copy of the template with only what must differ: any field the catalog grows is kept.
        copies[name] = replace(
            template,
            name=name,
            description=f"synthetic copy of {template.name}",
            database=database,
            ingress_path=f"{template.ingress_path}-{index:03d}" if template.ingress_path else None,
            env=MappingProxyType({**template.env, "DB_NAME": database}),
        )
    return copies


def stack(services: Mapping[str, ServiceSpec]) -> StackConfig:
    """One environment running `services` with every optional feature on.

    Autoscaling (which also brings a PodDisruptionBudget, min 2 replicas), an Ingress with TLS,
    an IRSA role per service, the environment's network policies plus each HTTP service's
    ingress allow, and an external database host per service.
    """
    count = len(services)
    service_config = {
        name: {
            "autoscaling": {
                "minReplicas": 2,
                "maxReplicas": 4,
                "targetCPUUtilizationPercentage": 70,
            },
            "iamRoleArn": f"arn:aws:iam::123456789012:role/bench-{name}",
            "env": {"LOG_LEVEL": "info"},
        }
        for name in services
    }
    # With an IRSA role the static AWS keys are not required, so only the rest is given.
    secrets = {
        name: {
            secret: f"bench-{name}-{secret}"
            for secret in spec.required_secrets
            if not secret.startswith("AWS_")
        }
        for name, spec in services.items()
    }
    values: dict[str, Any] = {
        "environment": "bench",
        "prefix": "bench",
        "cluster": {"context": "bench"},
        "version": "1.0.0",
        "externalServices": {
            "databaseHosts": {
                spec.database: f"{spec.database}.bench.rds.amazonaws.com"
                for spec in services.values()
            },
            "awsAccountId": "123456789012",
            "eventStore": "bench-event-store",
        },
        "services": service_config,
        "secrets": secrets,
        "ingress": {"enabled": True, "host": "bench.example.com", "tlsSecretName": "bench-tls"},
        # Large enough for every service at full scale, so the quota check passes at any size.
        "quota": {
            "requests.cpu": str(count * 10),
            "requests.memory": f"{count * 10}Gi",
            "limits.memory": f"{count * 20}Gi",
            "pods": str(count * 10),
        },
    }
    return StackConfig(project=PROJECT, stack="bench", values=values, secret_keys={"secrets"})


def program(
    values: Mapping[str, Any],
    *,
    catalog: Mapping[str, ServiceSpec],
    secret_keys: frozenset[str] | set[str] = frozenset({"secrets"}),
    stand_in_secrets: bool = False,
    offline: bool = False,
) -> Callable[[], None]:
    """`__main__.py` with `catalog` for the services: for `tools.harness.run_program(program=)`.

    The config is loaded inside the returned function, as `__main__.py` loads it inside the
    run, so a timed run includes the checks. `stand_in_secrets` and `offline` load it as an
    offline render does (`tools.render`): a missing secret reads `[secret]`, no cluster pinned.
    """

    def run() -> None:
        loaded = load(
            values,
            secret_keys=secret_keys,
            catalog=catalog,
            stand_in_secrets=stand_in_secrets,
            offline=offline,
        )
        for key, value in stack_outputs(deploy(loaded)).items():
            pulumi.export(key, value)

    return run
