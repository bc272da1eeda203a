"""How loose stack-file input becomes a field's value, before the field's own type check.

The Pulumi CLI stores a top-level value as a string (`pulumi config set replicas 2` keeps "2"),
and YAML reads `1` or `true` where the pod will see text. The model attaches these functions as
before-validators; `kind_of` also words the loader's type errors.
"""

from __future__ import annotations

import re
from typing import Any

_WHOLE = re.compile(r"[+-]?[0-9]+")


def kind_of(value: Any) -> str:
    """What a misplaced value is, in a user's words: "a mapping", "a number", ..."""
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


def whole_number(value: Any) -> Any:
    # The CLI stores a top-level value as a string ("2") and JSON may carry 2 as 2.0; a bool is
    # an int to Python but never a count (`replicas: true` is a mistake, not 1).
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value)
    if not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


def flag(value: Any) -> Any:
    # `pulumi config set production true` stores the string "true".
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def scalar_text(value: Any) -> Any:
    # A variable's value from YAML may be a number or a boolean; the pod sees text either way.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def account_text(value: Any) -> Any:
    # `accountId: 123456789012` reads as a number from YAML; the account is its 12 digits.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def ingress_on_when_given(value: Any) -> Any:
    # Setting the `ingress` object at all means the stack wants one, unless it says otherwise.
    if isinstance(value, dict) and "enabled" not in value:
        return {**value, "enabled": True}
    return value
