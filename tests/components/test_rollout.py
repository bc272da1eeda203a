"""A changed variable or secret rolls its own service's pods and touches no other object."""

from __future__ import annotations

from components.catalog import CATALOG
from tests.conftest import edited, stack_with_secrets
from tools.harness import ProgramRun, contains_secret, reveal, run_program


def by_urn(run: ProgramRun) -> dict[str, dict]:
    return {r.urn: reveal(r.state) for r in run.kubernetes()}


def changed_urns(before: ProgramRun, after: ProgramRun) -> set[str]:
    old, new = by_urn(before), by_urn(after)
    assert old.keys() == new.keys()
    return {urn for urn in old if old[urn] != new[urn]}


def short(urn: str) -> str:
    """`Kind::logical-name` of a URN."""
    type_part, name = urn.rsplit("::", 1)
    return f"{type_part.rsplit(':', 1)[-1]}::{name}"


def template(run: ProgramRun, name: str) -> dict:
    return reveal(run.find("Deployment", name).state)["spec"]["template"]


def test_changed_variable_rolls_only_its_service():
    before = run_program(stack_with_secrets("dev"))
    config = edited(stack_with_secrets("dev"), "services.event-service.env.LOG_LEVEL", "debug")
    after = run_program(config)

    assert {short(u) for u in changed_urns(before, after)} == {
        "ConfigMap::dev-event-service",
        "Deployment::dev-event-service",
    }
    # A new content hash means a new ConfigMap name, hence a new pod template: the pods roll.
    old_cm = template(before, "dev-event-service")["spec"]["containers"][0]["envFrom"][0]
    new_cm = template(after, "dev-event-service")["spec"]["containers"][0]["envFrom"][0]
    assert old_cm != new_cm
    assert new_cm["configMapRef"]["name"].startswith("dev-event-service-")


def test_changed_secret_rolls_only_its_service_and_the_diff_stays_readable():
    before = run_program(stack_with_secrets("dev"))
    config = edited(stack_with_secrets("dev"), "secrets.notification-service.DB_PASS", "rotated!")
    after = run_program(config)

    assert {short(u) for u in changed_urns(before, after)} == {
        "Secret::dev-notification-service",
        "Deployment::dev-notification-service",
    }
    deployment = after.find("Deployment", "dev-notification-service")
    # Nothing in the Deployment derives from a secret, so a preview shows its whole diff.
    assert not contains_secret(deployment.inputs)
    old_ref = template(before, "dev-notification-service")["spec"]["containers"][0]["envFrom"][1]
    new_ref = template(after, "dev-notification-service")["spec"]["containers"][0]["envFrom"][1]
    assert old_ref != new_ref


def test_secret_is_replaced_under_a_new_name_and_the_configmap_is_content_named():
    run = run_program(stack_with_secrets("dev"))
    for service in CATALOG:
        secret = next(
            r for r in run.kubernetes() if r.kind == "Secret" and r.name == f"dev-{service}"
        )
        # No explicit name: the provider picks a fresh one on each replacement.
        assert "name" not in reveal(secret.inputs)["metadata"]
        assert set(secret.replace_on_changes) >= {"stringData", "data"}
        assert not secret.delete_before_replace  # the new Secret exists before the old goes
        assert reveal(secret.inputs)["immutable"] is True
        config_map = next(
            r for r in run.kubernetes() if r.kind == "ConfigMap" and r.name == f"dev-{service}"
        )
        assert reveal(config_map.inputs)["immutable"] is True
        assert not config_map.delete_before_replace


def test_same_config_twice_changes_nothing():
    assert (
        changed_urns(
            run_program(stack_with_secrets("prod")), run_program(stack_with_secrets("prod"))
        )
        == set()
    )


def test_replicas_change_touches_only_that_deployment():
    before = run_program(stack_with_secrets("prod"))
    after = run_program(edited(stack_with_secrets("prod"), "services.event-service.replicas", 4))
    assert {short(u) for u in changed_urns(before, after)} == {"Deployment::prod-event-service"}


def test_a_release_touches_only_the_deployments():
    before = run_program(stack_with_secrets("prod"))
    after = run_program(edited(stack_with_secrets("prod"), "version", "1.1.0"))
    # The version label sits only on Deployments and their pods, so nothing else is updated.
    assert {short(u) for u in changed_urns(before, after)} == {
        f"Deployment::prod-{service}" for service in CATALOG
    }
    image = template(after, "prod-event-service")["spec"]["containers"][0]["image"]
    assert image == "docker.io/adisakshya/event-service:1.1.0-prod"
