"""The GitHub Actions workflows: schema-valid, pinned, least-privilege, in step with tools.ci."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import ci
from tools.changes import MARKER
from tools.stack_config import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PULUMI_ACTION = "pulumi/actions@"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
    ]


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return _load(WORKFLOWS / "deploy.yml")


@pytest.fixture(scope="module")
def pull_request() -> dict[str, Any]:
    return _load(WORKFLOWS / "pull-request.yml")


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in FILES} == {"deploy.yml", "integration.yml", "pull-request.yml"}


def test_workflows_match_the_github_schema() -> None:
    done = _validate(*FILES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    # Proves the validator runs offline and can fail: `runs-on` is required, `step` is no key.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    step:\n      - run: echo\n")
    assert _validate(broken).returncode != 0


def test_branch_to_stack_mapping_is_exactly_two_environments() -> None:
    assert dict(ci.STACKS) == {"development": "dev", "production": "prod"}
    assert ci.stack_for_branch("refs/heads/production") == "prod"
    assert ci.stack_for_branch("main") is None


def test_stack_for_branch_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert ci.main(["stack-for-branch", "development"]) == 0
    assert capsys.readouterr().out == "dev\n"
    assert ci.main(["stack-for-branch", "feature/x"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1


def test_deploy_triggers_only_on_push_to_environment_branches(deploy: dict[str, Any]) -> None:
    assert list(deploy["on"]) == ["push"]
    push = deploy["on"]["push"]
    assert set(push) == {"branches"}
    assert sorted(push["branches"]) == sorted(ci.STACKS)


def test_each_deploy_job_runs_the_stack_of_its_branch(deploy: dict[str, Any]) -> None:
    ups = {
        step["with"]["stack-name"]: job_id
        for job_id, step in _steps(deploy)
        if step.get("uses", "").startswith(PULUMI_ACTION)
        and step.get("with", {}).get("command") == "up"
    }
    assert sorted(ups) == sorted(ci.STACKS.values())
    for branch, stack in ci.STACKS.items():
        job = deploy["jobs"][ups[stack]]
        assert job["if"] == f"github.ref_name == '{branch}'"
        needs = job["needs"]
        assert (needs if isinstance(needs, list) else [needs]) == ["test"]
        (up,) = (
            s for s in job["steps"] if s.get("uses", "").startswith(PULUMI_ACTION) and "with" in s
        )
        assert up["with"]["policyPacks"] == "policy"


def test_production_waits_for_its_github_environment(deploy: dict[str, Any]) -> None:
    (prod_job,) = (
        job
        for job_id, step in _steps(deploy)
        if step.get("with", {}).get("stack-name") == "prod"
        for job in [deploy["jobs"][job_id]]
    )
    environment = prod_job["environment"]
    name = environment["name"] if isinstance(environment, dict) else environment
    assert name == "production"
    kubeconfigs = [
        s["env"]["KUBECONFIG_DATA"]
        for s in prod_job["steps"]
        if "env" in s and "KUBECONFIG_DATA" in s["env"]
    ]
    assert kubeconfigs == ["${{ secrets.KUBECONFIG_PROD }}"]


def test_deploys_queue_and_are_never_cancelled(deploy: dict[str, Any]) -> None:
    assert deploy["concurrency"] == {
        "group": "deploy-${{ github.ref_name }}",
        "cancel-in-progress": False,
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_a_commit(path: Path) -> None:
    uses = [step["uses"] for _, step in _steps(_load(path)) if "uses" in step]
    assert uses, "every workflow uses at least checkout"
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-hex commit"
    # The pin says which release it is, so a reviewer can check it and a bot can bump it.
    for line in path.read_text().splitlines():
        if re.match(r"^\s*(- )?uses: (?!\./)", line):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_token_is_read_only(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for job_id, job in workflow["jobs"].items():
        for scope, level in job.get("permissions", {}).items():
            # The only write anywhere: commenting on a pull request.
            assert level in ("read", "none") or (scope, level) == ("pull-requests", "write"), (
                f"{path.name}:{job_id} {scope}: {level}"
            )


def test_pull_request_review_jobs(pull_request: dict[str, Any]) -> None:
    assert sorted(pull_request["on"]["pull_request"]["branches"]) == sorted(ci.STACKS)
    jobs = pull_request["jobs"]
    assert set(jobs) >= {"test", "render-diff", "comment", "preview"}

    # The job that runs the pull request's code cannot write.
    assert "permissions" not in jobs["render-diff"]
    render_runs = "\n".join(s.get("run", "") for s in jobs["render-diff"]["steps"])
    assert "tools.ci stack-for-branch" in render_runs
    assert "tools.changes" in render_runs and "--format markdown" in render_runs
    assert "GITHUB_STEP_SUMMARY" in render_runs
    assert "--check" in render_runs

    # The job that writes runs no pull-request code and survives a read-only fork token.
    comment = jobs["comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert not any("actions/checkout@" in s.get("uses", "") for s in comment["steps"])
    (post,) = comment["steps"]
    assert post["continue-on-error"] is True
    assert post["env"]["MARKER"] == MARKER

    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    (run,) = (s for s in preview["steps"] if s.get("with", {}).get("command") == "preview")
    assert run["with"]["comment-on-pr"] is True
    assert run["with"]["edit-pr-comment"] is True
    assert run["with"]["suppress-outputs"] is True
    assert run["with"]["policyPacks"] == "policy"


def test_integration_triggers(pull_request: dict[str, Any]) -> None:
    del pull_request
    workflow = _load(WORKFLOWS / "integration.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule", "pull_request"}
    assert workflow["on"]["pull_request"]["branches"] == ["development"]
    runs = [s.get("run", "") for _, s in _steps(workflow)]
    assert any(r.startswith(".venv/bin/python -m pytest tests/integration -v") for r in runs)
