"""The stack-file JSON Schema and the config reference, from the model.

    python -m tools.config_reference --write   # rewrite both files
    python -m tools.config_reference --check   # exit 1 if either is stale (CI, tests)

`schema/stack-config.schema.json` describes a whole `Pulumi.<stack>.yaml`: the project's keys
under `config:` with the `notification-delivery:` namespace, `secure:` leaves under `secrets`,
other namespaces' keys (`kubernetes:context`) passed through. `docs/config.md` is the reference
table of every key with its type, default and description. Both come from
`components.config.model`, the model the loader validates with, so neither can drift from what
the loader accepts.

Exit codes: 0 written or fresh; 1 stale (with --check, one line per stale file); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.catalog import CATALOG, ServiceSpec
from components.config.model import StackSettings, unwrap
from components.conventions import PROJECT

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schema" / "stack-config.schema.json"
DOCS_PATH = ROOT / "docs" / "config.md"
SCHEMA_ID = "stack-config.schema.json"

_SECURE = {
    "type": "object",
    "description": "An encrypted value, written by `pulumi config set --secret`.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}
_VARIABLE = "^[A-Za-z_][A-Za-z0-9_]*$"


# ---- JSON Schema --------------------------------------------------------------------------


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _strip_titles(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def stack_file_schema(catalog: Mapping[str, ServiceSpec] = CATALOG) -> dict[str, Any]:
    """The JSON Schema of a stack file, from the model and the catalog's service names."""
    model = _strip_titles(StackSettings.model_json_schema(by_alias=True, mode="validation"))
    properties = model["properties"]
    services = sorted(catalog)
    databases = sorted({spec.database for spec in catalog.values()})
    properties["services"] = {
        **properties["services"],
        "properties": {name: {"$ref": "#/$defs/Service"} for name in services},
        "additionalProperties": False,
    }
    secret_vars = {
        "type": "object",
        "propertyNames": {"pattern": _VARIABLE},
        "additionalProperties": _SECURE,
    }
    properties["secrets"] = {
        "description": properties["secrets"]["description"],
        "anyOf": [
            {
                "type": "object",
                "properties": {name: {"anyOf": [secret_vars, _SECURE]} for name in services},
                "additionalProperties": False,
            },
            _SECURE,
        ],
    }
    # Optional as the model has it: `null` leaves it unset (and is no plain-text secret).
    properties["registryPassword"] = {
        "description": properties["registryPassword"]["description"],
        "anyOf": [{k: v for k, v in _SECURE.items() if k != "description"}, {"type": "null"}],
    }
    external = model["$defs"]["ExternalServices"]["properties"]
    external["databaseHosts"] = {
        **external["databaseHosts"],
        "properties": {db: external["databaseHosts"]["additionalProperties"] for db in databases},
        "additionalProperties": False,
    }
    config = {
        "type": "object",
        "description": f"Stack config: the `{PROJECT}:` keys below, and other namespaces' keys.",
        "properties": {f"{PROJECT}:{key}": value for key, value in properties.items()},
        "required": [f"{PROJECT}:{key}" for key in model.get("required", [])],
        # Another namespace's keys (`kubernetes:context`, `pulumi:...`) are theirs to check.
        "patternProperties": {f"^(?!{PROJECT}:)[^:]+:.+$": {}},
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Pulumi.<stack>.yaml of the {PROJECT} project",
        "description": "Generated from components/config/model.py by "
        "`python -m tools.config_reference --write`; do not edit.",
        "type": "object",
        "properties": {
            "config": config,
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {"description": "Pulumi ESC environments to import."},
        },
        "additionalProperties": False,
        "$defs": model["$defs"],
    }


# ---- reference table ----------------------------------------------------------------------


