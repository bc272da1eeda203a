"""The real engine and control plane the end-to-end tests drive: the toolchain, a cluster, a stack.

Nothing here imitates a component: `pulumi` is the CLI built by scripts/toolchain.sh, the
cluster is scripts/cluster.sh's etcd, kube-apiserver, controller-manager, scheduler and kwok,
and every stack lives in a file state backend of the test's own with passphrase secrets.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.catalog import CATALOG

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
PASSPHRASE = "notification-delivery-e2e-only"
"""Encrypts the test stacks' placeholder secrets in a backend that lives for one run."""
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".ruff_cache", ".pytest_cache", "__pycache__", "rendered", "tests",
    "benchmark", "node_modules",
)  # fmt: skip


def versions() -> dict[str, str]:
    """toolchain/versions.env, the one file that pins the toolchain."""
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "toolchain" / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pins[key] = value
    return pins


def policy_packs_run() -> str | None:
    """None when the built language host can run a Python policy pack, else why it cannot.

    The CLI starts a policy pack through the language host's RunPlugin with the pack's folder
    in `ProgramInfo` and no `program`; a host older than v3.80.0 reads only `program`, so it runs
    `python ""` in the project folder: the program, not the pack (docs/real-engine.md).
    """
    major, minor, _ = (int(p) for p in versions()["PULUMI_LANGUAGE_PYTHON_VERSION"].split("."))
    if (major, minor) >= (3, 80):
        return None
    return (
        "the buildable Python language host (v3.79.0) cannot start a policy pack for this CLI; "
        "the Go module proxy refuses every newer one (docs/real-engine.md)"
    )


def run(
    args: Iterable[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its text; a failure shows the command, its output and errors."""
    argv = [str(a) for a in args]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd,
        input=stdin,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def toolchain_bin() -> Path | None:
    """The toolchain's bin folder for the pinned versions, or None when it is not built."""
    result = run([REPO_ROOT / "scripts" / "toolchain.sh", "--installed"], check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 else None


@dataclass
class Cluster:
    """One control plane started by scripts/cluster.sh in `dir`."""

    dir: Path
    bin: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        document = yaml.safe_load(self.kubeconfig.read_text())
        return document["clusters"][0]["cluster"]["server"]

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
        return env

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as the cluster's administrator (or the identity in `kubeconfig`)."""
        return run(
            ["kubectl", "--context", _current(kubeconfig) if kubeconfig else "admin", *args],
            env=self.env(kubeconfig), check=check, stdin=stdin, timeout=120,
        )  # fmt: skip

    def get(
        self, kind: str, name: str, namespace: str | None = None, managed_fields: bool = False
    ) -> dict[str, Any] | None:
        """The live object, or None when the API server has no such object."""
        args = ["get", kind, name, "-o", "json"]
        if managed_fields:
            args.append("--show-managed-fields")
        if namespace:
            args += ["--namespace", namespace]
        result = self.kubectl(*args, check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return None
            raise AssertionError(result.stderr)
        return json.loads(result.stdout)

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "--namespace", namespace, "-o", "json"]
        if selector:
            args += ["--selector", selector]
        return json.loads(self.kubectl(*args).stdout)["items"]

    def namespaces(self) -> set[str]:
        return {item["metadata"]["name"] for item in json.loads(
            self.kubectl("get", "namespaces", "-o", "json").stdout)["items"]}  # fmt: skip


def _current(kubeconfig: Path) -> str:
    return yaml.safe_load(kubeconfig.read_text())["current-context"]


@dataclass
class Project:
    """A copy of the program with one stack in a file backend of its own, run by the real CLI."""

    dir: Path
    stack: str
    cluster: Cluster
    home: Path
    state: Path
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    kubeconfig: Path | None = None
    """Another identity's kubeconfig (the deployer's), instead of the administrator's."""

    @property
    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{self.stack}.yaml"

    def env(self) -> dict[str, str]:
        env = self.cluster.env(self.kubeconfig)
        # The program's virtualenv first: the language host runs `python3` from PATH.
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
        env["VIRTUAL_ENV"] = str(REPO_ROOT / ".venv")
        env.update(
            PULUMI_HOME=str(self.home),
            PULUMI_BACKEND_URL=f"file://{self.state}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            # Plugins come from PULUMI_HOME, where the fixture installed the built provider.
            PULUMI_IGNORE_AMBIENT_PLUGINS="true",
        )
        env.pop("PULUMI_ACCESS_TOKEN", None)
        return env

    def pulumi(self, *args: str, check: bool = True, timeout: float = 900):
        return run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive", "--color", "never"],
            env=self.env(), cwd=self.dir, check=check, timeout=timeout,
        )  # fmt: skip

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Any command in the program's folder, with the stack's environment (CLI, kubeconfig)."""
        env = {**self.env(), "PYTHON": str(VENV_BIN / "python"), "PYTHONPATH": str(self.dir)}
        return run(args, env=env, cwd=self.dir, check=check)

    def up(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", *args, check=check)

    def preview(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pulumi("preview", *args, check=check)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets").stdout)

    def edit(self, change: Any) -> None:
        """Change the stack file's config in place (keeps its secrets and salt)."""
        document = yaml.safe_load(self.stack_file.read_text())
        change(document["config"])
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def render(self, out: Path) -> dict[tuple[str, str], dict[str, Any]]:
        """`tools.render` of this copy's stack: (kind, name) to manifest."""
        run(
            [VENV_BIN / "python", "-m", "tools.render", self.stack, "--out", out],
            cwd=self.dir, env={**os.environ, "PYTHONPATH": str(self.dir)},
        )  # fmt: skip
        manifests: dict[tuple[str, str], dict[str, Any]] = {}
        for path in sorted(out.glob("*.yaml")):
            manifest = yaml.safe_load(path.read_text())
            manifests[(manifest["kind"], manifest["metadata"]["name"])] = manifest
        return manifests


def new_project(
    root: Path, stack: str, cluster: Cluster, home: Path, secrets: bool = True
) -> Project:
    """Copy the program under `root`, create `stack` in a new file backend and set its secrets."""
    work = root / "program"
    shutil.copytree(REPO_ROOT, work, ignore=COPY_IGNORE)
    # The policy pack's PulumiPolicy.yaml runs it in policy/.venv; the repo's .venv has
    # pulumi-policy, so no install step runs here.
    (work / "policy" / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    (work / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    state = root / "state"
    state.mkdir()
    project = Project(dir=work, stack=stack, cluster=cluster, home=home, state=state)
    project.pulumi("stack", "init", "--secrets-provider", "passphrase")
    if secrets:
        # One `pulumi config set-all --secret` for every required secret (test_changes.py
        # rotates one with `pulumi config set --secret`).
        pairs: list[str] = []
        for spec in CATALOG.values():
            values = {name: f"e2e-{spec.name}-{name.lower()}" for name in spec.required_secrets}
            project.secrets[spec.name] = values
            for name, value in values.items():
                pairs += ["--secret", f"secrets.{spec.name}.{name}={value}"]
        project.pulumi("config", "set-all", "--path", *pairs)
    return project


def decoded(secret: Mapping[str, Any]) -> dict[str, str]:
    """A live Secret's data, decoded."""
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
