"""The stack file as written on disk, and the rules only it can check.

The YAML is read as strictly as the Pulumi CLI reads it: a key given twice is refused (the CLI
refuses it; PyYAML would keep the last value), and so is a plain scalar that YAML 1.1 turns into
a boolean or number that does not read back as written (`version: 1.10` is the number 1.1,
`FEATURE_X: yes` the boolean true, where the CLI's YAML 1.2 keeps `1.10` and `yes`): the message
says to quote it.

Which values are `secure:`: the engine hands a program the whole `secrets` object as one secret
as soon as any leaf of it is `secure:` (pulumi `sdk/go/common/resource/config/object.go`), so a
leaf set without `--secret` next to secure ones cannot be told apart at run time. The file can:
the render checks it, and `pulumi up` checks `Pulumi.<stack>.yaml` where it exists.

This is the one reader of stack files: the program, the tools (`tools/stack_config.py`) and the
pipeline (`pipeline/ci.py`, `pipeline/release.py`) all parse them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from components.config.errors import SECRET_KEYS, SECRET_PLACEHOLDER, did_you_mean

__all__ = [
    "SECRET_KEYS",
    "SECRET_PLACEHOLDER",
    "STACK_FILE_KEYS",
    "NotYamlError",
    "StackFileError",
    "is_secure",
    "namespace_problems",
    "parse_yaml",
    "project_values",
    "read_yaml",
    "secure_problems",
    "stack_file_config",
]

_RETYPED = {"tag:yaml.org,2002:bool": "boolean", "tag:yaml.org,2002:int": "number"}
_RETYPED["tag:yaml.org,2002:float"] = "number"


STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
"""The top-level keys of a `Pulumi.<stack>.yaml` (the schema's)."""


class StackFileError(Exception):
    """A project or stack file that cannot be read; the message is one line."""


class NotYamlError(StackFileError):
    """The text does not parse as YAML at all; the other refusals are of YAML that does."""


def read_yaml(path: Path, name: str | None = None) -> Any:
    """The file's one YAML document; raises `StackFileError` naming each key to fix.

    `name` starts each message (default: the file's name).
    """
    name = path.name if name is None else name
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackFileError(f"{name}: no such file") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> Any:
    """`text`'s one YAML document, read as `read_yaml` reads a file; `name` starts each message."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = _strictness_problems(node, "")
        if problems:
            raise StackFileError(f"{name}: " + "; ".join(problems))
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise NotYamlError(f"{name}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()


def _strictness_problems(node: yaml.Node, path: str) -> list[str]:
    """Duplicate keys and scalars YAML would retype, under `node` (at key path `path`)."""
    problems = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in first_line:
                problems.append(
                    f"line {line}: {where} is given twice (first on line {first_line[key]}); "
                    "keep one"
                )
            else:
                first_line[key] = line
            problems += _strictness_problems(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _strictness_problems(item, f"{path}[{index}]")
    elif isinstance(node, yaml.ScalarNode) and node.style is None and node.tag in _RETYPED:
        value = yaml.SafeLoader("").construct_object(node)
        if isinstance(value, bool):
            shown, written = str(value).lower(), node.value.lower()  # True, TRUE: YAML 1.2 too
        else:
            shown, written = str(value), node.value
        if shown != written:
            problems.append(
                f"line {node.start_mark.line + 1}: {path}: {node.value} reads as the "
                f'{_RETYPED[node.tag]} {shown}; quote it ("{node.value}") to keep what you wrote'
            )
    return problems


def stack_file_config(path: Path) -> Mapping[str, Any]:
    """The `config:` map of a stack file, `{}` for an empty file."""
    content = read_yaml(path)
    if content is None:
        return {}
    if not isinstance(content, Mapping):
        raise StackFileError(f"{path.name}: must be a mapping with a `config:` section")
    unknown = [
        f"{key}: unknown key{did_you_mean(str(key), STACK_FILE_KEYS)}"
        for key in content
        if key not in STACK_FILE_KEYS
    ]
    if unknown:
        allowed = ", ".join(STACK_FILE_KEYS)
        raise StackFileError(f"{path.name}: " + "; ".join(unknown) + f" (allowed: {allowed})")
    config = content.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError(f"{path.name}: `config` must be a mapping of keys to values")
    return config


def namespace_problems(keys: Iterable[str], project: str) -> list[str]:
    """`key: problem` for each config key whose namespace looks like a misspelt `project`.

    Another namespace's keys (`kubernetes:context`) are theirs; one that is close to the
    project's (`notification-delivry:prefix`) is a key of ours that would be silently ignored.
    """
    problems = []
    for key in keys:
        namespace, _, name = str(key).rpartition(":")
        if namespace and namespace != project and did_you_mean(namespace, [project]):
            problems.append(
                f"{key}: unknown namespace; did you mean '{project}:{name}'? (the keys of this "
                f"program are `{project}:<key>`)"
            )
    return problems


def project_values(config: Mapping[str, Any], project: str) -> dict[str, Any]:
    """The entries of `project`'s namespace (bare keys belong to it too), without the prefix."""
    values = {}
    for key, value in config.items():
        namespace, _, name = str(key).rpartition(":")
        if namespace in ("", project):
            values[name] = value
    return values


def is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and not is_secure(value):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def secure_problems(values: Mapping[str, Any], stack_file: str) -> list[str]:
    """`key: problem` for each secret stored in plain text and each `secure:` value elsewhere.

    `values` are the project's entries of the stack file, as written (with `secure:` leaves).
    """
    problems = []
    for key, value in values.items():
        for path, leaf in _leaves(value, str(key)):
            secret_place = key in SECRET_KEYS
            if secret_place and not is_secure(leaf) and leaf is not None:
                problems.append(
                    f"{path}: is stored in plain text in {stack_file}; set it with "
                    f"`pulumi config set --secret --path '{path}' <value>`"
                )
            elif not secret_place and is_secure(leaf):
                problems.append(
                    f"{path}: is stored `secure:` but is not a secret setting; secrets belong "
                    "under `secrets.<service>.<VAR>` (or `registryPassword`)"
                )
    return problems
