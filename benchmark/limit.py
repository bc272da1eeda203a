"""The benchmark's floors: `python -m benchmark.limit MODE`, one process per measurement.

Every mode turns garbage collection off before its first import and exits without interpreter
teardown once its output is flushed (tools/process.py), so that the floors differ from each other
and from the render only in what they load and do:

- `import`: import `pulumi` and `pulumi_kubernetes`, nothing else: what any Pulumi Python program
  deploying to Kubernetes pays before it does anything.
- `types --modules core.v1 apps.v1 ...`: also the `pulumi_kubernetes` type modules the program's
  objects live in. The package loads them lazily, at a program's first use of one of their
  classes, so the `import` floor never pays for them; any program creating those kinds does.
- `limit --inputs FILE`: register exactly the objects of a dump (`benchmark.driver dump`: same
  types, names, parents, dependencies and input values, secrets as secret outputs, components
  as plain `ComponentResource`s) with the SDK's own classes under a trivial mock, wait for every
  registration, and exit. Nothing of the project but `benchmark/bare.py` is loaded: this is
  the least any program registering these objects can cost, the physical limit for the render.
- `pydantic`: the `import` floor plus importing pydantic (v2), defining twelve small models
  shaped like a stack config and validating one document: what a pydantic config layer would add
  to any run, on top of floor 1. Informational: the render validates with the config model,
  so it pays this too (docs/benchmark.md).

Exit codes: 0 done; 2 bad arguments.
"""

import gc

# Before any other import: import-time collections are part of what the limit is spared.
gc.disable()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import pulumi  # noqa: E402
import pulumi_kubernetes  # noqa: E402, F401 - the floor is importing it

from tools.process import exit_without_teardown  # noqa: E402

PROJECT = "notification-delivery"


class TrivialMocks(pulumi.runtime.Mocks):
    """Every object is created with its inputs as its state; nothing is recorded."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def register_all(records: list[dict]) -> None:
    """Register `records` the way `pulumi.runtime.test` runs a test: until every RPC is done."""
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from benchmark import bare

    pulumi.runtime.set_mocks(TrivialMocks(), project=PROJECT, stack="bench", preview=False)
    ordered = bare.ordered(records)
    _sync_await(run_pulumi_func(lambda: bare.register(ordered)))
    # Join the SDK's idle worker threads, as the render does (tools.harness.shutdown); a live
    # non-daemon thread would make the exit wait for it and tear the heap down.
    loop = asyncio.get_event_loop()
    loop.run_until_complete(loop.shutdown_default_executor())


def pydantic_config() -> object:
    """Twelve small models of a stack config's shape, and one document validated with them."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class Registry(Model):
        server: str = "docker.io/example"
        username: str | None = None
        password: str | None = None

    class Autoscaling(Model):
        min_replicas: int = Field(2, ge=1, alias="minReplicas")
        max_replicas: int = Field(ge=1, alias="maxReplicas")
        target_cpu: int = Field(70, ge=1, le=100, alias="targetCPUUtilizationPercentage")

    class Quantities(Model):
        cpu: str | None = None
        memory: str | None = None

    class Resources(Model):
        requests: Quantities = Quantities()
        limits: Quantities = Quantities()

    class Probe(Model):
        initial_delay_seconds: int = Field(5, ge=0, alias="initialDelaySeconds")
        period_seconds: int = Field(10, ge=1, alias="periodSeconds")
        failure_threshold: int = Field(3, ge=1, alias="failureThreshold")

    class Probes(Model):
        path: str | None = None
        port: int | None = None
        startup: Probe = Field(default_factory=lambda: Probe.model_validate({}))
        readiness: Probe = Field(default_factory=lambda: Probe.model_validate({}))
        liveness: Probe = Field(default_factory=lambda: Probe.model_validate({}))

    class Build(Model):
        context: str
        dockerfile: str = "Dockerfile"
        platform: str = "linux/amd64"

    class Service(Model):
        replicas: int = Field(1, ge=0)
        env: dict[str, str] = {}
        autoscaling: Autoscaling | None = None
        resources: Resources = Resources()
        probes: Probes = Probes()
        iam_role_arn: str | None = Field(None, alias="iamRoleArn")
        service_type: Literal["ClusterIP", "NodePort"] = Field("ClusterIP", alias="serviceType")
        node_port: int | None = Field(None, ge=30000, le=32767, alias="nodePort")
        build: Build | None = None

    class External(Model):
        database_host: str | None = Field(None, alias="databaseHost")
        database_hosts: dict[str, str] = Field({}, alias="databaseHosts")
        aws_account_id: str | None = Field(None, pattern=r"^\d{12}$", alias="awsAccountId")

    class Network(Model):
        ingress_namespace: str = Field("kong", alias="ingressNamespace")
        ingress_cidrs: list[str] = Field([], alias="ingressCidrs")

    class Rollout(Model):
        timeout_seconds: int = Field(600, ge=1, alias="timeoutSeconds")
        min_ready_seconds: int = Field(10, ge=0, alias="minReadySeconds")
        skip_await: bool = Field(False, alias="skipAwait")

    class StackConfig(Model):
        environment: str
        prefix: str
        version: str = "1.0.0"
        registry: Registry = Registry()
        external_services: External = Field(
            default_factory=lambda: External.model_validate({}), alias="externalServices"
        )
        network: Network = Field(default_factory=lambda: Network.model_validate({}))
        rollout: Rollout = Field(default_factory=lambda: Rollout.model_validate({}))
        services: dict[str, Service] = {}

    return StackConfig.model_validate(
        {
            "environment": "development",
            "prefix": "dev",
            "externalServices": {"databaseHost": "db.example.com", "awsAccountId": "1" * 12},
            "services": {
                "reminder-service": {"replicas": 2, "env": {"LOG_LEVEL": "info"}},
                "event-service": {"autoscaling": {"maxReplicas": 4}},
                "notification-service": {"probes": {"path": "/docs"}},
            },
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.limit")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("import", help="import pulumi and pulumi_kubernetes")
    types = sub.add_parser("types", help="also import these pulumi_kubernetes type modules")
    types.add_argument("--modules", nargs="+", required=True, help="e.g. core.v1 apps.v1")
    limit = sub.add_parser("limit", help="register a dump's objects with the SDK's classes")
    limit.add_argument("--inputs", type=Path, required=True)
    sub.add_parser("pydantic", help="also import pydantic and define twelve small models")
    args = parser.parse_args(argv)

    if args.mode == "types":
        for module in args.modules:
            importlib.import_module(f"pulumi_kubernetes.{module}")
    elif args.mode == "limit":
        register_all(json.loads(args.inputs.read_text()))
    elif args.mode == "pydantic":
        pydantic_config()
    return 0


if __name__ == "__main__":
    exit_without_teardown(main())
