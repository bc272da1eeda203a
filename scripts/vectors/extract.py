"""Regenerate tests/vectors/*.json from the upstream test files they are read from.

A maintainer's script, not part of the program: tests/vectors/README.md says when and how to
run it. Each vector file is made from one upstream file at a pinned commit or release (`PINS`);
the upstream file is read from a source named on the command line:

- a git clone of the repository (work tree or bare; it need not be checked out at the commit:
  the file is read with `git show <commit>:<path>`), or
- a directory holding the repository's files (a checkout, or the Go module cache's copy of a
  module release, e.g. `go mod download -json k8s.io/apimachinery@v0.37.2` prints its `Dir`), or
- for botocore, its wheel or sdist from PyPI (`pip download --no-deps botocore==1.43.67`).

A file read from a directory or an archive must be byte-for-byte the pinned one (its SHA-256 is
pinned with it), so every source gives the same JSON. Without `--source`, the Go module cache's
copies of the pinned module releases are used where they exist.

    python scripts/vectors/extract.py --check      # the committed vectors are what it makes
    python scripts/vectors/extract.py              # rewrite tests/vectors/*.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import golit  # noqa: E402
from golit import Call, Composite, Name, assignments, calls, function_body  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "vectors"
NOTE = (
    "Inputs and the verdicts the upstream test asserts, copied as data; 'valid' lists inputs its "
    "test expects accepted, 'invalid' ones it expects refused."
)


@dataclass(frozen=True)
class Upstream:
    """One repository at one commit (or release), and where else its files can be found."""

    repository: str
    commit: str
    """The commit, or "" where only a release tag (`describe`) is known, as of a module's."""
    describe: str
    module: str | None = None
    """A Go module release whose files are those of `commit` (checked by SHA-256 anyway)."""


APIMACHINERY = Upstream(
    "kubernetes/apimachinery",
    "eed236ceee2c19c2753a3d93ac0631dc20750454",
    "kubernetes-1.36.0-alpha.2-226-geed236ce",
    # The release the API server of toolchain/versions.env is built from; these test files are
    # the same in it as at the commit.
    module="k8s.io/apimachinery@v0.37.2",
)
DISTRIBUTION = Upstream(
    "distribution/reference",
    "0965666a6ade2e06035fe352e38344be1e68951a",
    "v0.6.0-22-g0965666",
    # No module release has these tests (v0.6.0 still registers sha512): read them from a clone.
)
BOTOCORE = Upstream(
    "boto/botocore",
    "0e6e2404b85dc336dd2889814e089bde7d1a4c55",
    "0.17.0-12751-g0e6e2404b",
    # botocore 1.43.67 on PyPI ships this commit's partitions.json.
)
KUBERNETES = Upstream(
    "kubernetes/kubernetes",
    "",
    "v1.37.2",
    # The release of toolchain/versions.env's API server; its module has the test files.
    module="k8s.io/kubernetes@v1.37.2",
)
UPSTREAMS = {
    "apimachinery": APIMACHINERY,
    "distribution": DISTRIBUTION,
    "botocore": BOTOCORE,
    "kubernetes": KUBERNETES,
}

# The SHA-256 of each upstream file at its pinned commit.
SHA256 = {
    ("apimachinery", "pkg/util/validation/validation_test.go"): (
        "a601276ca10c7598e9e54543c2159a90f0ce1288d0005cb995d0676464033671"
    ),
    ("apimachinery", "pkg/util/validation/ip_test.go"): (
        "0a12c8de866319e0b73c277b3095a4e052a8863be38c91b085bd650d867619ad"
    ),
    ("apimachinery", "pkg/api/validate/content/identifier_test.go"): (
        "319841c3b56ef8fa0c072a97d4976d7bdb96a097b173f0726ab2ff4d165ca2b3"
    ),
    ("apimachinery", "pkg/api/resource/quantity_test.go"): (
        "4d7cc8093cef72273df481d37d2d89023a2c5bdabd5bc0f295bd0790d1754b5a"
    ),
    ("distribution", "reference_test.go"): (
        "6aa739976693b35386f9f90b5406125bc1a8c38748e49ed8049b07e924987664"
    ),
    ("distribution", "regexp_test.go"): (
        "3e359e31caa7b427b9b6ab2a212a6e00005548af544b4f84efe1cbfb8ac40b29"
    ),
    ("kubernetes", "pkg/apis/core/validation/validation_test.go"): (
        "05c4f784d635be9e505b3cd5ff5b97cd59305a92bdfda825929c696bbcdd86c5"
    ),
    ("kubernetes", "pkg/apis/networking/validation/validation_test.go"): (
        "8de29f088ac701b5efc58e5c027d5f0cba3376d264f7fc0d9441abfb78485504"
    ),
    ("botocore", "botocore/data/partitions.json"): (
        "0caf9dfe139339c47a64e10e61f7ae436e7fb1c94353a4f862b1409d17b3545c"
    ),
}


