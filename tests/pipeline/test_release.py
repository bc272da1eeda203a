"""pipeline.release: release tags, their records, and restoring a release for a rollback.

The git parts run real git in a temporary repository; the tag is an annotated tag as the deploy
workflow creates it through the GitHub API (a tag object whose message is the record).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import release
from tools.stack_config import ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OUTPUTS = {
    "version": "1.4.0",
    "images": {
        "reminder-service": "docker.io/adisakshya/reminder-service:1.4.0-prod",
        "event-service": "docker.io/adisakshya/event-service:1.4.0-prod",
    },
    "configMaps": {
        "reminder-service": "prod-reminder-service-5d41402a",
        "event-service": "prod-event-service-7d793037",
    },
}
DIGEST = "sha256:" + "ab" * 32


def pod(image: str, image_id: str, name: str = "app") -> dict[str, Any]:
    return {
        "spec": {"containers": [{"name": name, "image": image}]},
        "status": {"containerStatuses": [{"name": name, "image": image, "imageID": image_id}]},
    }


# --- tags and records -------------------------------------------------------------------------


def test_next_tag_counts_per_stack() -> None:
    refs = [
        "refs/tags/release/prod/1",
        "refs/tags/release/prod/12",
        "refs/tags/release/prod/3",
        "refs/tags/release/staging/40",
        "refs/tags/release/prod/notanumber",
        "",
    ]
    assert release.next_tag("prod", refs) == "release/prod/13"
    assert release.next_tag("dev", refs) == "release/dev/1"


@pytest.mark.parametrize("tag", ["release/prod", "release/prod/0", "v1.0.0", "release/Prod/1"])
def test_parse_tag_rejects(tag: str) -> None:
    with pytest.raises(release.ReleaseError):
        release.parse_tag(tag)


def test_record_keeps_the_contract_and_the_digests_pods_run() -> None:
    rs, es = OUTPUTS["images"]["reminder-service"], OUTPUTS["images"]["event-service"]
    pods = {
        "items": [
            pod(rs, f"docker.io/adisakshya/reminder-service@{DIGEST}"),
            pod(rs, f"docker-pullable://docker.io/adisakshya/reminder-service@{DIGEST}"),
            # event-service: a re-pushed tag, old and new pods disagree -> no digest recorded
            pod(es, "docker.io/adisakshya/event-service@sha256:" + "01" * 32),
            pod(es, "docker.io/adisakshya/event-service@sha256:" + "02" * 32),
            # a pod of another image (an old ReplicaSet still terminating) does not count
            pod("docker.io/adisakshya/reminder-service:1.3.0-prod", "x@sha256:" + "03" * 32),
        ]
    }
    record = release.make_record("prod", COMMIT, OUTPUTS, pods=pods, run_url="https://run/1")
    assert record["version"] == "1.4.0"
    assert record["images"] == OUTPUTS["images"]
    assert record["configMaps"] == OUTPUTS["configMaps"]
    assert record["digests"] == {
        "reminder-service": f"docker.io/adisakshya/reminder-service@{DIGEST}"
    }
    assert record["run"] == "https://run/1" and "rollbackOf" not in record


def test_a_node_loaded_image_has_no_pullable_digest() -> None:
    rs = OUTPUTS["images"]["reminder-service"]
    record = release.make_record(
        "prod", COMMIT, OUTPUTS, pods={"items": [pod(rs, DIGEST)]}
    )  # fmt: skip
    assert record["digests"] == {}


@pytest.mark.parametrize(
    "outputs",
    [
        None,
        {"images": {}, "configMaps": {}},
        {"version": "1", "images": {"a": 1}, "configMaps": {}},
        {"version": "1", "images": {}, "configMaps": ["a"]},
    ],
)
def test_record_refuses_outputs_that_break_the_contract(outputs: Any) -> None:
    with pytest.raises(release.ReleaseError):
        release.make_record("prod", COMMIT, outputs)


def test_message_round_trip_and_summary_line() -> None:
    record = release.make_record("prod", COMMIT, OUTPUTS, rollback_of="release/prod/4")
    text = release.message("release/prod/9", record)
    head = text.splitlines()[0]
    assert head == (
        "release/prod/9: stack prod, version 1.4.0, commit 0123456789ab "
        "(rollback to release/prod/4)"
    )
    assert release.parse_message(text) == record
    with pytest.raises(release.ReleaseError):
        release.message("release/dev/1", record)


def test_record_cli_prints_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outputs = tmp_path / "release.json"
    outputs.write_text(json.dumps(OUTPUTS))
    assert (
        release.main(["record", "--stack", "prod", "--commit", COMMIT, "--outputs", str(outputs)])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["stack"] == "prod"

    outputs.write_text("{}")
    assert (
        release.main(["record", "--stack", "prod", "--commit", COMMIT, "--outputs", str(outputs)])
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "release.version" in err


# --- stack files ------------------------------------------------------------------------------

RELEASE_STACK = """\
# Production. Comments stay where they are.
config:
  notification-delivery:environment: production
  notification-delivery:prefix: prod
  # the services as released
  notification-delivery:services:
    event-service:
      replicas: 2
  notification-delivery:registryPassword:
    secure: v1:OLDREGISTRY
  notification-delivery:secrets:
    reminder-service:
      DB_PASS:
        secure: v1:OLDPASS
      RETIRED:
        secure: v1:GONE
