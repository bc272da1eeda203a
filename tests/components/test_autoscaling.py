"""Switching a service between a fixed count and an autoscaler never loses pods.

Two layers. First, what the program sends for each shape of a service (a fixed count: the count
and `pulumi.com/patchForce`; autoscaled: no count, `ignoreChanges: spec.replicas`). Second, what
the engine, the provider and the API server then do with it, step by step, replayed by a small
model of exactly the code paths docs/engine.md cites (read in source, not run here):

- engine: `processIgnoreChanges` (pulumi `pkg/resource/deploy/step_generator.go`, with
  `PropertyPath.Reset` in `sdk/go/common/resource/properties_path.go`): an ignored field takes its
  value from the old inputs, and is dropped when the old inputs lack it;
- provider: `Creation`, `ssaUpdate`, `fixCSAFieldManagers`, `handleSSAIgnoreFields` and
  `patchForce` (pulumi-kubernetes `provider/pkg/await/await.go`);
- API server: server-side apply and update (structured-merge-diff `merge/update.go`: `Apply`,
  `prune`, `update`), the scale subresource's ownership mapping (apimachinery
  `pkg/util/managedfields/scalehandler.go`), Deployment defaulting (`SetDefaults_Deployment`:
  `replicas` 1) and the HPA controller's `reconcileAutoscaler` (`pkg/controller/podautoscaler/
  horizontal.go`) without a metrics server: it moves the count only into [min, max].

The model tracks one field, `spec.replicas`, and who owns it. The kind integration test
(tests/integration/test_kind_engine.py) checks the same transitions on a real cluster.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import stack_with_secrets
from tools.harness import ProgramRun, Registered, reveal, run_program
from tools.stack_config import StackConfig

FORCE = "pulumi.com/patchForce"
CREATE_MANAGER = "pulumi-kubernetes"
"""The static field manager of the provider's creates (`Creation`: a plain POST, not an apply)."""
APPLY_MANAGER = "pulumi-kubernetes-5f3a9c1e"
"""The per-resource manager of the provider's applies (a random name chosen once, in Check)."""
HPA_MANAGER = "kube-controller-manager"
"""The HPA controller's user-agent prefix: the manager of its scale-subresource updates."""


class ConflictError(Exception):
    """The API server refused an apply: another manager owns a field it would change."""


@dataclass
class LiveDeployment:
    """`spec.replicas` of one Deployment in the cluster and the managers that own it."""

    replicas: int = 0
    owners: set[str] = field(default_factory=set)
    history: list[int] = field(default_factory=list)
    """Every count the Deployment had, in order: what the pods follow."""

    def _set(self, value: int) -> None:
        self.replicas = value
        self.history.append(value)

    def create(self, inputs: dict[str, Any]) -> None:
        # A POST; defaulting fills in a missing count with 1, and the creator owns every field.
        self._set(int(inputs["spec"].get("replicas", 1)))
        self.owners = {CREATE_MANAGER}

    def apply(self, inputs: dict[str, Any], force: bool) -> None:
        wanted = inputs["spec"].get("replicas")
        others = self.owners - {APPLY_MANAGER}
        if wanted is None:
            if APPLY_MANAGER in self.owners:
                # Pruned: applied last time, not this time. Kept only while another manager owns
                # it; otherwise removed, and defaulting puts back 1.
                self.owners -= {APPLY_MANAGER}
                if not self.owners:
                    self._set(1)
            return
        wanted = int(wanted)
        if wanted != self.replicas:
            if others and not force:
                raise ConflictError(f"conflict with {sorted(others)}: .spec.replicas")
            # A changed value belongs to the applier alone (forced, or nobody else had it).
            self.owners = {APPLY_MANAGER}
            self._set(wanted)
        else:
            self.owners |= {APPLY_MANAGER}  # the same value: shared ownership

    def scale(self, replicas: int) -> None:
        """An update through the scale subresource: a changed value changes hands."""
        if replicas != self.replicas:
            self.owners = {HPA_MANAGER}
            self._set(replicas)

    def autoscaler_sync(self, minimum: int, maximum: int, wanted: int | None = None) -> None:
        """One pass of the HPA controller; `wanted` stands for what metrics would ask for."""
        current = self.replicas
        if current == 0:
            return  # autoscaling is off for a target scaled to zero
        if current > maximum:
            self.scale(maximum)
        elif current < minimum:
            self.scale(minimum)
        elif wanted is not None:
            self.scale(min(max(wanted, minimum), maximum))
        # No metrics (no metrics server) and in range: the controller does not scale.


@dataclass
class Applied:
    """One registration of the Deployment as the engine keeps it in state."""

    inputs: dict[str, Any]
    ignore_changes: tuple[str, ...]


def deployment(run: ProgramRun, name: str) -> Registered:
    return run.find("Deployment", name)


def applied(registered: Registered) -> Applied:
    return Applied(copy.deepcopy(reveal(registered.inputs)), tuple(registered.ignore_changes))


