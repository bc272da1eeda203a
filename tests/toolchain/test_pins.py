"""The toolchain's pins (toolchain/versions.env) agree with the SDKs the program installs.

The CLI runs the `pulumi` SDK and the provider answers the `pulumi-kubernetes` SDK: each pair must
be one release, or a deploy here proves nothing about the versions a user installs.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from tests.e2e.engine import REPO_ROOT, versions

PAIRS = [("pulumi", "PULUMI_VERSION"), ("pulumi-kubernetes", "PULUMI_KUBERNETES_VERSION")]


def pinned(requirements: Path, package: str) -> str:
    """The exact version `package==X` in a requirements file (a range would not say which)."""
    for line in requirements.read_text().splitlines():
        found = re.fullmatch(rf"{re.escape(package)}==([0-9][^\s#]*)\s*(#.*)?", line.strip())
        if found:
            return found.group(1)
    raise AssertionError(f"{requirements.name} does not pin {package}==<version>")


@pytest.mark.parametrize(("package", "key"), PAIRS)
def test_requirements_pin_the_toolchain_release(package: str, key: str) -> None:
    assert pinned(REPO_ROOT / "requirements.txt", package) == versions()[key]


def test_the_policy_pack_runs_the_same_sdk() -> None:
    assert (
        pinned(REPO_ROOT / "policy" / "requirements.txt", "pulumi") == versions()["PULUMI_VERSION"]
    )


@pytest.mark.parametrize(("package", "key"), PAIRS)
def test_the_installed_sdk_is_the_pinned_one(package: str, key: str) -> None:
    assert metadata.version(package) == versions()[key]


def test_every_pin_is_a_plain_version() -> None:
    pins = versions()
    assert set(pins) == {
        "PULUMI_VERSION", "PULUMI_LANGUAGE_PYTHON_VERSION", "PULUMI_KUBERNETES_VERSION",
        "PULUMI_KUBERNETES_MODULE", "KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION",
        "HELM_VERSION",
    }  # fmt: skip
    for key, value in pins.items():
        pattern = r"v4\.0\.0-\d{14}-[0-9a-f]{12}" if key.endswith("_MODULE") else r"\d+\.\d+\.\d+"
        assert re.fullmatch(pattern, value), f"{key}={value}"