encryptionsalt: v1:OLDSALT
"""

CURRENT_STACK = """\
config:
  notification-delivery:environment: production
  notification-delivery:prefix: prod
  notification-delivery:services:
    event-service:
      replicas: 5
  notification-delivery:secrets:
    reminder-service:
      DB_PASS:
        secure: v1:NEWPASS
    notification-service:
      FCM_PROJECT_CONFIG:
        secure: v1:NEWFCM
encryptionsalt: v1:NEWSALT
"""


def test_merge_keeps_todays_secrets_and_the_releases_plain_config() -> None:
    merged = release.merge_current_secrets(RELEASE_STACK, CURRENT_STACK)
    data = yaml.safe_load(merged)
    config = data["config"]
    assert config["notification-delivery:services"] == {"event-service": {"replicas": 2}}
    assert config["notification-delivery:secrets"] == {
        "reminder-service": {"DB_PASS": {"secure": "v1:NEWPASS"}},
        "notification-service": {"FCM_PROJECT_CONFIG": {"secure": "v1:NEWFCM"}},
    }
    # A secret set since the release is kept away (removed since -> removed).
    assert "notification-delivery:registryPassword" not in config
    assert data["encryptionsalt"] == "v1:NEWSALT"
    # Everything the merge did not need to touch is byte for byte the release's.
    assert merged.startswith("# Production. Comments stay where they are.\nconfig:\n")
    assert "  # the services as released\n  notification-delivery:services:\n" in merged


def test_merge_with_nothing_to_change_returns_the_file_unchanged() -> None:
    assert release.merge_current_secrets(RELEASE_STACK, RELEASE_STACK) == RELEASE_STACK


def test_a_stack_file_is_read_as_strictly_as_the_program_reads_it() -> None:
    # Through the program's one reader: a key given twice is refused, not kept once and
    # written back.
    with pytest.raises(release.ReleaseError) as error:
        release.pin_digests("config: [\n", {"reminder-service": "x"})
    assert str(error.value) == "the stack file is not valid YAML"
    twice = "config:\n  a: 1\n  a: 2\n"
    with pytest.raises(release.ReleaseError) as error:
        release.merge_current_secrets(twice, RELEASE_STACK)
    assert str(error.value) == (
        "the release's stack file: line 3: config.a is given twice (first on line 2); keep one"
    )


def test_pin_digests_sets_the_image_and_leaves_the_rest() -> None:
    ref = f"docker.io/adisakshya/reminder-service@{DIGEST}"
    pinned = release.pin_digests(RELEASE_STACK, {"reminder-service": ref})
    services = yaml.safe_load(pinned)["config"]["notification-delivery:services"]
    assert services == {"event-service": {"replicas": 2}, "reminder-service": {"image": ref}}
    assert pinned.startswith("# Production.")
    with pytest.raises(release.ReleaseError):
        release.pin_digests(RELEASE_STACK, {"reminder-service": "docker.io/x:1.0"})


def test_edit_stack_file_adds_and_removes_entries() -> None:
    edited = release.edit_stack_file(
        RELEASE_STACK,
        {"notification-delivery:version": "1.2.3", "notification-delivery:prefix": None},
        {"encryptionsalt": None},
    )
    data = yaml.safe_load(edited)
    assert data["config"]["notification-delivery:version"] == "1.2.3"
    assert "notification-delivery:prefix" not in data["config"]
    assert "encryptionsalt" not in data


# --- git: resolve and restore -----------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An environment branch with one tagged release of prod and a later commit."""
    root = tmp_path / "repo"
    (root / "components").mkdir(parents=True)
    git(root, "init", "-q", "-b", "production")
    (root / "Pulumi.yaml").write_text("name: notification-delivery\n")
    (root / "__main__.py").write_text("print('release')\n")
    (root / "components" / "service.py").write_text("VERSION = 1\n")
    (root / "Pulumi.prod.yaml").write_text(RELEASE_STACK)
    (root / "README.md").write_text("docs as released\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "release")
    commit = git(root, "rev-parse", "HEAD")
    record = release.make_record("prod", commit, OUTPUTS)
    git(root, "tag", "-a", "release/prod/1", "-m", release.message("release/prod/1", record))

    (root / "__main__.py").write_text("print('later')\n")
    (root / "components" / "service.py").write_text("VERSION = 2\n")
    (root / "components" / "added_since.py").write_text("NEW = True\n")
    (root / "requirements.txt").write_text("pulumi>=3\n")
    (root / "Pulumi.prod.yaml").write_text(CURRENT_STACK)
    (root / "README.md").write_text("docs of today\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "later")
    return root


def test_resolve_checks_the_tag_and_returns_its_commit(repo: Path) -> None:
    out = release.resolve("prod", "release/prod/1", root=repo, branch="refs/heads/production")
    assert out["commit"] == git(repo, "rev-parse", "release/prod/1^{commit}")
    assert out["branch"] == "production" and out["environment"] == "production"
    assert json.loads(out["record"])["version"] == "1.4.0"


@pytest.mark.parametrize(
    ("stack", "tag", "branch", "message"),
    [
        ("dev", "release/prod/1", None, "is a release of stack prod"),
        (
            "prod",
            "release/prod/1",
            "development",
            "run the rollback of prod from branch production",
        ),
        ("prod", "release/prod/2", None, "release/prod/2"),
        ("qa", "release/qa/1", None, "not a deployed environment"),
    ],
)
def test_resolve_refuses(
    repo: Path, stack: str, tag: str, branch: str | None, message: str
) -> None:
    with pytest.raises(release.ReleaseError, match=message):
        release.resolve(stack, tag, root=repo, branch=branch)


def test_resolve_refuses_a_lightweight_tag(repo: Path) -> None:
    git(repo, "tag", "release/prod/5")
    with pytest.raises(release.ReleaseError, match="not an annotated release tag"):
        release.resolve("prod", "release/prod/5", root=repo)


def test_restore_brings_back_the_program_and_keeps_todays_secrets(repo: Path) -> None:
    commit = git(repo, "rev-parse", "release/prod/1^{commit}")
    pin = {"reminder-service": f"docker.io/adisakshya/reminder-service@{DIGEST}"}
    paths = release.restore("prod", commit, root=repo, keep_current_secrets=True, digests=pin)
    assert set(paths) == {"Pulumi.yaml", "__main__.py", "components", "requirements.txt",
                          "Pulumi.prod.yaml"}  # fmt: skip
    assert (repo / "__main__.py").read_text() == "print('release')\n"
    assert (repo / "components" / "service.py").read_text() == "VERSION = 1\n"
    assert not (repo / "components" / "added_since.py").exists()
    assert not (repo / "requirements.txt").exists()
    # Not part of the program: stays as today.
    assert (repo / "README.md").read_text() == "docs of today\n"
    config = yaml.safe_load((repo / "Pulumi.prod.yaml").read_text())["config"]
    assert config["notification-delivery:services"]["event-service"] == {"replicas": 2}
    assert (
        config["notification-delivery:services"]["reminder-service"]["image"]
        == pin["reminder-service"]
    )
    assert config["notification-delivery:secrets"]["reminder-service"]["DB_PASS"] == {
        "secure": "v1:NEWPASS"
    }
    # Everything is staged: the pull request commits exactly what was deployed.
    assert git(repo, "status", "--porcelain", "--untracked-files=no").splitlines() == [
        "M  Pulumi.prod.yaml",
        "M  __main__.py",
        "D  components/added_since.py",
        "M  components/service.py",
        "D  requirements.txt",
    ]


def test_restore_without_keeping_secrets_takes_the_releases(repo: Path) -> None:
    commit = git(repo, "rev-parse", "release/prod/1^{commit}")
    release.restore("prod", commit, root=repo, keep_current_secrets=False)
    assert (repo / "Pulumi.prod.yaml").read_text() == RELEASE_STACK


def test_restore_cli_errors_are_one_line(repo: Path, capsys: pytest.CaptureFixture) -> None:
    code = release.main(["restore", "--stack", "staging", "--commit", "HEAD", "--root", str(repo)])
    assert code == 1
    assert capsys.readouterr().err == "error: commit HEAD has no Pulumi.staging.yaml\n"


def test_pr_body_says_what_runs_and_what_is_not_rolled_back() -> None:
    body = release.pr_body(
        "prod", "release/prod/4", "release/prod/9", branch="production", commit=COMMIT,
        keep_current_secrets=True,
        pinned={"reminder-service": f"docker.io/adisakshya/reminder-service@{DIGEST}"},
        run_url="https://github.com/o/r/actions/runs/1",
    )  # fmt: skip
    assert "rolled back to `release/prod/4`" in body and "`release/prod/9`" in body
    assert "brings `production` back in line" in body
    assert "today's secrets were kept" in body
    assert f"reminder-service: `docker.io/adisakshya/reminder-service@{DIGEST}`" in body
    assert "data and schema migrations" in body


def test_program_paths_cover_every_local_module_the_program_imports() -> None:
    """A rollback restores PROGRAM_PATHS only: the program must not import anything else of
    this repository, or a rollback would run today's copy of it."""
    local = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()}
    local -= {".venv", ".git"}
    sources = [ROOT / "__main__.py", *sorted((ROOT / "components").rglob("*.py"))]
    imported: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    allowed = {Path(p).stem if p.endswith(".py") else p for p in release.PROGRAM_PATHS}
    assert imported & local <= allowed, imported & local


def test_prepare_tag_numbers_the_tag_and_writes_the_message(tmp_path: Path) -> None:
    """What record-release.yml runs, on the runner's bare Python: no PyYAML needed."""
    record = release.make_record("prod", COMMIT, OUTPUTS, run_url="https://run/2")
    (tmp_path / "record.json").write_text(json.dumps(record))
    (tmp_path / "refs").write_text("refs/tags/release/prod/7\nrefs/tags/release/dev/30\n")
    script = (
        "import sys; sys.modules['yaml'] = None\n"  # any `import yaml` now fails
        "from pipeline.release import main; sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "prepare-tag", "--record", str(tmp_path / "record.json"),
         "--refs", str(tmp_path / "refs"), "--message-out", str(tmp_path / "message")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, f"release/prod/8 {COMMIT}\n"), done.stderr
    assert release.parse_message((tmp_path / "message").read_text()) == record
