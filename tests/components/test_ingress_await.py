"""`ingress.skipAwait`: whether `pulumi up` waits for the controller to publish an address.

pulumi-kubernetes waits, on every create and update of an Ingress, until
`status.loadBalancer.ingress` has an entry (`provider/pkg/await/ingress.go`), for up to 10
minutes. The Kong Ingress Controller publishes that status by default: its proxy Service's
load-balancer address, or its cluster IPs for any other Service type (`--update-status`, default
true; `internal/manager/setup.go`). Waiting is therefore the default; a cluster whose Kong proxy
is a LoadBalancer that never gets an address (kind, bare metal) turns it off. docs/engine.md.
"""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.conftest import stack_with_secrets
from tools.harness import ProgramRun, reveal, run_program
from tools.stack_config import StackConfig

SKIP_AWAIT = "pulumi.com/skipAwait"
HOST = "api.dev.example.com"


def with_ingress(**extra: object) -> StackConfig:
    return stack_with_secrets("dev").edited("ingress", {"host": HOST, **extra})


def ingresses(run: ProgramRun) -> dict[str, dict]:
    return {r.name: reveal(r.inputs) for r in run.kubernetes() if r.kind == "Ingress"}


def test_up_waits_for_the_published_address_by_default() -> None:
    found = ingresses(run_program(with_ingress()))
    assert set(found) == {"dev-reminder-service", "dev-notification-service"}
    for ingress in found.values():
        assert SKIP_AWAIT not in (ingress["metadata"].get("annotations") or {})


def test_skip_await_annotates_each_ingress_and_nothing_else() -> None:
    waiting = run_program(with_ingress())
    skipping = run_program(with_ingress(skipAwait=True))
    for ingress in ingresses(skipping).values():
        assert ingress["metadata"]["annotations"] == {SKIP_AWAIT: "true"}
    before = {r.urn: reveal(r.inputs) for r in waiting.kubernetes()}
    changed = {(r.kind, r.name) for r in skipping.kubernetes() if reveal(r.inputs) != before[r.urn]}
    assert changed == {
        ("Ingress", "dev-reminder-service"),
        ("Ingress", "dev-notification-service"),
    }


@pytest.mark.parametrize("value", ["yes", 1])
def test_skip_await_must_be_a_boolean(value: object) -> None:
    with pytest.raises(ConfigError) as error:
        run_program(with_ingress(skipAwait=value))
    assert f"ingress.skipAwait: must be true or false, not {value!r}" in str(error.value)
