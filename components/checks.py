"""Small validators for stack config that collect every problem instead of stopping at the first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_NAME = 63

_QUANTITY = re.compile(r"^([+]?[0-9]+(?:\.[0-9]*)?|[+]?\.[0-9]+)([a-zA-Z]{0,2})$")
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
}


def kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


def parse_quantity(value: str) -> Decimal | None:
    """A Kubernetes resource quantity (`100m`, `128Mi`, `2`) as a number, or None if malformed."""
    match = _QUANTITY.match(value)
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


class Checker:
    """Collects problems as `key: what is wrong`, so one run names all of them."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, key: str, problem: str) -> None:
        self.errors.append(f"{key}: {problem}")

    def mapping(self, key: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"must be a mapping, not {kind_of(value)}")
            return {}
        return value

    def unknown_keys(self, key: str, value: Mapping[str, Any], allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in sorted(set(value) - allowed, key=str):
            self.fail(f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def variable_name(self, key: str, name: Any) -> bool:
        """An environment variable name any shell and Kubernetes accept (`BAD=NAME` is not)."""
        if ENV_NAME.match(str(name)):
            return True
        self.fail(
            key, "not a valid variable name (letters, digits and '_', not starting with a digit)"
        )
        return False

    def label(self, key: str, value: Any, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                self.fail(key, f"is required; set it with `pulumi config set {key} <value>`")
            return None
        if not isinstance(value, str) or not DNS_LABEL.match(value) or len(value) > MAX_NAME:
            self.fail(
                key,
                f"{value!r} is not a DNS label (lower-case letters, digits and '-', "
                "starting with a letter, at most 63 characters)",
            )
            return None
        return value

    def integer(self, key: str, value: Any, *, default: int, minimum: int = 0) -> int:
        if value is None:
            return default
        # JSON from the CLI may carry 2 as 2.0; a bool is an int in Python but never a count.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # a top-level key arrives from the CLI as a string
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be a whole number, not {value!r}")
            return default
        if value < minimum:
            self.fail(key, f"must be {minimum} or more, not {value}")
            return default
        return value

    def boolean(self, key: str, value: Any, *, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
            return default
        return value

    def string(self, key: str, value: Any, *, default: str | None = None) -> str | None:
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {kind_of(value)}")
            return default
        return value

    def strings(self, key: str, value: Any, *, default: tuple[str, ...]) -> tuple[str, ...]:
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, f"must be a list of strings, not {kind_of(value)}")
            return default
        return tuple(value)

    def quantity(self, key: str, value: Any) -> tuple[str, Decimal] | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or parse_quantity(value) is None:
            self.fail(key, f"{value!r} is not a Kubernetes quantity (e.g. 250m, 1, 256Mi, 1Gi)")
            return None
        return value, parse_quantity(value)  # type: ignore[return-value]
