"""One measurement of the benchmark, in a process of its own: `python -m benchmark.driver ...`.

Modes (`program` and `bare` print one JSON line on stdout: `{"objects", "kubernetes", "seconds",
"cpu_seconds"}`, wall and CPU time of the program run alone):

- `program --services N [--dump FILE]`: swap `components.catalog.CATALOG` for N synthetic services
  with every feature on, run the real `__main__.py` under the mock runtime
  (`tools.harness.run_program`) and time that run alone. `--dump` writes what was registered
  (type, name, parent, inputs) so that `bare` can register exactly the same objects.
- `bare --inputs FILE`: run `benchmark/bare.py` under the same mock runtime: it registers the
  dumped objects with the SDK's own classes and nothing else, which is the SDK's cost for them.
- `dump STACK --out FILE`: render a committed stack as `tools.render` does and write the same
  dump, for the limit process of `benchmark.limit`; prints `{"objects", "kubernetes",
  "modules"}`, the last being the `pulumi_kubernetes` type modules the objects live in.

Both timed modes run as the project's CLIs do (tools/process.py): no garbage-collection passes
from the start of `main` and no interpreter teardown, so that the two are treated alike and
neither pays for collections the other is spared.

A fresh process per measurement keeps one size's garbage, caches and peak memory out of the next,
and lets the caller read the peak RSS of exactly this run.

Exit codes: 0 done; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchmark import bare
from components import catalog
from components.catalog import ServiceSpec
from tools.harness import ProgramRun, is_secret, run_program, shutdown
from tools.process import run_cli
from tools.render import render
from tools.stack_config import ROOT, StackConfig

BARE_MAIN = Path(__file__).with_name("bare.py")

PROJECT = "notification-delivery"


def synthetic_catalog(count: int) -> dict[str, ServiceSpec]:
    """`count` services shaped like the real three, cycling through their shapes.

    Each copy keeps its template's kind (HTTP or worker), probe, AWS resources, required
    variables and secrets, but gets a database of its own, so that the environment's per-database
    objects (one ExternalName Service each) grow with the catalog as they would in real life.
    """
    templates = list(catalog.CATALOG.values())
    services: dict[str, ServiceSpec] = {}
    for index in range(count):
        template = templates[index % len(templates)]
        name = f"{template.name}-{index:03d}"
        database = f"{template.database}{index:03d}"
        # A copy of the template with only what must differ: any field the catalog grows is kept.
        services[name] = replace(
            template,
            name=name,
            description=f"synthetic copy of {template.name}",
            database=database,
            ingress_path=f"{template.ingress_path}-{index:03d}" if template.ingress_path else None,
            env=MappingProxyType({**template.env, "DB_NAME": database}),
        )
    return services


def synthetic_config(services: Mapping[str, ServiceSpec]) -> StackConfig:
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


def _plain(value: Any) -> Any:
    """Recorded wire values to JSON, each secret envelope as `{bare.SECRET_KEY: value}`."""
    if is_secret(value):
        return {bare.SECRET_KEY: _plain(value["value"])}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_run(run: ProgramRun, path: Path) -> None:
    """What `benchmark/bare.py` needs to register the same objects."""
    records = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "custom": r.custom,
            "inputs": _plain(r.inputs),
        }
        for r in run.resources
    ]
    path.write_text(json.dumps(records))


def _report(run: ProgramRun, seconds: float, cpu_seconds: float) -> None:
    print(
        json.dumps(
            {
                "objects": len(run.resources),
                "kubernetes": len(run.kubernetes()),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.driver")
    sub = parser.add_subparsers(dest="mode", required=True)
    program = sub.add_parser("program", help="the real program over a synthetic catalog")
    program.add_argument("--services", type=int, required=True)
    program.add_argument("--dump", type=Path, help="write the registered objects here")
    bare_mode = sub.add_parser("bare", help="the SDK alone, registering a dump's objects")
    bare_mode.add_argument("--inputs", type=Path, required=True)
    dump = sub.add_parser("dump", help="dump a committed stack's render, for the limit process")
    dump.add_argument("stack")
    dump.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.mode == "dump":
        run = render(args.stack).run
        dump_run(run, args.out)
        modules = {bare.kubernetes_module(r.type) for r in run.resources}
        print(
            json.dumps(
                {
                    "objects": len(run.resources),
                    "kubernetes": len(run.kubernetes()),
                    "modules": sorted(m for m in modules if m is not None),
                }
            )
        )
        shutdown()
        return 0
    if args.mode == "program":
        services = synthetic_catalog(args.services)
        # settings.py and render read `catalog.CATALOG` at call time, so this swaps the catalog
        # for the program without touching components/.
        catalog.CATALOG = MappingProxyType(services)
        config = synthetic_config(services)
        main_file = ROOT / "__main__.py"
    else:
        # Loaded before the clock starts: reading the dump is not part of registering.
        bare.RECORDS = json.loads(args.inputs.read_text())
        config = StackConfig(project=PROJECT, stack="bench", values={})
        main_file = BARE_MAIN
    start, start_cpu = time.perf_counter(), time.process_time()
    run = run_program(config, main=main_file)
    seconds = time.perf_counter() - start
    # All threads of this process: the SDK's worker threads register on its behalf.
    cpu_seconds = time.process_time() - start_cpu
    if args.mode == "program" and args.dump:
        dump_run(run, args.dump)
    _report(run, seconds, cpu_seconds)
    shutdown()
    return 0


if __name__ == "__main__":
    # As the CLIs run (tools/process.py): the same for `program` and `bare`.
    run_cli(main)
