"""The GitHub Actions workflows: schema-valid, pinned, least-privilege, in step with pipeline.ci.

What these checks keep true, whatever later edits do to the YAML:
- every job that runs `pulumi up` previews the same stack with the policy pack first;
- no secret is read outside a job that runs in a GitHub environment, and the environment (and
  kubeconfig secret) each job picks for each stack is the one pipeline.ci.TARGETS names;
- the branch mapping, the drift schedule and the rollback's gates match pipeline.ci;
- only a handful of jobs, none of which hold a secret, may write anything.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import ci
from tools.changes import MARKER
from tools.stack_config import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PULUMI_ACTION = "pulumi/actions@"
SECRET_REF = re.compile(r"secrets\.([A-Za-z0-9_]+)")
WRITERS = {
    # (workflow, job): the write scopes it may hold; none of these jobs may read a secret.
    ("pull-request.yml", "comment"): {"pull-requests"},
    ("pull-request.yml", "preview"): {"pull-requests"},
    ("deploy.yml", "record-release"): {"contents"},
    ("record-release.yml", "tag"): {"contents"},
    ("rollback.yml", "record-release"): {"contents"},
    ("rollback.yml", "pull-request"): {"contents", "pull-requests"},
    ("drift.yml", "issue"): {"issues"},
}
SECRET_HOLDING_WRITERS = {("pull-request.yml", "preview")}
"""pulumi/actions comments the preview itself, so that job holds secrets and one write."""


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


WORKFLOW = {path.name: _load(path) for path in FILES}


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
    ]


def _jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in WORKFLOW.items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def _text(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, width=10_000)


def _pulumi(step: dict[str, Any], command: str) -> bool:
    return (
        step.get("uses", "").startswith(PULUMI_ACTION)
        and step.get("with", {}).get("command") == command
    )


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        check=False,
    )


def select(expression: str, variable: str, value: str) -> str:
    """Evaluate a `${{ v == 'a' && X || v == 'b' && Y || Z }}` chain for `variable == value`.

    The chains in the workflows map a branch or stack to an environment or a secret. Each term
    is `variable == 'literal' && RESULT` or a final default; the result is the RESULT text
    (`'name'` unquoted, or `secrets.NAME` as written).
    """
    inner = expression.strip()
    assert inner.startswith("${{") and inner.endswith("}}"), expression
    terms = [t.strip() for t in inner[3:-2].split("||")]
    for term in terms:
        match = re.fullmatch(rf"{re.escape(variable)} == '([^']*)' && (.+)", term)
        if match is None:
            assert term is terms[-1], f"only the last term may be unconditional: {expression}"
            return term.strip("'")
        if match[1] == value:
            return match[2].strip().strip("'")
    raise AssertionError(f"{expression} has no default")


# --- schema and mapping -----------------------------------------------------------------------


def test_the_workflows() -> None:
    assert set(WORKFLOW) == {
        "deploy.yml",
        "drift.yml",
        "integration.yml",
        "pull-request.yml",
        "record-release.yml",
        "rollback.yml",
    }


def test_workflows_match_the_github_schema() -> None:
    done = _validate(*FILES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    # Proves the validator runs offline and can fail: `runs-on` is required, `step` is no key.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    step:\n      - run: echo\n")
    assert _validate(broken).returncode != 0


def test_branch_to_stack_mapping_is_the_three_environments() -> None:
    assert dict(ci.STACKS) == {"development": "dev", "master": "staging", "production": "prod"}
    assert ci.stack_for_branch("refs/heads/production") == "prod"
    assert ci.stack_for_branch("main") is None
    prod = ci.target_for(stack="prod")
    assert prod is not None
    assert (prod.environment, prod.preview_environment, prod.readonly_environment) == (
        "production",
        "production-preview",
        "production-readonly",
    )
    assert (prod.kubeconfig_secret, prod.readonly_kubeconfig_secret) == (
        "KUBECONFIG_PROD",
        "KUBECONFIG_PROD_READONLY",
    )
    staging = ci.target_for(branch="master")
    assert staging is not None and staging.environment == "staging"


def test_ci_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert ci.main(["stack-for-branch", "development"]) == 0
    assert capsys.readouterr().out == "dev\n"
    assert ci.main(["stack-for-branch", "feature/x"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1

    assert ci.main(["target", "--stack", "staging"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "branch=master" in lines and "readonly-environment=staging-readonly" in lines
    assert ci.main(["target", "--branch", "nope"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1


# --- the wrong-cluster guard (CI half) --------------------------------------------------------

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "prod-eks", "cluster": {"server": "https://prod.example.com"}},
        {"name": "dev-eks", "cluster": {"server": "https://dev.example.com"}},
    ],
    "contexts": [
        {"name": "prod", "context": {"cluster": "prod-eks", "user": "ci"}},
        {"name": "dev", "context": {"cluster": "dev-eks", "user": "ci"}},
    ],
    "users": [{"name": "ci", "user": {"token": "not-a-real-token"}}],
    "current-context": "dev",
}


def _stack(root: Path, cluster: dict[str, str] | None) -> None:
    config: dict[str, Any] = {"notification-delivery:environment": "production"}
    if cluster is not None:
        config["notification-delivery:cluster"] = cluster
    (root / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": config}))


def _check(tmp_path: Path, cluster: dict[str, str] | None, *extra: str) -> tuple[int, str]:
    _stack(tmp_path, cluster)
    kubeconfig = tmp_path / "kubeconfig"
    if not kubeconfig.exists():
        kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    args = ["check-kubeconfig", "prod", str(kubeconfig), "--root", str(tmp_path), *extra]
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.ci", *args], capture_output=True, text=True, cwd=ROOT
    )
    return done.returncode, done.stderr


def test_kubeconfig_with_the_stacks_context_passes_and_becomes_current(tmp_path: Path) -> None:
    code, err = _check(tmp_path, {"context": "prod"}, "--use-context")
    assert code == 0, err
    assert yaml.safe_load((tmp_path / "kubeconfig").read_text())["current-context"] == "prod"


def test_kubeconfig_checks_the_server_when_the_stack_names_one(tmp_path: Path) -> None:
    assert _check(tmp_path, {"context": "prod", "server": "https://prod.example.com"})[0] == 0
    code, err = _check(tmp_path, {"context": "prod", "server": "https://other.example.com"})
    assert code == 1
    assert err == (
        "error: context 'prod' of the kubeconfig for stack prod points at "
        "https://prod.example.com, but the stack deploys to https://other.example.com\n"
    )


def test_kubeconfig_of_another_cluster_is_refused(tmp_path: Path) -> None:
    code, err = _check(tmp_path, {"context": "prod-eu"})
    assert code == 1
    assert "has no context 'prod-eu' (it has: dev, prod)" in err and err.count("\n") == 1


def test_a_stack_that_names_no_context_is_refused(tmp_path: Path) -> None:
    code, err = _check(tmp_path, None)
    assert code == 1
    assert "Pulumi.prod.yaml sets no notification-delivery:cluster.context" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("config: [\n", "not valid YAML"),
        (
            "config:\n  a: 1\n  a: 2\n",
            "line 3: config.a is given twice (first on line 2); keep one",
        ),
    ],
    ids=["not-yaml", "duplicate-key"],
)
def test_the_stack_file_is_read_as_strictly_as_the_program_reads_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    # The program's one reader (components/config/stack_file.py): a key given twice, which the
    # CLI refuses, is refused here too rather than silently kept once.
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    with pytest.raises(ci.CheckError) as error:
        ci.cluster_of("prod", tmp_path)
    assert str(error.value) == f"stack file {path}: {problem}"
    with pytest.raises(ci.CheckError) as error:
        ci.cluster_of("staging", tmp_path)
    assert str(error.value) == f"stack file {tmp_path / 'Pulumi.staging.yaml'}: no such file"


def test_an_empty_kubeconfig_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("\n")  # an unset secret writes an empty file
    code, err = _check(tmp_path, {"context": "prod"})
    assert code == 1 and "empty or not a kubeconfig" in err


def test_every_written_kubeconfig_is_checked_for_its_stack() -> None:
    seen = 0
    for name, job_id, job in _jobs():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if "KUBECONFIG_DATA" not in step.get("env", {}):
                continue
            seen += 1
            run = step["run"]
            assert "~/.kube/config" in run and "KUBECONFIG=" not in run, (name, job_id)
            assert "pipeline.ci check-kubeconfig" in run and "--use-context" in run, (name, job_id)
            later = steps[index + 1 :]
            assert any(_pulumi(s, "preview") or "pulumi refresh" in s.get("run", "") for s in later)
    assert seen == 6  # three deploys, the pull-request preview, the rollback, drift


# --- secrets and environments -----------------------------------------------------------------


def test_no_secret_outside_a_job_with_an_environment() -> None:
    for name, job_id, job in _jobs():
        text = _text(job)
        assert "toJSON(secrets)" not in text and "secrets[" not in text, (name, job_id)
        assert job.get("secrets") != "inherit", (name, job_id)
        if SECRET_REF.search(text):
            assert "environment" in job, f"{name}:{job_id} reads a secret outside an environment"


def _environments(name: str, job: dict[str, Any]) -> dict[str, str]:
    """stack -> the environment this job runs in for it."""
    environment = job["environment"]
    environment = environment["name"] if isinstance(environment, dict) else environment
    if "${{" not in environment:
        stacks = [
            t.stack for t in ci.TARGETS if job.get("if") == f"github.ref_name == '{t.branch}'"
        ]
        assert len(stacks) == 1, (name, job.get("if"))
        return {stacks[0]: environment}
    if environment == "${{ matrix.environment }}":
        return {e["stack"]: e["environment"] for e in job["strategy"]["matrix"]["include"]}
    variable = "github.base_ref" if "github.base_ref" in environment else "inputs.stack"
    return {
        t.stack: select(
            environment, variable, t.branch if variable == "github.base_ref" else t.stack
        )
        for t in ci.TARGETS
    }


def _kind(name: str) -> str:
    if name == "drift.yml":
        return "readonly"
    if name == "pull-request.yml":
        return "preview"
    return "deploy"


def test_each_job_uses_the_environment_and_kubeconfig_pipeline_ci_names() -> None:
    checked = 0
    for name, job_id, job in _jobs():
        if "environment" not in job:
            continue
        kind = _kind(name)
        for stack, environment in _environments(name, job).items():
            target = ci.target_for(stack=stack)
            assert target is not None
            expected_env, expected_secret = {
                "deploy": (target.environment, target.kubeconfig_secret),
                "preview": (target.preview_environment, target.kubeconfig_secret),
                "readonly": (target.readonly_environment, target.readonly_kubeconfig_secret),
            }[kind]
            assert environment == expected_env, (name, job_id, stack)
            (data,) = [
                s["env"]["KUBECONFIG_DATA"]
                for s in job["steps"]
                if "KUBECONFIG_DATA" in s.get("env", {})
            ]
            if "||" in data:
                variable = {"readonly": "matrix.stack", "preview": "github.base_ref"}.get(
                    kind, "inputs.stack"
                )
                key = target.branch if variable == "github.base_ref" else stack
                picked = select(data, variable, key)
                # An unknown stack or branch gets no secret, never another stack's.
                assert select(data, variable, "no-such-stack") == "", data
            else:
                picked = data.removeprefix("${{ ").removesuffix(" }}")
            assert picked == f"secrets.{expected_secret}", (name, job_id, stack, picked)
            checked += 1
    # 3 deploy jobs + 3 stacks each for the preview, the rollback and drift
    assert checked == 12


def test_no_other_stacks_kubeconfig_in_a_deploy_job() -> None:
    deploy = WORKFLOW["deploy.yml"]
    for target in ci.TARGETS:
        job = deploy["jobs"][f"up-{target.stack}"]
        names = set(SECRET_REF.findall(_text(job)))
        assert {n for n in names if n.startswith("KUBECONFIG")} == {target.kubeconfig_secret}


# --- policies before anything changes ---------------------------------------------------------


def _needed(workflow: dict[str, Any], job_id: str) -> list[str]:
    needs = workflow["jobs"][job_id].get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def test_every_up_is_preceded_by_a_policy_preview_of_the_same_stack() -> None:
    ups = 0
    for name, workflow in WORKFLOW.items():
        for job_id, job in workflow["jobs"].items():
            steps = job.get("steps", [])
            for index, step in enumerate(steps):
                runs_up = _pulumi(step, "up") or re.search(r"\bpulumi up\b", step.get("run", ""))
                if not runs_up:
                    continue
                ups += 1
                assert _pulumi(step, "up"), f"{name}:{job_id}: run `up` through pulumi/actions"
                stack = step["with"]["stack-name"]
                assert step["with"]["policyPacks"] == "policy"
                earlier = steps[:index] + [
                    s
                    for needed in _needed(workflow, job_id)
                    for s in workflow["jobs"][needed]["steps"]
                ]
                previews = [
                    s for s in earlier
                    if _pulumi(s, "preview") and s["with"]["stack-name"] == stack
                    and s["with"].get("policyPacks") == "policy"
                ]  # fmt: skip
                assert previews, f"{name}:{job_id}: `up` of {stack} without a policy preview"
                # The preview and the update see the cluster the same way.
                assert previews[-1]["with"].get("refresh") == step["with"].get("refresh")
                # The policy pack's dependencies are installed before the preview runs.
                assert any(
                    s.get("working-directory") == "policy" and s.get("run") == "pulumi install"
                    for s in steps[:index]
                )
    assert ups == 4  # three deploy jobs and the rollback


def test_deploy_triggers_and_jobs(tmp_path: Path) -> None:
    deploy = WORKFLOW["deploy.yml"]
    assert set(deploy["on"]) == {"push", "workflow_dispatch"}
    assert sorted(deploy["on"]["push"]["branches"]) == sorted(ci.STACKS)
    remediate = deploy["on"]["workflow_dispatch"]["inputs"]["remediate-drift"]
    assert (remediate["type"], remediate["default"]) == ("boolean", False)
    for target in ci.TARGETS:
        job = deploy["jobs"][f"up-{target.stack}"]
        assert job["if"] == f"github.ref_name == '{target.branch}'"
        assert job["needs"] == "test"
        assert job["environment"] == target.environment
        (up,) = [s for s in job["steps"] if _pulumi(s, "up")]
        assert up["with"]["stack-name"] == target.stack
        # Patch force only when someone asked for drift remediation. Otherwise the variable is
        # empty, which the provider and its Python SDK both read as unset (an explicit `false`
        # would become a provider input of its own in the state).
        assert up["env"]["PULUMI_K8S_ENABLE_PATCH_FORCE"] == (
            "${{ inputs.remediate-drift && 'true' || '' }}"
        )
        (record,) = [s for s in job["steps"] if s.get("id") == "record"]
        assert f"pulumi stack output release --json --stack {target.stack}" in record["run"]
        assert "pipeline.release record" in record["run"]
    # The three deploy jobs are the same job for three stacks.
    shapes = {
        _text(deploy["jobs"][f"up-{t.stack}"]["steps"])
        .replace(t.kubeconfig_secret, "KUBECONFIG_X")
        .replace(f"stack {t.stack}", "stack X")
        .replace(f"--stack {t.stack}", "--stack X")
        .replace(f"stack-name: {t.stack}", "stack-name: X")
        .replace(f"check-kubeconfig {t.stack} ", "check-kubeconfig X ")
        .replace(f"stack {t.stack}'s", "stack X's")
        for t in ci.TARGETS
    }
    assert len(shapes) == 1


def test_production_waits_for_its_github_environment() -> None:
    job = WORKFLOW["deploy.yml"]["jobs"]["up-prod"]
    assert job["environment"] == "production"
    assert [
        s["env"]["KUBECONFIG_DATA"] for s in job["steps"] if "KUBECONFIG_DATA" in s.get("env", {})
    ] == ["${{ secrets.KUBECONFIG_PROD }}"]


def test_deploys_and_rollbacks_of_a_stack_share_one_queue() -> None:
    deploy, rollback = WORKFLOW["deploy.yml"], WORKFLOW["rollback.yml"]
    for workflow in (deploy, rollback):
        assert workflow["concurrency"]["cancel-in-progress"] is False
    group = deploy["concurrency"]["group"]
    assert (
        group.startswith("pulumi-${{")
        and rollback["concurrency"]["group"] == "pulumi-${{ inputs.stack }}"
    )
    for target in ci.TARGETS:
        assert (
            select(group.removeprefix("pulumi-"), "github.ref_name", target.branch) == target.stack
        )


def test_every_successful_deploy_is_recorded_as_a_release() -> None:
    deploy = WORKFLOW["deploy.yml"]
    record = deploy["jobs"]["record-release"]
    assert record["uses"] == "./.github/workflows/record-release.yml"
    assert sorted(record["needs"]) == sorted(f"up-{t.stack}" for t in ci.TARGETS)
    assert record["permissions"] == {"contents": "write"}
    assert record["with"]["record"] == "".join(
        f"${{{{ needs.up-{t.stack}.outputs.record }}}}" for t in ci.TARGETS
    )
    for target in ci.TARGETS:
        assert f"needs.up-{target.stack}.result == 'success'" in record["if"]

    tagger = WORKFLOW["record-release.yml"]
    assert list(tagger["on"]) == ["workflow_call"]
    (step,) = [s for s in tagger["jobs"]["tag"]["steps"] if s.get("id") == "tag"]
    assert "pipeline.release prepare-tag" in step["run"]
    assert "git/tags" in step["run"] and "refs/tags/$tag" in step["run"]
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"


# --- rollback -----------------------------------------------------------------------------------


def test_rollback_is_manual_and_goes_through_the_deploy_gates() -> None:
    rollback = WORKFLOW["rollback.yml"]
    assert list(rollback["on"]) == ["workflow_dispatch"]
    inputs = rollback["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["options"] == [t.stack for t in ci.TARGETS]
    assert inputs["release"]["required"] is True
    assert inputs["keep-current-secrets"]["default"] is True

    jobs = rollback["jobs"]
    resolve_runs = " ".join(s.get("run", "") for s in jobs["resolve"]["steps"])
    assert (
        'pipeline.release resolve --stack "$STACK" --tag "$TAG" --branch "$GITHUB_REF_NAME"'
        in resolve_runs
    )
    redeploy = jobs["rollback"]
    assert redeploy["needs"] == "resolve"
    assert _environments("rollback.yml", redeploy) == {t.stack: t.environment for t in ci.TARGETS}
    restore = next(s for s in redeploy["steps"] if "pipeline.release restore" in s.get("run", ""))
    install = next(
        s
        for s in redeploy["steps"]
        if "requirements.txt" in s.get("run", "") and ".venv" in s["run"]
    )
    assert redeploy["steps"].index(restore) < redeploy["steps"].index(install)
    assert jobs["record-release"]["uses"] == "./.github/workflows/record-release.yml"
    assert "--rollback-of" in next(s["run"] for s in redeploy["steps"] if s.get("id") == "record")

    pr = jobs["pull-request"]
    assert "environment" not in pr and not SECRET_REF.search(_text(pr))
    run = pr["steps"][-1]["run"]
    assert "pipeline.release restore" in run and 'gh pr create --base "$BRANCH"' in run


# --- drift --------------------------------------------------------------------------------------


def test_drift_runs_on_a_schedule_read_only_for_every_stack() -> None:
    drift = WORKFLOW["drift.yml"]
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in drift["on"]["schedule"]]
    assert len(cron.split()) == 5
    detect = drift["jobs"]["detect"]
    assert [e["stack"] for e in detect["strategy"]["matrix"]["include"]] == [
        t.stack for t in ci.TARGETS
    ]
    assert detect["strategy"]["fail-fast"] is False
    runs = " ".join(s.get("run", "") for s in detect["steps"])
    assert "pulumi refresh --preview-only --expect-no-changes --json" in runs
    assert "pulumi up" not in runs and "pulumi preview" not in runs
    assert "pipeline.drift" in runs and "--pulumi-exit-code" in runs and "--issue-body" in runs
    assert "permissions" not in detect  # the workflow's read-only token

    issue = drift["jobs"]["issue"]
    assert issue["permissions"] == {"issues": "write"}
    assert issue["strategy"]["matrix"]["stack"] == [t.stack for t in ci.TARGETS]
    script = issue["steps"][-1]["run"]
    assert "notification-delivery-drift:$STACK" in script  # pipeline.drift.MARKER
    assert "gh issue create" in script and "gh issue edit" in script and "gh issue close" in script


# --- permissions and pins -----------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_a_commit(path: Path) -> None:
    workflow = WORKFLOW[path.name]
    uses = [step["uses"] for _, step in _steps(workflow) if "uses" in step]
    uses += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    assert uses, "every workflow uses at least checkout"
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-hex commit"
    # The pin says which release it is, so a reviewer can check it and a bot can bump it.
    for line in path.read_text().splitlines():
        if re.match(r"^\s*(- )?uses: (?!\./)", line):
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_one_pin_per_action_across_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in FILES:
        for line in path.read_text().splitlines():
            match = re.search(r"uses: ([^@\s]+)@([0-9a-f]{40}) # (v[\d.]+)$", line)
            if match:
                pins.setdefault(match[1], set()).add(f"{match[2]} {match[3]}")
    assert all(len(v) == 1 for v in pins.values()), pins


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_checkouts_never_keep_credentials(path: Path) -> None:
    for job_id, step in _steps(WORKFLOW[path.name]):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, (path.name, job_id)


def test_token_is_read_only_except_for_a_few_jobs_without_secrets() -> None:
    for name, workflow in WORKFLOW.items():
        assert workflow["permissions"] == {"contents": "read"}, name
    for name, job_id, job in _jobs():
        writes = {scope for scope, level in job.get("permissions", {}).items() if level == "write"}
        assert writes <= WRITERS.get((name, job_id), set()), (name, job_id, writes)
        if writes and (name, job_id) not in SECRET_HOLDING_WRITERS:
            assert "environment" not in job and not SECRET_REF.search(_text(job)), (name, job_id)


# --- pull requests --------------------------------------------------------------------------


def test_ci_runs_what_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text().splitlines()
    # The README's test command, as it stands there, is a line of .ci/run ...
    command = (
        "npm ci --prefix diagram --no-audit --no-fund --loglevel=error"
        " && .venv/bin/python -m pytest"
    )
    assert f"```sh\n{command}\n```" in readme
    assert command in ci_run
    # ... and so are the checks the README says CI runs ...
    prose = " ".join(readme.split())
    assert "scripts/scan.sh" in ci_run
    assert (
        "the scan itself downloads nothing (`skip-download` in `.checkov.yaml`). CI runs it."
        in prose
    )
    schema_check = "check-jsonschema --schemafile schema/stack-config.schema.json Pulumi.*.yaml"
    assert f"CI runs `{schema_check}`" in prose
    assert f".venv/bin/{schema_check}" in ci_run
    # ... and the test job of every pull request and every deploy runs .ci/run.
    for name in ("pull-request.yml", "deploy.yml"):
        runs = [s.get("run", "") for s in WORKFLOW[name]["jobs"]["test"]["steps"]]
        assert ".ci/run" in runs, name


def test_pull_request_review_jobs() -> None:
    pull_request = WORKFLOW["pull-request.yml"]
    assert sorted(pull_request["on"]["pull_request"]["branches"]) == sorted(ci.STACKS)
    jobs = pull_request["jobs"]
    assert set(jobs) >= {"test", "render-diff", "comment", "preview"}

    # Every pull request runs what .ci/run runs (staging against production among it), with no
    # secret.
    test_runs = [s.get("run", "") for s in jobs["test"]["steps"]]
    assert ".ci/run" in test_runs
    assert "\n.venv/bin/python -m tools.parity staging prod\n" in (ROOT / ".ci" / "run").read_text()
    assert "environment" not in jobs["test"]

    # The job that runs the pull request's code cannot write.
    assert "permissions" not in jobs["render-diff"]
    render_runs = "\n".join(s.get("run", "") for s in jobs["render-diff"]["steps"])
    assert "pipeline.ci stack-for-branch" in render_runs
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

    # Fork pull requests never reach the preview; production previews wait for a reviewer.
    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert (
        select(preview["environment"], "github.base_ref", "anything-else") == "production-preview"
    )
    (run,) = (s for s in preview["steps"] if _pulumi(s, "preview"))
    assert run["with"]["comment-on-pr"] is True
    assert run["with"]["edit-pr-comment"] is True
    assert run["with"]["suppress-outputs"] is True
    assert run["with"]["policyPacks"] == "policy"


def test_integration_triggers() -> None:
    workflow = WORKFLOW["integration.yml"]
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule", "pull_request"}
    assert workflow["on"]["pull_request"]["branches"] == ["development"]
    runs = [s.get("run", "") for _, s in _steps(workflow)]
    assert any(r.startswith(".venv/bin/python -m pytest tests/integration -v") for r in runs)


def test_select_evaluates_chains() -> None:
    chain = "${{ v == 'a' && secrets.A || v == 'b' && 'bee' || '' }}"
    assert select(chain, "v", "a") == "secrets.A"
    assert select(chain, "v", "b") == "bee"
    assert select(chain, "v", "c") == ""
    with pytest.raises(AssertionError):
        select("${{ secrets.A || v == 'b' && 'x' }}", "v", "b")