def autoscaler(run: ProgramRun, name: str) -> tuple[int, int] | None:
    for resource in run.kubernetes():
        if resource.kind == "HorizontalPodAutoscaler" and resource.name == name:
            spec = reveal(resource.inputs)["spec"]
            return int(spec["minReplicas"]), int(spec["maxReplicas"])
    return None


def pulumi_up(live: LiveDeployment, old: Applied, new: Applied) -> Applied:
    """One `pulumi up` of the Deployment; returns what the engine keeps as its inputs."""
    inputs = copy.deepcopy(new.inputs)
    if "spec.replicas" in new.ignore_changes:
        # Engine: the ignored field takes the old inputs' value, or goes if they had none.
        if "replicas" in old.inputs["spec"]:
            inputs["spec"]["replicas"] = old.inputs["spec"]["replicas"]
        else:
            inputs["spec"].pop("replicas", None)
    if inputs == old.inputs:
        return Applied(inputs, new.ignore_changes)  # no diff: no Update call at all
    # Provider, ssaUpdate: first take over what the create posted ...
    if CREATE_MANAGER in live.owners:
        live.owners = (live.owners - {CREATE_MANAGER}) | {APPLY_MANAGER}
    sent = copy.deepcopy(inputs)
    if "spec.replicas" in new.ignore_changes:
        # ... then handleSSAIgnoreFields: drop a field only another manager owns, otherwise send
        # its live value so that the apply neither changes nor releases it.
        if live.owners - {APPLY_MANAGER} and APPLY_MANAGER not in live.owners:
            sent["spec"].pop("replicas", None)
        else:
            sent["spec"]["replicas"] = live.replicas
    annotations = sent["metadata"].get("annotations") or {}
    live.apply(sent, force=annotations.get(FORCE) == "true")
    return Applied(inputs, new.ignore_changes)


def run_of(config: StackConfig) -> ProgramRun:
    return run_program(config)


def fixed(config: StackConfig, service: str, replicas: int) -> StackConfig:
    result = config.edited(f"services.{service}.replicas", replicas)
    result.values["services"][service].pop("autoscaling", None)
    return result


def autoscaled(config: StackConfig, service: str, minimum: int, maximum: int) -> StackConfig:
    result = config.edited(
        f"services.{service}.autoscaling", {"minReplicas": minimum, "maxReplicas": maximum}
    )
    result.values["services"][service].pop("replicas", None)
    return result


PROD = "prod"
SERVICE = "event-service"
NAME = f"prod-{SERVICE}"


# --- what the program sends ---------------------------------------------------------------------


def test_a_fixed_count_is_sent_and_forced(prod_run: ProgramRun) -> None:
    sent = deployment(prod_run, NAME)
    spec, meta = reveal(sent.inputs)["spec"], reveal(sent.inputs)["metadata"]
    assert spec["replicas"] == 2
    # Taking the field back from the autoscaler's controller after autoscaling needs force.
    assert meta["annotations"][FORCE] == "true"
    assert "spec.replicas" not in sent.ignore_changes
    assert autoscaler(prod_run, NAME) is None


def test_an_autoscaled_count_is_not_sent_and_changes_to_it_are_ignored(
    prod_run: ProgramRun,
) -> None:
    for name in ("prod-reminder-service", "prod-notification-service"):
        sent = deployment(prod_run, name)
        inputs = reveal(sent.inputs)
        assert "replicas" not in inputs["spec"]
        assert sent.ignore_changes == ["spec.replicas"]
        assert FORCE not in inputs["metadata"]["annotations"]
        assert autoscaler(prod_run, name) == (2, 6)
        hpa = prod_run.find("HorizontalPodAutoscaler", name)
        # Created after the Deployment's update: the count is handed over, never released first.
        assert sent.urn in hpa.dependencies


def test_changing_the_autoscaler_bounds_touches_only_the_autoscaler(prod_run: ProgramRun) -> None:
    after = run_of(
        stack_with_secrets(PROD).edited("services.reminder-service.autoscaling.minReplicas", 3)
    )
    before = {r.urn: reveal(r.inputs) for r in prod_run.kubernetes()}
    changed = {(r.kind, r.name) for r in after.kubernetes() if reveal(r.inputs) != before[r.urn]}
    # The Deployment does not carry the bounds, so its pods do not roll.
    assert changed == {("HorizontalPodAutoscaler", "prod-reminder-service")}


# --- what happens in the cluster, step by step ------------------------------------------------


def test_fixed_to_autoscaled_keeps_every_running_pod() -> None:
    base = stack_with_secrets(PROD)
    before = run_of(fixed(base, SERVICE, 4))
    after = run_of(autoscaled(base, SERVICE, 2, 6))

    live = LiveDeployment()
    live.create(applied(deployment(before, NAME)).inputs)
    state = applied(deployment(before, NAME))
    state = pulumi_up(live, state, applied(deployment(after, NAME)))
    bounds = autoscaler(after, NAME)
    assert bounds is not None and bounds == (2, 6)
    live.autoscaler_sync(*bounds)  # the HPA is created after the Deployment's update

    assert live.history == [4]  # never fewer: the count stayed 4 through the switch
    assert live.owners == {APPLY_MANAGER}  # still held, at its live value, for the hand-over

    # Load rises: the autoscaler's first scale takes the field over ...
    live.autoscaler_sync(*bounds, wanted=5)
    assert live.owners == {HPA_MANAGER}
    # ... and a release afterwards leaves the autoscaler's count alone, without a conflict.
    release = run_of(autoscaled(base, SERVICE, 2, 6).edited("version", "1.1.0"))
    pulumi_up(live, state, applied(deployment(release, NAME)))
    live.autoscaler_sync(*bounds)
    assert live.history == [4, 5]


