"""Blast radius of single changes: `python -m benchmark.blast` prints one JSON list of rows.

Each row renders an environment before and after one kind of change, classifies every object
with `tools.changes.compare` and sets the result beside the fewest objects that change has to
touch. The expected objects are written out per row, with why; anything beyond them is "OVER"
(a bug in the program: a change that reaches further than it must).

`tests/benchmark/test_blast_radius.py` checks every row (a change touching more or fewer objects
than its minimum is a bug, whatever the machine); `python -m benchmark.blast` prints them all. The
new-service row passes a catalog of four services to the config loader
(`benchmark.synthetic.program`); the real catalog is never swapped.

Exit codes: 0 rows printed (whatever their verdicts); 2 the program over a passed catalog does
not render the unchanged stack as `tools.render` does, so the row could not be measured.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchmark import synthetic
from components import catalog
from components.catalog import ServiceSpec
from tools.changes import ACTIONS, Change, compare
from tools.harness import ProgramRun, run_program, shutdown
from tools.manifests import file_name, to_manifest
from tools.render import render
from tools.stack_config import ROOT, StackConfig, load_stack

Manifests = dict[str, dict[str, Any]]
Expected = set[tuple[str, str, str]]
"""(action, kind, logical name) of each object a change must touch, and no other."""


@dataclass
class BlastRow:
    change: str
    counts: dict[str, int]
    minimum: dict[str, int]
    why: str
    verdict: str
    """`ok`; `OVER` (touches objects it need not); `MISSING` (fails to touch what it must)."""
    extra: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _rendered(stack: str, config: StackConfig | None = None, root: Path = ROOT) -> Manifests:
    # render() fills missing secrets into the config it is given: hand it a copy.
    return render(stack, root=root, config=copy.deepcopy(config) if config else None).manifests


def _manifests(run: ProgramRun) -> Manifests:
    return {file_name(r): to_manifest(r) for r in run.kubernetes()}


def _with_secrets(stack: str) -> StackConfig:
    """The stack file plus a distinct value for every required secret, marked secret."""
    return load_stack(stack).with_secrets(
        {
            spec.name: {name: f"bench-{spec.name}-{name}" for name in spec.required_secrets}
            for spec in catalog.CATALOG.values()
        }
    )


def _describe(change: Change) -> str:
    fields = ", ".join(f.path for f in change.fields if f.path != "metadata.name")
    return f"{change.action} {change.kind} {change.name}" + (f" ({fields})" if fields else "")


def _row(
    change: str, changes: list[Change], expected: Expected, why: str, created: int = 0
) -> BlastRow:
    """Judge `changes` against `expected`; `created` counts extra objects a row expects."""
    seen = {(c.action, c.kind, c.name): c for c in changes}
    extra = [_describe(c) for key, c in seen.items() if key not in expected]
    missing = [" ".join(key) for key in sorted(expected - set(seen))]
    counts = {action: sum(c.action == action for c in changes) for action in ACTIONS}
    minimum = {action: sum(e[0] == action for e in expected) for action in ACTIONS}
    minimum["created"] += created
    verdict = "OVER" if extra else "MISSING" if missing else "ok"
    return BlastRow(change, counts, minimum, why, verdict, extra, missing)


def replicas_row() -> BlastRow:
    # prod's event-service goes 2 -> 3: both sides already have a PodDisruptionBudget, so the only
    # object that can change is its Deployment (spec.replicas). In dev (1 replica) a step to 2
    # rightly adds a PDB; that is a new guarantee, not blast radius, so it is not measured here.
    base = load_stack("prod")
    head = base.edited("services.event-service.replicas", 3)
    expected = {("updated", "Deployment", "prod-event-service")}
    return _row(
        "one service's replicas (prod event-service 2 -> 3)",
        compare(_rendered("prod", base), _rendered("prod", head)),
        expected,
        "only its Deployment's spec.replicas can differ",
    )


def variable_row() -> BlastRow:
    # A ConfigMap is immutable and content-named: a new value is a new ConfigMap (replaced), and
    # the Deployment must point at it (updated), which is what rolls the pods onto the value.
    base = load_stack("dev")
    head = base.edited("services.event-service.env.LOG_LEVEL", "debug")
    expected = {
        ("replaced", "ConfigMap", "dev-event-service"),
        ("updated", "Deployment", "dev-event-service"),
    }
    return _row(
        "one variable (dev event-service LOG_LEVEL)",
        compare(_rendered("dev", base), _rendered("dev", head)),
        expected,
        "its ConfigMap replaced (immutable, content-named) + its Deployment updated to roll pods",
    )


def secret_row() -> BlastRow:
    # The offline render shows every secret as `[secret]`, so it cannot see a rotation: run the
    # program with real, distinct values instead and compare what was registered. The Secret is
    # immutable and replaced under a new provider-chosen name; the Deployment follows the name.
    base = _with_secrets("dev")
    head = base.edited("secrets.notification-service.DB_PASS", "rotated-bench-value")
    before = _manifests(run_program(copy.deepcopy(base)))
    after = _manifests(run_program(copy.deepcopy(head)))
    expected = {
        ("replaced", "Secret", "dev-notification-service"),
        ("updated", "Deployment", "dev-notification-service"),
    }
    return _row(
        "one secret (dev notification-service DB_PASS)",
        compare(before, after),
        expected,
        "its Secret replaced (immutable, new name) + its Deployment updated to roll pods",
    )


def release_row() -> BlastRow:
    # A release changes the image tag and the version label, which live only on Deployments and
    # their pod templates; every other object is version-free by design (components/labels.py).
    base = load_stack("dev")
    head = base.edited("version", "1.1.0")
    expected = {("updated", "Deployment", f"dev-{name}") for name in catalog.CATALOG}
    return _row(
        "release version (dev 1.0.0 -> 1.1.0)",
        compare(_rendered("dev", base), _rendered("dev", head)),
        expected,
        "every Deployment updated (image tag, version label), nothing else",
    )


# reminder-service's shape under another name and database, so it stays in step with the catalog.
NEW_SERVICE = replace(
    catalog.CATALOG["reminder-service"],
    name="audit-service",
    description="synthetic fourth service, shaped like reminder-service",
    database="audit",
    ingress_path="/audit",
    env=MappingProxyType({**catalog.CATALOG["reminder-service"].env, "DB_NAME": "audit"}),
)


class MeasurementError(Exception):
    """A row cannot be measured as it stands; the message is one line."""


def _deployed(stack: str, services: Mapping[str, ServiceSpec]) -> Manifests:
    """`stack` rendered with `services` as the catalog, loaded as an offline render loads it."""
    config = load_stack(stack)
    program = synthetic.program(
        config.values,
        catalog=services,
        secret_keys=config.secret_keys,
        stand_in_secrets=True,
        offline=True,
    )
    return _manifests(run_program(config, program=program))


def new_service_row() -> BlastRow:
    # A new HTTP service in dev (1 replica, no ingress in dev) is exactly: ServiceAccount,
    # ConfigMap, Secret, Deployment, Service, its ingress-allow NetworkPolicy, and the
    # ExternalName Service of its own database. Nothing that exists may change: no object lists
    # the services or their databases.
    base = _deployed("dev", catalog.CATALOG)
    if base != _rendered("dev"):
        # Both sides run through the catalog-passing program: it must be the render itself.
        raise MeasurementError("dev over the passed catalog differs from `tools.render dev`")
    head = _deployed("dev", {**catalog.CATALOG, NEW_SERVICE.name: NEW_SERVICE})
    name = f"dev-{NEW_SERVICE.name}"
    expected = {
        ("created", "ServiceAccount", name),
        ("created", "ConfigMap", name),
        ("created", "Secret", name),
        ("created", "Deployment", name),
        ("created", "Service", name),
        ("created", "NetworkPolicy", f"{name}-allow-ingress"),
        ("created", "Service", f"dev-{NEW_SERVICE.database}-db"),
    }
    return _row(
        "new service (audit-service in dev)",
        compare(base, head),
        expected,
        "only its own 7 objects created (incl. its database's ExternalName)",
    )


def new_environment_row() -> BlastRow:
    # A stack is an environment: adding Pulumi.staging.yaml must change nothing that dev or prod
    # render (byte-for-byte the same manifests), and staging's render is all creates.
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        root = Path(tmp)
        for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
            shutil.copy(ROOT / name, root / name)
        existing = ("dev", "prod")
        before = {stack: _rendered(stack, root=root) for stack in existing}
        staging = (ROOT / "Pulumi.dev.yaml").read_text()
        staging = staging.replace("environment: development", "environment: staging")
        staging = staging.replace("prefix: dev", "prefix: staging")
        (root / "Pulumi.staging.yaml").write_text(staging)
        after = {stack: _rendered(stack, root=root) for stack in existing}
        created = compare({}, _rendered("staging", root=root))
    changes: list[Change] = []
    for stack in existing:
        changes.extend(compare(before[stack], after[stack]))
    # Objects of the new stack outside its own namespace would land in someone else's.
    changes.extend(c for c in created if c.namespace not in (None, "staging"))
    expected = {(c.action, c.kind, c.name) for c in created if c.namespace in (None, "staging")}
    row = _row(
        "new environment (Pulumi.staging.yaml)",
        [*changes, *created],
        expected,
        "every staging object created; dev and prod renders identical",
    )
    # compare() masks Secret data; the brief asks for identical renders, so check the bytes too.
    for stack in existing:
        if before[stack] != after[stack]:
            row.extra.append(f"{stack} render differs after adding the staging stack")
            row.verdict = "OVER"
    return row


ROWS: tuple[Callable[[], BlastRow], ...] = (
    replicas_row,
    variable_row,
    secret_row,
    release_row,
    new_service_row,
    new_environment_row,
)


def main() -> int:
    try:
        rows = [asdict(row()) for row in ROWS]
    except MeasurementError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
