"""The validated config's sections at run time: read-only records filled by pydantic-core.

`components.config.compiled` declares one `Record` class per model class (same name, same
fields). pydantic-core's model validator creates an instance without calling `__init__` and sets
its `__dict__` and three bookkeeping slots directly, exactly as it does for a pydantic model; so a
record reads like the model instance it stands for (`settings.network.ingress_cidrs`), compares by
value and refuses assignment, without pydantic being imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, TypeVar

_R = TypeVar("_R", bound="Record")


class Record:
    # pydantic-core sets these three on every instance it validates; as slots they stay out of
    # `__dict__`, which holds the fields and nothing else (so `vars(record)` is the section).
    __slots__ = (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), *vars(self).values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({fields})"


def record(cls: type[_R], fields: Mapping[str, Any], fields_set: Iterable[str] = ()) -> _R:
    """An instance of `cls` as pydantic-core would leave it: for defaults written out as source."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", dict(fields))
    object.__setattr__(instance, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance
