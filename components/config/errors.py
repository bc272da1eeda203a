"""Validation problems as one line each: `key: what is wrong and what to write instead`."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from components.config.coercions import kind_of
from components.config.model import StackSettings, unwrap

PREFIX = "invalid stack config: "

SECRET_PLACEHOLDER = "[secret]"
"""What a secret value reads as wherever it is shown: renders, summaries, error messages."""

SECRET_KEYS = ("secrets", "registryPassword")
"""Top-level keys whose values are secrets and must be stored `secure:`."""


class ConfigError(pulumi.RunError):
    """Stack config that cannot be deployed; the message names each offending key."""


def raise_if_any(problems: Sequence[str]) -> None:
    if problems:
        raise ConfigError(PREFIX + "; ".join(_one_line(p) for p in problems))


def _one_line(text: str) -> str:
    # A key as written may hold a line break (`"a\nb": 1` in YAML); the message stays one line.
    return "".join(c.encode("unicode_escape").decode() if not c.isprintable() else c for c in text)


def key_path(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` when a known name is close to `name`, else nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return f"; did you mean {close[0]!r}?" if close else ""


def allowed_keys(loc: Sequence[Any], root: type[BaseModel] | None = None) -> list[str] | None:
    """The keys the model accepts at `loc` (a location in the config), or None if not a model.

    `root` defaults to `StackSettings`.
    """
    node: Any = root or StackSettings
    for part in loc:
        node = unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = {(f.alias or n): f for n, f in node.model_fields.items()}
            if part not in fields:
                return None
            node = fields[part].annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        else:
            return None
    node = unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return None


def _shown(loc: Sequence[Any], value: Any) -> str:
    if loc and loc[0] in SECRET_KEYS:
        return SECRET_PLACEHOLDER
    return repr(value)


def describe(error: Any) -> str:
    """One pydantic error as `key: problem`."""
    loc = [part for part in error["loc"] if part != "[key]"]
    key = key_path(loc)
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        how = (
            f"`pulumi config set {key} <value>`"
            if len(loc) == 1
            else f"`pulumi config set --path '{key}' <value>`"
        )
        return f"{key}: is required; set it with {how}"
    if kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1]) or []
        hint = did_you_mean(str(loc[-1]), allowed) or f" (allowed: {', '.join(sorted(allowed))})"
        return f"{key}: unknown key{hint}"
    if kind == "value_error":
        return f"{key}: {ctx['error']}"
    if kind in ("string_type", "str_type"):
        return f"{key}: must be a string, not {kind_of(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"{key}: must be a mapping, not {kind_of(value)}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"{key}: must be a list, not {kind_of(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{key}: must be true or false, not {_shown(loc, value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{key}: must be a whole number, not {_shown(loc, value)}"
    if kind == "greater_than_equal":
        return f"{key}: must be {ctx['ge']} or more, not {value}"
    if kind == "less_than_equal":
        return f"{key}: must be {ctx['le']} or less, not {value}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{key}: {_shown(loc, value)} is not one of {expected}"
    if kind == "string_too_short":
        return f"{key}: must not be empty"
    return f"{key}: {error['msg']}"


def problems_of(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        if item["type"] == "default_factory_not_called":
            # A default derived from a key that failed: that key's own error says what to fix.
            continue
        line = describe(item)
        if line not in lines:
            lines.append(line)
    return lines
