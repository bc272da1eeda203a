"""The loader as a pure function: every rule and its exact message, secrets by construction,
the schema and the reference generated from the model, and the engine's way of giving config."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pydantic
import pytest
import yaml

from components.catalog import CATALOG
from components.config import ConfigError, load, rules
from components.config.errors import PREFIX
from components.config.model import ProbeTiming, StackSettings
from components.conventions import PROJECT
from tests.components.config.test_fuzz import BASE as FUZZ_BASE
from tests.components.config.test_fuzz import PATHS as KEY_PATHS
from tests.components.config.test_fuzz import load_stack_values, set_path
from tests.conftest import CountingMocks, all_secrets
from tools import config_reference
from tools.harness import run_program
from tools.stack_config import ROOT, committed_stacks, load_stack

STACKS = committed_stacks()


def dev_values() -> dict[str, Any]:
    values = copy.deepcopy(load_stack("dev").values)
    values["secrets"] = all_secrets()
    return values


def with_path(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(values)
    node = result
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return result


def problems(values: dict[str, Any], **options: Any) -> list[str]:
    options.setdefault("secret_keys", {"secrets"})
    with pytest.raises(ConfigError) as error:
        load(values, **options)
    text = str(error.value)
    assert text.startswith(PREFIX) and "\n" not in text
    # Problems are joined by "; " and each starts with its key: split before the next key.
    return re.split(r"; (?=[\w.\-\[\]<>]+: )", text.removeprefix(PREFIX))


def problem(path: str, value: Any) -> str:
    found = problems(with_path(dev_values(), path, value))
    assert len(found) == 1, found
    return found[0]


# ---- the model ---------------------------------------------------------------------------


def test_the_validated_config_is_a_read_only_value():
    settings = StackSettings.model_validate({"environment": "dev", "prefix": "dev"})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.prefix = "prod"  # type: ignore[misc]
    assert settings == StackSettings.model_validate({"prefix": "dev", "environment": "dev"})
    assert settings != StackSettings.model_validate({"environment": "dev", "prefix": "qa"})
    assert sorted(settings.model_fields_set) == ["environment", "prefix"]
    timing = ProbeTiming.model_validate({"periodSeconds": 5})
    assert hash(timing) == hash(ProbeTiming.model_validate({"periodSeconds": 5}))


def test_a_null_leaves_the_default_where_the_default_once_lived_in_the_loader():
    # `replicas:` with no value is YAML's null: as before the defaults moved into the model, it
    # means "not set", not a value to refuse.
    values = with_path(
        dev_values(),
        "services.event-service",
        {
            "replicas": None,
            "autoscaling": {"maxReplicas": 3},
            "imagePullPolicy": None,
            "resources": {"requests": {"cpu": None}, "limits": {"memory": None}},
        },
    )
    values["production"] = None
    values["protect"] = None
    loaded = load(values, secret_keys={"secrets"})
    event = next(s for s in loaded.services if s.name == "event-service")
    assert event.image_pull_policy == "Always"
    assert dict(event.resources.requests) == {"cpu": "100m", "memory": "128Mi"}
    assert dict(event.resources.limits) == {"memory": "256Mi"}
    assert loaded.environment.production is False and loaded.environment.protect is False
    assert problem("version", None) == "version: must be a string, not empty"


def test_the_model_derives_the_aws_names_from_the_account_unless_given():
    external = {
        "awsAccountId": "123456789012",
        "eventQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/given",
    }
    model = StackSettings.model_validate(
        {"environment": "dev", "prefix": "qa", "externalServices": external}
    )
    assert model.aws == {
        "eventStore": "event-store",
        "eventTopicArn": "arn:aws:sns:us-east-1:123456789012:qa-event-topic",
        "eventQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/given",
        "notificationQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/"
        "qa-notification-queue",
    }
    bare = StackSettings.model_validate({"environment": "dev", "prefix": "qa"})
    assert bare.aws == {"eventStore": "event-store"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_committed_stack_validates_against_the_model(stack):
    values = copy.deepcopy(load_stack(stack).values)
    values["secrets"] = all_secrets()
    assert isinstance(StackSettings.model_validate(values), StackSettings)


# ---- unknown keys, did you mean ----------------------------------------------------------


def test_a_misspelt_top_level_key_is_refused_with_a_suggestion():
    values = dev_values()
    values["enviroment"] = values.pop("environment")
    assert problems(values) == [
        "environment: is required; set it with `pulumi config set environment <value>`",
        "enviroment: unknown key; did you mean 'environment'?",
    ]
    assert problem("ingres", {"host": "x"}) == "ingres: unknown key; did you mean 'ingress'?"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("network.ingressCidr", "network.ingressCidr: unknown key; did you mean 'ingressCidrs'?"),
        (
            "services.event-service.probes.readiness.period",
            "services.event-service.probes.readiness.period: unknown key (allowed: "
            "failureThreshold, initialDelaySeconds, periodSeconds, timeoutSeconds)",
        ),
        (
            "limitRange.max.storage",
            "limitRange.max.storage: unknown key (allowed: cpu, memory)",
        ),
        (
            "externalServices.databaseHosts.reminder",
            "externalServices.databaseHosts.reminder: unknown database; did you mean "
            "'reminders'? (known: devices, notifications, reminders)",
        ),
    ],
)
def test_unknown_keys_at_every_depth(path, expected):
    value = "x.example.com" if "databaseHosts" in path else 1
    assert problem(path, value) == expected


def test_an_unknown_service_is_named_with_a_suggestion():
    assert problem("services.event-servic", {}) == (
        "services.event-servic: unknown service; did you mean 'event-service'? "
        "(known: event-service, notification-service, reminder-service)"
    )


# ---- strict types, and the strings the CLI stores ----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "must be a whole number, not True"),
        ("two", "must be a whole number, not 'two'"),
        (1.5, "must be a whole number, not 1.5"),
        (2**31, "must be 2147483647 or less, not 2147483648"),
    ],
)
def test_replicas_are_whole_numbers_within_int32(value, expected):
    assert problem("services.event-service.replicas", value) == (
        f"services.event-service.replicas: {expected}"
    )


def test_values_the_cli_stores_as_strings_still_work():
    values = with_path(dev_values(), "services.event-service.replicas", "3")
    values["production"] = "false"
    values = with_path(values, "rollout.skipAwait", "true")
    loaded = load(values, secret_keys={"secrets"})
    event = next(s for s in loaded.services if s.name == "event-service")
    assert event.replicas == 3
    assert loaded.environment.production is False and event.rollout.skip_await is True
    assert problem("production", "yes") == "production: must be true or false, not 'yes'"


def test_a_string_where_a_mapping_belongs():
    assert problem("network", "kong") == "network: must be a mapping, not a string"
    assert problem("ingress.host", 42) == "ingress.host: must be a string, not a number"


# ---- values the cluster, registry or AWS would reject ------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "network.databaseCidrs",
            ["10.0.0.1/16"],
            "network.databaseCidrs[0]: '10.0.0.1/16' has host bits set; the range is 10.0.0.0/16",
        ),
        (
            "ingress",
            {"host": "203.0.113.7"},
            "ingress.host: '203.0.113.7' is an IP address; an Ingress host must be a DNS name",
        ),
        (
            "ingress",
            {"host": "api.example.com", "className": "Kong"},
            "ingress.className: 'Kong' is not a DNS subdomain (lower-case letters, digits, "
            "'-' and '.', each part starting and ending with a letter or digit, at most 253 "
            "characters)",
        ),
        (
            "ingress",
            {"host": "api.example.com", "tlsSecretName": "api_tls"},
            "ingress.tlsSecretName: 'api_tls' is not a DNS subdomain (lower-case letters, "
            "digits, '-' and '.', each part starting and ending with a letter or digit, at "
            "most 253 characters)",
        ),
        (
            "services.reminder-service.ingressPath",
            "/reminders//all",
            "services.reminder-service.ingressPath: '/reminders//all' must not contain '//'",
        ),
        (
            "quota",
            {"requests.cpuu": "4"},
            "quota.requests.cpuu: 'requests.cpuu' is not a resource a ResourceQuota can limit "
            "(e.g. requests.cpu, limits.memory, pods, count/deployments.apps)",
        ),
        (
            "quota",
            {"pods": "10.5"},
            "quota.pods: '10.5' must be a whole number of objects",
        ),
        (
            "quota",
            {"pods": "1Ei"},
            "quota.pods: '1Ei' is more objects than Kubernetes can count; write at most "
            "9223372036854775",
        ),
        (
            "quota",
            {"requests.memory": "8GB"},
            "quota.requests.memory: '8GB' is not a Kubernetes quantity (e.g. 250m, 1, 256Mi, 1Gi)",
        ),
        (
            "limitRange",
            {"defaultRequest": {"memory": "512Mi"}, "default": {"memory": "256Mi"}},
            "limitRange.defaultRequest.memory: 512Mi exceeds limitRange.default.memory (256Mi)",
        ),
        (
            "limitRange",
            {"default": {"memory": "4Gi"}, "max": {"memory": "2Gi"}},
            "limitRange.default.memory: 4Gi exceeds limitRange.max.memory (2Gi)",
        ),
        (
            "services.event-service.image",
            "https://ghcr.io/acme/event-service:1",
            "services.event-service.image: 'https://ghcr.io/acme/event-service:1' has a scheme; "
            "write the image as registry/repository:tag",
        ),
        (
            "registry",
            "ghcr.io/Acme",
            "registry: 'ghcr.io/Acme': 'Acme' is not a valid repository path part "
            "(repository paths are lower-case)",
        ),
        (
            "services.event-service.iamRoleArn",
            "arn:aws-cn:iam::123456789012:policy/x",
            "services.event-service.iamRoleArn: 'arn:aws-cn:iam::123456789012:policy/x' is not "
            "an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
        ),
        (
            "externalServices.databaseHost",
            "postgres://db.example.com/reminders",
            "externalServices.databaseHost: 'postgres://db.example.com/reminders' is a URL; "
            "give the host name only (e.g. db.example.com)",
        ),
        (
            "externalServices.eventQueueUrl",
            "sqs.us-east-1.amazonaws.com/123456789012/q",
            "externalServices.eventQueueUrl: 'sqs.us-east-1.amazonaws.com/123456789012/q' is not "
            "an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
        ),
        (
            "rollout.progressDeadlineSeconds",
            0,
            "rollout.progressDeadlineSeconds: must be 1 or more, not 0",
        ),
        (
            "services.reminder-service.probes.liveness.periodSeconds",
            0,
            "services.reminder-service.probes.liveness.periodSeconds: must be 1 or more, not 0",
        ),
        (
            "services.reminder-service.nodePort",
            8080,
            "services.reminder-service.nodePort: must be 30000 or more, not 8080",
        ),
        (
            "version",
            "1.0.0+build.5",
            "version: '1.0.0+build.5' is not a valid label value (letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit, at most 63 characters)",
        ),
    ],
)
def test_values_a_consumer_would_reject(path, value, expected):
    assert problem(path, value) == expected


def test_a_configmap_over_the_size_limit():
    big = "x" * (1024 * 1024)
    assert problem("services.event-service.env.BLOB", big).startswith(
        "services.event-service.env: the ConfigMap would hold "
    )


def test_a_secret_over_the_size_limit_never_shows_its_value():
    values = dev_values()
    values["secrets"]["event-service"]["DB_PASS"] = "p" * (1024 * 1024 + 1)
    (found,) = problems(values)
    assert found.startswith("secrets.event-service: the Secret would hold ")
    assert "ppp" not in found


def test_a_build_context_must_exist(tmp_path: Path):
    build = {"context": "no-such-folder"}
    values = with_path(dev_values(), "services.event-service.build", build)
    assert problems(values, project_dir=tmp_path) == [
        "services.event-service.build.context: 'no-such-folder' is not a folder"
    ]
    (tmp_path / "src").mkdir()
    values = with_path(dev_values(), "services.event-service.build", {"context": "src"})
    assert problems(values, project_dir=tmp_path) == [
        "services.event-service.build.context: 'src' holds no Dockerfile; add one or set "
        "build.dockerfile"
    ]
    (tmp_path / "src" / "Dockerfile").write_text("FROM scratch\n")
    assert load(values, secret_keys={"secrets"}, project_dir=tmp_path).services


def test_the_prefix_must_leave_room_for_every_name():
    # `{prefix}-{service}` must be a 63-character label (a Service name, a label value); the
    # ingress NetworkPolicy's longer name is a DNS subdomain (the API server says so).
    longest = max(CATALOG, key=len)
    room = rules.MAX_LABEL - len(f"-{longest}")
    load(with_path(dev_values(), "prefix", "p" * room), secret_keys={"secrets"})
    long = "p" * (room + 1)
    assert problem("prefix", long) == (
        f"prefix: '{long}' is too long for names such as '{long}-{longest}'"
    )


# ---- secrets by construction -------------------------------------------------------------


def file_of(values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("Pulumi.dev.yaml", values)


def test_a_plain_secret_leaf_next_to_secure_ones_is_refused():
    written = {
        "secrets": {
            "reminder-service": {
                "DB_PASS": {"secure": "v1:abc"},
                "AWS_ACCESS_KEY_ID": "AKIAPLAINTEXT",
            }
        }
    }
    found = problems(dev_values(), stack_file=file_of(written))
    assert found == [
        "secrets.reminder-service.AWS_ACCESS_KEY_ID: is stored in plain text in "
        "Pulumi.dev.yaml; set it with `pulumi config set --secret --path "
        "'secrets.reminder-service.AWS_ACCESS_KEY_ID' <value>`"
    ]
    assert "AKIAPLAINTEXT" not in str(found)


def test_a_secure_value_outside_secrets_is_refused():
    written = {"services": {"event-service": {"env": {"TOKEN": {"secure": "v1:abc"}}}}}
    assert problems(dev_values(), stack_file=file_of(written)) == [
        "services.event-service.env.TOKEN: is stored `secure:` but is not a secret setting; "
        "secrets belong under `secrets.<service>.<VAR>` (or `registryPassword`)"
    ]


def test_secrets_the_engine_does_not_mark_secret_are_refused():
    assert problems(dev_values(), secret_keys=set()) == [
        "secrets: values are stored in plain text; set each with "
        "`pulumi config set --secret --path 'secrets.<service>.<VAR>' <value>`"
    ]


def test_stand_ins_are_an_option_of_the_loader_not_a_mutation():
    values = copy.deepcopy(load_stack("dev").values)
    before = copy.deepcopy(values)
    loaded = load(values, stand_in_secrets=True)
    assert values == before
    assert loaded.stand_ins["notification-service"] == (
        "DB_PASS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "FCM_PROJECT_CONFIG",
    )
    secret = next(s for s in loaded.services if s.name == "event-service").secrets
    assert str(secret["DB_PASS"]) == "[secret]"
    # Without the option the same values are refused, naming what is missing.
    assert problems(values)[0].startswith("secrets.reminder-service: missing required secret(s)")


def _engine_project(tmp_path: Path, stack_text: str) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_text)
    return tmp_path


def test_up_refuses_a_plain_leaf_in_the_stack_file_given_config_as_the_engine_gives_it(
    tmp_path: Path,
):
    # The engine decrypts `secure:` values and marks the whole `secrets` key secret, so the
    # program sees no difference between the two leaves; only the stack file tells.
    stack_text = (ROOT / "Pulumi.dev.yaml").read_text() + (
        "  notification-delivery:secrets:\n"
        "    reminder-service:\n"
        "      DB_PASS:\n"
        "        secure: v1:Zm9vYmFyYmF6:cXV4cXV1eA==\n"
        "      AWS_ACCESS_KEY_ID: AKIAPLAINTEXT\n"
    )
    project = _engine_project(tmp_path, stack_text)
    config = load_stack("dev").with_secrets(all_secrets())
    mocks = CountingMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_program(config, main=project / "__main__.py", mocks=mocks)
    assert str(error.value) == PREFIX + (
        "secrets.reminder-service.AWS_ACCESS_KEY_ID: is stored in plain text in "
        "Pulumi.dev.yaml; set it with `pulumi config set --secret --path "
        "'secrets.reminder-service.AWS_ACCESS_KEY_ID' <value>`"
    )
    assert mocks.created == []


def test_up_refuses_a_stack_file_the_cli_would_refuse(tmp_path: Path):
    # The engine has already parsed the file its own way; the program reads it as strictly.
    stack_text = (ROOT / "Pulumi.dev.yaml").read_text() + "  notification-delivery:prefix: qa\n"
    project = _engine_project(tmp_path, stack_text)
    mocks = CountingMocks()
    with pytest.raises(pulumi.RunError) as error:
        config = load_stack("dev").with_secrets(all_secrets())
        run_program(config, main=project / "__main__.py", mocks=mocks)
    assert str(error.value).startswith("Pulumi.dev.yaml: line ")
    assert str(error.value).endswith(
        "config.notification-delivery:prefix is given twice (first on line 12); keep one"
    )
    assert mocks.created == []


def test_up_reads_every_project_key_the_engine_gives(tmp_path: Path):
    project = _engine_project(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text())
    config = load_stack("dev").with_secrets(all_secrets())
    config.values["ingres"] = {"host": "api.example.com"}  # as `pulumi config set` would store
    mocks = CountingMocks()
    with pytest.raises(pulumi.RunError) as error:
        run_program(config, main=project / "__main__.py", mocks=mocks)
    assert str(error.value) == PREFIX + "ingres: unknown key; did you mean 'ingress'?"
    assert mocks.created == []


# ---- the schema and the reference --------------------------------------------------------


def test_the_committed_schema_and_reference_are_fresh():
    assert config_reference.stale_files() == [], "run `python -m tools.config_reference --write`"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_names_the_schema_and_validates(stack):
    path = ROOT / f"Pulumi.{stack}.yaml"
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema/stack-config.schema.json"
    schema = json.loads(config_reference.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "config",
    [
        {"notification-delivery:enviroment": "dev", "notification-delivery:prefix": "dev"},
        {
            "notification-delivery:environment": "dev",
            "notification-delivery:prefix": "dev",
            "notification-delivery:secrets": {"event-service": {"DB_PASS": "plain"}},
        },
        {
            "notification-delivery:environment": "dev",
            "notification-delivery:prefix": "dev",
            "notification-delivery:services": {"event-service": {"replica": 2}},
        },
    ],
    ids=["misspelt-key", "plain-secret", "unknown-nested-key"],
)
def test_the_schema_flags_what_the_loader_refuses(config):
    schema = json.loads(config_reference.SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors({"config": config}))


def test_the_schema_passes_other_namespaces_and_secure_secrets():
    schema = json.loads(config_reference.SCHEMA_PATH.read_text())
    document = {
        "encryptionsalt": "v1:abc",
        "config": {
            "kubernetes:context": "kind-notification-delivery",
            "notification-delivery:environment": "dev",
            "notification-delivery:prefix": "dev",
            "notification-delivery:secrets": {"event-service": {"DB_PASS": {"secure": "v1:x"}}},
        },
    }
    jsonschema.Draft202012Validator(schema).validate(document)


def _loader_verdict(values: dict[str, Any]) -> str | None:
    """None when the loader takes the stack, else its message."""
    try:
        load_stack_values(values)
    except ConfigError as error:
        return str(error)
    return None


def _as_written(value: Any) -> Any:
    """A secret as its stack file holds it: each leaf `secure:`, a null left null."""
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    return None if value is None else {"secure": "v1:x"}


@functools.cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(config_reference.SCHEMA_PATH.read_text()))


def _schema_verdict(values: dict[str, Any]) -> set[tuple[Any, ...]]:
    """Where and by which rule the schema refuses the stack file that holds `values`: each
    innermost error (an `anyOf`'s are its branches' errors), without the message, which
    quotes the value."""
    config = {
        f"{PROJECT}:{key}": _as_written(value) if key in FUZZ_BASE.secret_keys else value
        for key, value in values.items()
    }
    found: set[tuple[Any, ...]] = set()
    errors = list(_schema_validator().iter_errors({"config": config}))
    while errors:
        error = errors.pop()
        if error.context:
            errors += error.context
        else:
            found.add((tuple(error.absolute_path), tuple(error.absolute_schema_path)))
    return found


def _without(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    result = set_path(values, path, None)
    node = result
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return result


@pytest.mark.parametrize("path", KEY_PATHS, ids=".".join)
def test_the_schema_and_the_loader_agree_on_null_for_every_key(path: tuple[str, ...]):
    # `key:` with no value is YAML's null. For each key the loader either treats it as the key
    # left out (the same verdict, the same message) or refuses it; the schema must do the same:
    # allow it with no error of its own, or refuse it.
    null, absent = set_path(FUZZ_BASE.values, path, None), _without(FUZZ_BASE.values, path)
    loader = _loader_verdict(null), _loader_verdict(absent)
    schema = _schema_verdict(null), _schema_verdict(absent)
    assert (loader[0] == loader[1]) == (schema[0] == schema[1]), (loader[0], schema[0])
    # Where the stack without the key is fine for both, both take or both refuse the null.
    if loader[1] is None and not schema[1]:
        assert (loader[0] is None) == (not schema[0]), (loader[0], schema[0])


def test_the_keys_whose_null_is_unset_take_null_in_the_schema_and_the_loader():
    # The keys whose defaults moved from the loader into the model (`NULL_IS_UNSET`), and the
    # optional registry password: the agreement above is not a vacuous "both refuse".
    for key in (
        "production",
        "protect",
        "registryPassword",
        "services.event-service.replicas",
        "services.event-service.imagePullPolicy",
        "services.event-service.resources.requests.cpu",
        "services.event-service.resources.requests.memory",
        "services.event-service.resources.limits.memory",
    ):
        values = set_path(FUZZ_BASE.values, tuple(key.split(".")), None)
        assert _loader_verdict(values) is None, key
        assert not _schema_verdict(values), key


def test_the_reference_lists_every_key_of_the_model():
    text = config_reference.DOCS_PATH.read_text()
    for key in (
        "`externalServices.awsAccountId`",
        "`services.<service>.probes.startup.failureThreshold`",
        "`rollout.skipAwait`",
        "`secrets`",
    ):
        assert key in text


def test_the_reference_shows_each_default_the_loader_applies():
    text = config_reference.DOCS_PATH.read_text()
    for row in (
        "| `services.<service>.replicas` | integer | `1` |",
        "| `services.<service>.resources.requests.cpu` | string | `100m` |",
        "| `services.<service>.resources.requests.memory` | string | `128Mi` |",
        "| `services.<service>.resources.limits.memory` | string | `256Mi` |",
        "| `production` | boolean | derived |",
    ):
        assert row in text
    external = {"databaseHost": "db.example.com", "awsAccountId": "123456789012"}
    given = {"externalServices": external}
    bare = load(
        {"environment": "production", "prefix": "p", **given}, stand_in_secrets=True, offline=True
    )
    event = next(s for s in bare.services if s.name == "event-service")
    assert event.replicas == 1
    assert dict(event.resources.requests) == {"cpu": "100m", "memory": "128Mi"}
    assert dict(event.resources.limits) == {"memory": "256Mi"}
    assert bare.environment.production is True and bare.environment.protect is True
    other = load({"environment": "qa", "prefix": "q", **given}, stand_in_secrets=True, offline=True)
    assert other.environment.production is False and other.environment.protect is False
    assert (
        "| `services.<service>.imagePullPolicy` | `Always` \\| `IfNotPresent` \\| `Never` | "
        "derived |" in text
    )
    assert event.image_pull_policy == "Always"
    digest = "nginx@sha256:" + "0" * 64
    pinned = load(
        {
            "environment": "qa",
            "prefix": "q",
            **given,
            "services": {"event-service": {"image": digest}},
        },
        stand_in_secrets=True,
        offline=True,
    )
    assert next(s for s in pinned.services if s.name == "event-service").image_pull_policy == (
        "IfNotPresent"
    )
