"""Secrets stay Pulumi secrets end to end and never show in plain text anywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pulumi
import pytest

from components.config import load
from components.microservice import Microservice
from tests.conftest import all_secrets, secret_value, stack_with_secrets
from tools.harness import ProviderMocks, contains_secret, is_secret, reveal
from tools.render import render, summary, write
from tools.stack_config import ROOT


def every_secret_value() -> list[str]:
    return [value for per_service in all_secrets().values() for value in per_service.values()]


def test_secret_data_reaches_the_engine_as_a_secret(dev_run):
    for secret in (r for r in dev_run.kubernetes() if r.kind == "Secret"):
        assert is_secret(secret.inputs["stringData"])


def test_no_secret_value_outside_the_secret_objects(dev_run, caplog):
    values = every_secret_value()
    for resource in dev_run.resources:
        if resource.kind == "Secret":
            continue
        text = json.dumps(reveal(resource.inputs), default=str)
        assert not [v for v in values if v in text], resource.urn
        assert not contains_secret(resource.inputs), resource.urn
    exported = json.dumps(dev_run.outputs, default=str)
    assert not [v for v in values if v in exported]
    assert dev_run.secret_outputs == set()  # exports are names and images, nothing secret


def test_render_never_writes_or_prints_a_secret(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    result = render("dev", config=stack_with_secrets("dev"))
    paths = write(result, tmp_path / "dev")
    text = summary(result) + "".join(p.read_text() for p in paths) + caplog.text
    leaked = [v for v in every_secret_value() if v in text]
    assert leaked == []
    secret_file = (tmp_path / "dev" / "secret-dev-reminder-service.yaml").read_text()
    assert "DB_PASS: '[secret]'" in secret_file


def test_secure_values_in_a_stack_file_are_never_decrypted(tmp_path: Path):
    root = ROOT
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((root / name).read_text())
    stack = (root / "Pulumi.dev.yaml").read_text() + (
        "  notification-delivery:secrets:\n"
        "    reminder-service:\n"
        "      DB_PASS:\n"
        "        secure: v1:Zm9vYmFyYmF6:cXV4cXV1eA==\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    result = render("dev", root=tmp_path)
    paths = write(result, tmp_path / "out")
    text = "".join(p.read_text() for p in paths)
    assert "v1:Zm9vYmFyYmF6" not in text
    secret = result.manifests["secret-dev-reminder-service.yaml"]
    assert secret["stringData"]["DB_PASS"] == "[secret]"
    # What the file lacked is named, and still rendered as a placeholder.
    assert result.missing_secrets["reminder-service"] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]


@pytest.fixture
def mocks() -> None:
    pulumi.runtime.set_mocks(ProviderMocks(), project="notification-delivery", stack="dev")


@pulumi.runtime.test
def test_component_keeps_secrets_secret_and_names_plain(mocks):
    loaded = load(stack_with_secrets("dev").values, secret_keys={"secrets"})
    service = next(s for s in loaded.services if s.name == "reminder-service")
    assert service.namespace == "development"
    ms = Microservice("dev-reminder-service", service)
    secret, secret_name = ms.secret, ms.secret_name
    assert secret is not None and secret_name is not None

    async def observed():
        string_data = await secret.string_data.future()
        assert string_data is not None
        return {
            "data": await secret.string_data.is_secret(),
            "secret name": await secret_name.is_secret(),
            "deployment spec": await ms.deployment.spec.is_secret(),
            "value": string_data["DB_PASS"],
        }

    def check(seen):
        assert seen["data"] is True
        assert seen["secret name"] is False
        assert seen["deployment spec"] is False  # the preview shows the Deployment's diff
        assert seen["value"] == secret_value("reminder-service", "DB_PASS")

    return pulumi.Output.from_input(observed()).apply(check)