class SourceError(RuntimeError):
    pass


def _module_dir(module: str) -> Path | None:
    try:
        cache = subprocess.run(
            ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(cache) / module
    return path if path.is_dir() else None


def read(sources: dict[str, Path], name: str, path: str) -> str:
    """The text of `path` in upstream `name` at its pinned commit, from the given source."""
    upstream = UPSTREAMS[name]
    source = sources.get(name)
    if source is None and upstream.module:
        source = _module_dir(upstream.module)
    if source is None:
        raise SourceError(
            f"no source for {upstream.repository}: pass --source {name}=<clone, directory or "
            "archive> (see tests/vectors/README.md)"
        )
    data = _read_from(source, upstream, path)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[(name, path)]:
        raise SourceError(
            f"{source}: {path} is not the file at {upstream.repository}@{upstream.commit[:12]} "
            f"(sha256 {digest[:16]}..., pinned {SHA256[(name, path)][:16]}...)"
        )
    return data.decode("utf-8")


def _read_from(source: Path, upstream: Upstream, path: str) -> bytes:
    if source.is_file():
        return _from_archive(source, path)
    git = subprocess.run(
        ["git", "-C", str(source), "show", f"{upstream.commit or upstream.describe}:{path}"],
        capture_output=True,
        check=False,
    )
    if git.returncode == 0:
        return git.stdout
    file = source / path
    if not file.is_file():
        raise SourceError(f"{source}: neither a clone with {upstream.commit[:12]} nor has {path}")
    return file.read_bytes()


def _from_archive(archive: Path, path: str) -> bytes:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                if member == path or member.endswith(f"/{path}"):
                    return z.read(member)
    else:
        with tarfile.open(archive) as t:
            for member in t.getmembers():
                if member.name.endswith(f"/{path}"):
                    extracted = t.extractfile(member)
                    if extracted is not None:
                        return extracted.read()
    raise SourceError(f"{archive} has no {path}")


def header(name: str, path: str) -> dict[str, str]:
    upstream = UPSTREAMS[name]
    if not upstream.commit:
        return {"repository": upstream.repository, "path": path, "version": upstream.describe}
    return {
        "repository": upstream.repository,
        "path": path,
        "commit": upstream.commit,
        "describe": upstream.describe,
    }


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _strings(value: Any) -> list[str]:
    assert isinstance(value, Composite), value
    out = value.values()
    assert all(isinstance(v, str) for v in out), out
    return out


def good_and_bad(source: str, test: str) -> dict[str, Any]:
    """A test with a list of values it expects accepted, then one it expects refused."""
    (_, good), (_, bad) = assignments(function_body(source, test))
    return {"test": test, "valid": _strings(good), "invalid": _strings(bad)}


# ---- the vector files ----------------------------------------------------------------------


def validation(sources: dict[str, Path]) -> dict[str, Any]:
    path = "pkg/util/validation/validation_test.go"
    source = read(sources, "apimachinery", path)
    rules = [
        "IsDNS1123Label",
        "IsDNS1123Subdomain",
        "IsDNS1035Label",
        "IsQualifiedName",
        "IsValidLabelValue",
        "IsWildcardDNS1123Subdomain",
    ]
    return {
        "source": header("apimachinery", path),
        "note": NOTE,
        "rules": {rule: good_and_bad(source, f"Test{rule}") for rule in rules},
    }


def identifier(sources: dict[str, Path]) -> dict[str, Any]:
    path = "pkg/api/validate/content/identifier_test.go"
    source = read(sources, "apimachinery", path)
    return {
        "source": header("apimachinery", path),
        "note": NOTE,
        "rules": {"IsCIdentifier": good_and_bad(source, "TestIsCIdentifier")},
    }


def ip(sources: dict[str, Path]) -> dict[str, Any]:
    """Each case's verdict under the strict rule (`err`) and the legacy fields' parser, lax
    (`legacyErr`) and strict (`legacyStrictErr`): 'legacy_only' holds what the strict rule
    refuses and the legacy parser accepts even in its strict mode."""
    path = "pkg/util/validation/ip_test.go"
    source = read(sources, "apimachinery", path)
    rules: dict[str, Any] = {}
    for rule in ("IsValidIP", "IsValidCIDR"):
        ((_, cases),) = assignments(function_body(source, f"Test{rule}"))
        verdicts: dict[str, list[str]] = {"valid": [], "invalid": [], "legacy_only": []}
        for case in cases.values():
            legacy = case.field("legacyErr", "") or case.field("legacyStrictErr", "")
            kind = "valid" if not case.field("err", "") else "invalid" if legacy else "legacy_only"
            verdicts[kind].append(case.field("in"))
        rules[rule] = {"test": f"Test{rule}", **verdicts}
    return {"source": header("apimachinery", path), "note": NOTE, "rules": rules}


MAX_INT64 = 2**63 - 1
_GO_NAMES = {"maxAllowed": MAX_INT64}  # math.go: maxAllowed = infDecAmount{(1<<63)-1}


def _amount(expect: Any) -> str:
    """The value a test expects a quantity to have, as a decimal string ("0.000000005" for 5n)."""
    if isinstance(expect, Call) and expect.function == "decQuantity":
        mantissa, scale, _format = expect.args
        value = Decimal(str(mantissa)) * Decimal(10) ** int(scale)
    elif isinstance(expect, Composite) and expect.type == "Quantity":
        value = Decimal(_GO_NAMES[expect.field("d").text])
    elif isinstance(expect, Call) and expect.function == "ptrDec":
        value = Decimal(expect.args[0])
    else:
        raise ValueError(f"cannot read the amount {expect!r}")
    return f"{value.normalize():f}" if value else "0"


def quantity(sources: dict[str, Path]) -> dict[str, Any]:
    path = "pkg/api/resource/quantity_test.go"
    source = read(sources, "apimachinery", path)
    body = function_body(source, "TestQuantityParse")
    tables = dict(assignments(body))
    table, bad = tables["table"], tables["invalid"]
    rows = [case.values() for case in table.values()]
    valid = _unique([input_ for input_, _ in rows])
    # The test also parses every input with a '-' and a '+' before it, and refuses "" first.
    empty = [args[0] for args in calls(body, "ParseQuantity") if args == ("",)]
    limits = dict(assignments(function_body(source, "TestParseQuantity")))["tests"]
    return {
        "source": header("apimachinery", path),
        "note": NOTE,
        "rules": {
            "ParseQuantity": {
                "test": "TestQuantityParse",
                "valid": valid,
                "negated_valid": [f"-{v}" for v in valid],
                "invalid": empty[:1] + _strings(bad),
                # What each parses to, as a decimal: rounded up (away from zero) to a whole
                # nano-unit, and a binary-suffixed amount capped at 2^63-1 (maxAllowed).
                "amounts": {input_: _amount(expect) for input_, expect in rows},
            },
            "ParseQuantityLimits": {
                "test": "TestParseQuantity",
                # Amounts around the int64 limits, signed, as AsDec gives them.
                "amounts": {
                    case.field("input"): _amount(case.field("wantAsDec"))
                    for case in limits.values()
                },
            },
        },
    }


def reference(sources: dict[str, Path]) -> dict[str, Any]:
    path = "reference_test.go"
    source = read(sources, "distribution", path)
    ((_, cases),) = assignments(function_body(source, "TestReferenceParse"))
    valid: list[str] = []
    errors: dict[str, str] = {}
    for case in cases.values():
        error = case.field("err")
        if error is None:
            valid.append(case.field("input"))
        else:
            assert isinstance(error, Name), error
            errors[case.field("input")] = error.text
    return {
        "source": header("distribution", path),
        "note": NOTE,
        "rules": {
            "Parse": {
                "test": "TestReferenceParse",
                "valid": valid,
                "invalid": list(errors),
                "errors": errors,
            }
        },
    }


def domain(sources: dict[str, Path]) -> dict[str, Any]:
    path = "regexp_test.go"
    source = read(sources, "distribution", path)
    ((_, cases),) = assignments(function_body(source, "TestDomainRegexp"))
    verdicts: dict[str, list[str]] = {"valid": [], "invalid": []}
    for case in cases.values():
        verdicts["valid" if case.field("match") else "invalid"].append(case.field("input"))
    return {
        "source": header("distribution", path),
        "note": (
            "Inputs and the verdicts the upstream test asserts, copied as data; 'valid' lists "
            "inputs its test expects matched, 'invalid' ones it expects not matched."
        ),
        "rules": {"DomainRegexp": {"test": "TestDomainRegexp", **verdicts}},
    }


def partitions(sources: dict[str, Path]) -> dict[str, Any]:
    path = "botocore/data/partitions.json"
    data = json.loads(read(sources, "botocore", path))
    return {
        "source": header("botocore", path),
        "note": (
            "Each partition's id, endpoint domain (outputs.dnsSuffix), region pattern "
            "(regionRegex) and regions, copied as data; the *-global pseudo-regions are left out."
        ),
        "partitions": {
            p["id"]: {
                "dnsSuffix": p["outputs"]["dnsSuffix"],
                "regionRegex": p["regionRegex"],
                "regions": sorted(r for r in p["regions"] if not r.endswith("-global")),
            }
            for p in sorted(data["partitions"], key=lambda p: p["id"])
        },
    }


# Constants of k8s.io/api the core validation tests use, as core/v1/types.go defines them.
golit.CONSTANTS["v1.ResourceHugePagesPrefix"] = "hugepages-"
golit.CONVERSIONS.add("core.ResourceName")


def resource_names(sources: dict[str, Path]) -> dict[str, Any]:
    path = "pkg/apis/core/validation/validation_test.go"
    source = read(sources, "kubernetes", path)
    tables = dict(assignments(function_body(source, "TestValidateResourceNames")))
    verdicts: dict[str, list[str]] = {"valid": [], "invalid": []}
    for input_, success, _expect in (case.values() for case in tables["table"].values()):
        verdicts["valid" if success else "invalid"].append(input_)
    return {
        "source": header("kubernetes", path),
        "note": NOTE,
        "rules": {"validateResourceName": {"test": "TestValidateResourceNames", **verdicts}},
    }


def ingress(sources: dict[str, Path]) -> dict[str, Any]:
    """Each Ingress path the test checks, by its pathType: valid if no error is expected."""
    path = "pkg/apis/networking/validation/validation_test.go"
    source = read(sources, "kubernetes", path)
    tables = dict(assignments(function_body(source, "TestValidateIngressRuleValue")))
    rules: dict[str, Any] = {}
    for _name, case in tables["testCases"].items:
        path_type = case.field("pathType").text.removeprefix("networking.PathType")
        rule = rules.setdefault(
            f"IngressPath{path_type}",
            {"test": "TestValidateIngressRuleValue", "valid": [], "invalid": []},
        )
        rule["valid" if not case.field("expectedErrs").items else "invalid"].append(
            case.field("path")
        )
    return {"source": header("kubernetes", path), "note": NOTE, "rules": rules}


FILES: dict[str, Callable[[dict[str, Path]], dict[str, Any]]] = {
    "apimachinery-validation": validation,
    "apimachinery-identifier": identifier,
    "apimachinery-ip": ip,
    "apimachinery-quantity": quantity,
    "distribution-reference": reference,
    "distribution-domain": domain,
    "botocore-partitions": partitions,
    "kubernetes-resource-names": resource_names,
    "kubernetes-ingress": ingress,
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"where to read upstream NAME ({', '.join(UPSTREAMS)}) from",
    )
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("only", nargs="*", help=f"vector files to make (of {', '.join(FILES)})")
    args = parser.parse_args(argv)
    sources: dict[str, Path] = {}
    for item in args.source:
        name, sep, path = item.partition("=")
        if not sep or name not in UPSTREAMS:
            parser.error(f"--source {item}: expected NAME=PATH, NAME one of {', '.join(UPSTREAMS)}")
        sources[name] = Path(path).expanduser()
    different: list[str] = []
    for name in args.only or FILES:
        try:
            text = render(FILES[name](sources))
        except SourceError as error:
            print(f"{name}: {error}", file=sys.stderr)
            return 2
        target = args.out / f"{name}.json"
        if args.check:
            if not target.is_file() or target.read_text() != text:
                different.append(name)
        else:
            target.write_text(text)
    for name in different:
        print(f"{name}.json differs from what {Path(__file__).name} makes", file=sys.stderr)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
