"""Bad input: one clear line naming the key, raised before any resource is registered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from components.config import ConfigError
from tests.conftest import CountingMocks, edited, stack_with_secrets
from tools.harness import run_program
from tools.stack_config import ROOT, StackFileError, load_stack

PREFIX = "invalid stack config: "

CASES = {
    "missing environment": (
        "environment",
        None,
        "environment: is required; set it with `pulumi config set environment <value>`",
    ),
    "missing prefix": (
        "prefix",
        None,
        "prefix: is required; set it with `pulumi config set prefix <value>`",
    ),
    "prefix not a DNS label": (
        "prefix",
        "Dev_1",
        "prefix: 'Dev_1' is not a DNS label (lower-case letters, digits and '-', "
        "starting with a letter, at most 63 characters)",
    ),
    "environment not a namespace name": (
        "environment",
        "my env",
        "environment: 'my env' is not a namespace name (lower-case letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters)",
    ),
    "negative replicas": (
        "services.event-service.replicas",
        -1,
        "services.event-service.replicas: must be 0 or more, not -1",
    ),
    "replicas not an integer": (
        "services.event-service.replicas",
        "two",
        "services.event-service.replicas: must be a whole number, not 'two'",
    ),
    "fractional replicas": (
        "services.event-service.replicas",
        1.5,
        "services.event-service.replicas: must be a whole number, not 1.5",
    ),
    "unknown service": (
        "services.email-service",
        {"replicas": 1},
        "services.email-service: unknown service "
        "(known: event-service, notification-service, reminder-service)",
    ),
    "variable name Kubernetes would reject": (
        "services.reminder-service.env.BAD=NAME",
        "x",
        "services.reminder-service.env.BAD=NAME: not a valid variable name "
        "(letters, digits and '_', not starting with a digit)",
    ),
    "variable value is a mapping": (
        "services.reminder-service.env.LOG",
        {"level": "debug"},
        "services.reminder-service.env.LOG: must be a string, not a mapping",
    ),
    "variable value is a list": (
        "services.reminder-service.env.HOSTS",
        ["a", "b"],
        "services.reminder-service.env.HOSTS: must be a string, not a list",
    ),
    "secret in plain variables": (
        "services.reminder-service.env.DB_PASS",
        "hunter2",
        "services.reminder-service.env.DB_PASS: DB_PASS is a secret and must not be stored in "
        "plain text; set it with "
        "`pulumi config set --secret --path 'secrets.reminder-service.DB_PASS' <value>`",
    ),
    "misspelt service key": (
        "services.event-service.replica",
        2,
        "services.event-service.replica: unknown key; did you mean 'replicas'?",
    ),
    "NodePort where not allowed": (
        "services.reminder-service.serviceType",
        "NodePort",
        "services.reminder-service.serviceType: 'NodePort' is not allowed in this environment "
        "(allowedServiceTypes: ClusterIP)",
    ),
    "required variable emptied": (
        "services.notification-service.env.NOTIFICATION_QUEUE_URL",
        "",
        "services.notification-service.env: missing required variable(s) NOTIFICATION_QUEUE_URL; "
        "set each with `pulumi config set --path "
        "'services.notification-service.env.NOTIFICATION_QUEUE_URL' <value>`",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_names_the_key_and_creates_nothing(case: str):
    path, value, message = CASES[case]
    config = stack_with_secrets("dev")
    if value is None:
        del config.values[path]
    else:
        config = edited(config, path, value)
    mocks = CountingMocks()
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=mocks)
    assert str(error.value) == PREFIX + message
    assert isinstance(error.value, pulumi.RunError)  # the CLI prints it without a traceback
    assert "\n" not in str(error.value)
    assert mocks.created == []


def test_missing_required_secret_names_each_one_and_the_command():
    config = stack_with_secrets("dev")
    del config.values["secrets"]["notification-service"]["FCM_PROJECT_CONFIG"]
    del config.values["secrets"]["notification-service"]["DB_PASS"]
    mocks = CountingMocks()
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=mocks)
    assert str(error.value) == (
        PREFIX + "secrets.notification-service: missing required secret(s) DB_PASS, "
        "FCM_PROJECT_CONFIG; set each with "
        "`pulumi config set --secret --path 'secrets.notification-service.DB_PASS' <value>`"
    )
    assert mocks.created == []


def test_unknown_service_under_secrets():
    config = edited(stack_with_secrets("dev"), "secrets.mailer", {"TOKEN": "x"})
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=CountingMocks())
    assert str(error.value) == (
        PREFIX + "secrets.mailer: unknown service "
        "(known: event-service, notification-service, reminder-service)"
    )


def test_secrets_set_without_secret_flag_are_refused():
    config = stack_with_secrets("dev")
    config.secret_keys.discard("secrets")
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=CountingMocks())
    assert str(error.value) == (
        PREFIX + "secrets: values are stored in plain text; set each with "
        "`pulumi config set --secret --path 'secrets.<service>.<VAR>' <value>`"
    )


def test_several_problems_are_reported_together_on_one_line():
    config = edited(stack_with_secrets("dev"), "services.event-service.replicas", -2)
    config = edited(config, "prefix", "Bad Prefix")
    with pytest.raises(ConfigError) as error:
        run_program(config, mocks=CountingMocks())
    text = str(error.value)
    assert "\n" not in text
    assert "prefix: 'Bad Prefix' is not a DNS label" in text
    assert "services.event-service.replicas: must be 0 or more, not -2" in text


def test_stack_file_that_is_not_yaml(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  notification-delivery:prefix: [dev\n")
    with pytest.raises(StackFileError) as error:
        load_stack("broken", root=tmp_path)
    assert str(error.value).startswith("Pulumi.broken.yaml: not valid YAML (line 3, column 1)")


DEV_HEAD = (
    "config:\n  notification-delivery:environment: development\n"
    "  notification-delivery:prefix: dev\n"
)


def _stack_error(tmp_path: Path, stack_text: str) -> str:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.strict.yaml").write_text(stack_text)
    with pytest.raises(StackFileError) as error:
        load_stack("strict", root=tmp_path)
    text = str(error.value)
    assert "\n" not in text
    return text


def test_a_key_given_twice_is_refused_as_the_cli_refuses_it(tmp_path: Path):
    text = DEV_HEAD + "  notification-delivery:prefix: prod\n"
    assert _stack_error(tmp_path, text) == (
        "Pulumi.strict.yaml: line 4: config.notification-delivery:prefix is given twice "
        "(first on line 3); keep one"
    )
    nested = DEV_HEAD + (
        "  notification-delivery:services:\n    event-service:\n"
        "      replicas: 1\n      replicas: 2\n"
    )
    assert _stack_error(tmp_path, nested) == (
        "Pulumi.strict.yaml: line 7: config.notification-delivery:services.event-service."
        "replicas is given twice (first on line 6); keep one"
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "  notification-delivery:version: 1.10\n",
            "line 4: config.notification-delivery:version: 1.10 reads as the number 1.1; "
            'quote it ("1.10") to keep what you wrote',
        ),
        (
            "  notification-delivery:services:\n    event-service:\n      env:\n"
            "        FEATURE_X: yes\n",
            "line 7: config.notification-delivery:services.event-service.env.FEATURE_X: yes "
            'reads as the boolean true; quote it ("yes") to keep what you wrote',
        ),
        (
            "  notification-delivery:services:\n    event-service:\n      replicas: 010\n",
            "line 6: config.notification-delivery:services.event-service.replicas: 010 reads "
            'as the number 8; quote it ("010") to keep what you wrote',
        ),
    ],
    ids=["version-1.10", "env-yes", "octal"],
)
def test_a_scalar_yaml_would_retype_must_be_quoted(tmp_path: Path, entry: str, expected: str):
    assert _stack_error(tmp_path, DEV_HEAD + entry) == f"Pulumi.strict.yaml: {expected}"


def test_numbers_and_booleans_that_read_back_as_written_stay_allowed(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.fine.yaml").write_text(
        DEV_HEAD + "  notification-delivery:production: True\n"
        "  notification-delivery:services:\n    event-service:\n      replicas: 2\n"
        '      env:\n        RETRIES: 3\n        VERBOSE: true\n        FEATURE_X: "yes"\n'
    )
    values = load_stack("fine", root=tmp_path).values
    assert values["production"] is True
    assert values["services"]["event-service"]["env"] == {
        "RETRIES": 3,
        "VERBOSE": True,
        "FEATURE_X": "yes",
    }


def test_a_misspelt_project_namespace_is_named(tmp_path: Path):
    text = (
        (ROOT / "Pulumi.dev.yaml")
        .read_text()
        .replace("notification-delivery:prefix:", "notification-delivry:prefix:")
    )
    result = _render_cli(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr == (
        "error: invalid stack config: notification-delivry:prefix: unknown namespace; did you "
        "mean 'notification-delivery:prefix'? (the keys of this program are "
        "`notification-delivery:<key>`); prefix: is required; set it with "
        "`pulumi config set prefix <value>`\n"
    )


def test_a_misspelt_top_level_key_of_the_stack_file_is_named(tmp_path: Path):
    assert _stack_error(tmp_path, DEV_HEAD.replace("config:", "configs:")) == (
        "Pulumi.strict.yaml: configs: unknown key; did you mean 'config'? (allowed: config, "
        "secretsprovider, encryptedkey, encryptionsalt, environment)"
    )


def test_a_plain_text_secret_in_the_stack_file_gets_its_advice_once(tmp_path: Path):
    text = (ROOT / "Pulumi.dev.yaml").read_text() + (
        "  notification-delivery:secrets:\n    reminder-service:\n      DB_PASS: plain\n"
    )
    result = _render_cli(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr == (
        "error: invalid stack config: secrets.reminder-service.DB_PASS: is stored in plain text "
        "in Pulumi.bad.yaml; set it with `pulumi config set --secret --path "
        "'secrets.reminder-service.DB_PASS' <value>`\n"
    )


def _render_cli(tmp_path: Path, stack_text: str) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / name).read_text())
    (project / "Pulumi.bad.yaml").write_text(stack_text)
    out = tmp_path / "out"
    return subprocess.run(
        [sys.executable, "-m", "tools.render", "bad", "-C", str(project), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("stack_text", "expected"),
    [
        (
            "config: [unclosed\n",
            # libyaml says "did not find expected ',' or ']'", the pure-Python loader "expected
            # ',' or ']', but got '<stream end>'": the line, column and what is missing either way.
            "error: Pulumi.bad.yaml: not valid YAML (line 2, column 1): ",
        ),
        (
            "config:\n  notification-delivery:environment: development\n"
            "  notification-delivery:prefix: dev\n"
            "  notification-delivery:services:\n    event-service:\n      replicas: -3\n",
            "error: invalid stack config: ",
        ),
    ],
    ids=["not-yaml", "negative-replicas"],
)
def test_render_cli_exits_2_with_one_line_and_writes_nothing(tmp_path, stack_text, expected):
    result = _render_cli(tmp_path, stack_text)
    if "replicas: -3" in stack_text:
        assert "services.event-service.replicas: must be 0 or more, not -3" in result.stderr
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected), lines[0]
    if "unclosed" in stack_text:
        assert "expected ',' or ']'" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