def _type_text(annotation: Any) -> str:
    annotation = unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is tuple:
        return f"list of {_type_text(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"map of {_type_text(typing.get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return {bool: "boolean", int: "integer", str: "string"}.get(annotation, str(annotation))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory_takes_validated_data:
        # Derived from other keys; the meaning says from which.
        return "derived"
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        # A section whose default is its fields' own defaults is described row by row below.
        if value == type(value)():
            return "see below"
        value = value.model_dump(by_alias=True, exclude_none=True)
        return "`" + json.dumps(value, separators=(", ", ": ")).replace('"', "") + "`"
    if value is None or value == {} or value == ():
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (tuple, list)):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "`"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        inner = unwrap(field.annotation)
        described = (field.description or "").replace("|", "\\|")
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            rows.append((key, "mapping", _default_text(field), described))
            rows += _rows(inner, f"{key}.")
        elif typing.get_origin(inner) is dict:
            value = unwrap(typing.get_args(inner)[1])
            if isinstance(value, type) and issubclass(value, BaseModel):
                rows.append((key, "mapping", "none", described))
                rows += _rows(value, f"{key}.<{name.rstrip('s')}>.")
            else:
                rows.append((key, _type_text(inner), _default_text(field), described))
        else:
            rows.append((key, _type_text(inner), _default_text(field), described))
    return rows


def config_reference() -> str:
    lines = [
        "# Config reference",
        "",
        "<!-- Generated from components/config/model.py by "
        "`python -m tools.config_reference --write`; do not edit. -->",
        "",
        f"Keys are in the project's namespace (`{PROJECT}:<key>` in a stack file; "
        "`pulumi config set <key>` sets them, `--path 'a.b.c'` a nested one). Unknown keys are "
        "refused at every depth. Every value is checked before any resource is registered; a bad "
        "one fails the render (exit 2) and `pulumi preview`/`up` with one line naming the key. "
        "Editors complete and check these keys through `schema/stack-config.schema.json` "
        '([stack-files.md](stack-files.md), "Editing a stack file").',
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, kind, default, meaning in _rows(StackSettings, ""):
        lines.append(f"| `{key}` | {kind} | {default} | {meaning} |")
    lines += [
        "",
        "`<service>` is a catalog service (`components/catalog.py`: "
        + ", ".join(f"`{name}`" for name in sorted(CATALOG))
        + "); `<VAR>` a variable name (letters, digits, `_`). Per-service defaults not shown "
        "(probe path, ingress path, resources) come from the catalog.",
        "",
        "## How config is checked",
        "",
        "`components/config/model.py` declares every key (pydantic v2). The loader validates a "
        "stack's values with that model (`StackSettings.model_validate`), so every value it "
        "takes and every error it reports is the model's; `components/config/checks.py` then "
        "checks what needs several keys or the catalog. A default shown as `derived` follows "
        "from other keys, as its meaning says. The stack file itself is read as strictly as the "
        "Pulumi CLI reads it: a key given twice is refused, and so is a plain value YAML would "
        "turn into another (`version: 1.10` is the number 1.1, `FEATURE_X: yes` the boolean "
        "true): quote it. After changing the model, run `--write`: CI and the tests fail while "
        "the schema or this page is stale.",
        "",
        "The grammars (`components/config/rules.py`: names, labels, quantities, CIDRs, image "
        "references, ARNs, queue URLs) are tested against their consumers' own test suites: "
        "`tests/vectors/*.json` hold the inputs and verdicts (and quantities' amounts) of "
        "Kubernetes apimachinery's validation and quantity tests, Kubernetes' resource-name and "
        "Ingress tests, distribution/reference's tests and botocore's partition data, each with "
        "the commit or version it came from, regenerated by `scripts/vectors/extract.py` "
        "(`tests/components/config/test_vectors.py`; where a field is deliberately stricter, its "
        "test says why). `tests/e2e/test_validators_vs_apiserver.py` sends accepted and refused "
        "values to a real API server in the fields the program puts them. A property test "
        "(`tests/components/config/test_fuzz.py`) sets every key to arbitrary values: each ends "
        "in the one-line message, never a Python exception.",
        "",
    ]
    return "\n".join(lines)


# ---- command ------------------------------------------------------------------------------


def expected_files() -> dict[Path, str]:
    schema = json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"
    return {
        SCHEMA_PATH: schema,
        DOCS_PATH: config_reference(),
    }


def stale_files() -> list[Path]:
    return [
        path
        for path, text in expected_files().items()
        if not path.exists() or path.read_text() != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.config_reference", description=(__doc__ or "").split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the schema and the reference")
    mode.add_argument("--check", action="store_true", help="exit 1 if either is stale")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in expected_files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"{path.relative_to(ROOT)} is stale; run `python -m tools.config_reference --write`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