def test_fixed_to_autoscaled_above_the_current_count_only_scales_up() -> None:
    base = stack_with_secrets(PROD)
    before = run_of(fixed(base, SERVICE, 1))
    after = run_of(autoscaled(base, SERVICE, 3, 6))
    live = LiveDeployment()
    live.create(applied(deployment(before, NAME)).inputs)
    pulumi_up(live, applied(deployment(before, NAME)), applied(deployment(after, NAME)))
    live.autoscaler_sync(3, 6)
    assert live.history == [1, 3]


def test_the_model_reproduces_the_drop_to_one_of_merely_leaving_the_count_out() -> None:
    """The previous program omitted the count without ignoring it: the field was released."""
    base = stack_with_secrets(PROD)
    before = run_of(fixed(base, SERVICE, 4))
    after = applied(deployment(run_of(autoscaled(base, SERVICE, 2, 6)), NAME))
    live = LiveDeployment()
    live.create(applied(deployment(before, NAME)).inputs)
    pulumi_up(live, applied(deployment(before, NAME)), Applied(after.inputs, ()))
    live.autoscaler_sync(2, 6)
    assert live.history == [4, 1, 2]


def test_autoscaled_to_fixed_in_two_steps_never_changes_the_running_count() -> None:
    base = stack_with_secrets(PROD)
    scaled = run_of(autoscaled(base, SERVICE, 2, 6))
    live = LiveDeployment()
    live.create(applied(deployment(scaled, NAME)).inputs)
    state = applied(deployment(scaled, NAME))
    live.autoscaler_sync(2, 6)  # created at the default 1: raised to the minimum
    live.autoscaler_sync(2, 6, wanted=5)  # under load
    assert (live.replicas, live.owners) == (5, {HPA_MANAGER})

    # Step 1: pin the autoscaler at the count wanted, at least today's (5): nothing moves.
    pinned = run_of(autoscaled(base, SERVICE, 5, 5))
    state = pulumi_up(live, state, applied(deployment(pinned, NAME)))
    live.autoscaler_sync(5, 5)
    # Step 2: the fixed count. Forced, it takes the field from the autoscaler's controller
    # without changing it; the autoscaler (deleted after the update) still wants 5 meanwhile.
    settled = run_of(fixed(base, SERVICE, 5))
    assert autoscaler(settled, NAME) is None
    state = pulumi_up(live, state, applied(deployment(settled, NAME)))
    live.autoscaler_sync(5, 5)
    assert live.history == [1, 2, 5]
    # The same value conflicts with nobody, so the deleted autoscaler's controller stays a
    # co-owner: without force, every later change of the count would be refused.
    assert live.owners == {HPA_MANAGER, APPLY_MANAGER}

    # From now on the count is the program's: a later change applies without a conflict.
    pulumi_up(live, state, applied(deployment(run_of(fixed(base, SERVICE, 3)), NAME)))
    assert live.history == [1, 2, 5, 3]


def test_without_force_taking_the_count_back_from_the_autoscaler_is_a_conflict() -> None:
    base = stack_with_secrets(PROD)
    scaled = run_of(autoscaled(base, SERVICE, 2, 6))
    live = LiveDeployment()
    live.create(applied(deployment(scaled, NAME)).inputs)
    live.autoscaler_sync(2, 6)
    target = applied(deployment(run_of(fixed(base, SERVICE, 4)), NAME))
    del target.inputs["metadata"]["annotations"][FORCE]
    with pytest.raises(ConflictError, match=HPA_MANAGER):
        pulumi_up(live, applied(deployment(scaled, NAME)), target)
    assert live.history == [1, 2]  # the refused apply changed nothing


@pytest.mark.parametrize("shape", ["fixed", "autoscaled"])
def test_steady_state_sends_nothing_and_keeps_the_count(shape: str) -> None:
    base = stack_with_secrets(PROD)
    config = fixed(base, SERVICE, 3) if shape == "fixed" else autoscaled(base, SERVICE, 2, 6)
    first = applied(deployment(run_of(config), NAME))
    live = LiveDeployment()
    live.create(first.inputs)
    if shape == "autoscaled":
        live.autoscaler_sync(2, 6, wanted=4)
    second = applied(deployment(run_of(config), NAME))
    history = list(live.history)
    kept = pulumi_up(live, first, second)
    assert kept.inputs == first.inputs  # nothing to update
    assert live.history == history
