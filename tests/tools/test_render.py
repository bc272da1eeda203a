"""Where a render may write: never over what it did not write, and to standard output on `-`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.changes import load_render
from tools.render import MARKER, OutputFolderError, Render, marker_text, render, write
from tools.stack_config import ROOT


@pytest.fixture(scope="module")
def dev() -> Render:
    return render("dev")


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (hidden ones too) to its bytes; None for a folder."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def users_folder(folder: Path) -> Path:
    """A folder as a user keeps one: a file, a hidden file, a subfolder, even a YAML file."""
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine\n")
    (folder / ".hidden").write_text("also mine\n")
    (folder / "sub" / "deep.yaml").write_text("kind: Mine\n")
    (folder / "deployment-dev-event-service.yaml").write_text("kind: MyOwnCopy\n")
    return folder


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tools.render", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_new_folder_gets_every_object_and_a_marker_listing_them(dev: Render, tmp_path: Path):
    out = tmp_path / "a" / "b" / "dev"
    paths = write(dev, out)
    assert sorted(p.name for p in paths) == sorted(dev.manifests)
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, *dev.manifests])
    assert (out / MARKER).read_text() == marker_text(sorted(dev.manifests))
    # The marker is no manifest: the change summary reads the folder as before.
    assert load_render(out) == dev.manifests


def test_an_empty_folder_is_written_into(dev: Render, tmp_path: Path):
    write(dev, tmp_path)
    assert load_render(tmp_path) == dev.manifests


def test_an_earlier_render_is_replaced_and_its_stale_files_go(dev: Render, tmp_path: Path):
    out = tmp_path / "dev"
    write(dev, out)
    # An earlier render that wrote one object more than this one and another version of one.
    (out / "ingress-dev-gone.yaml").write_text("kind: Ingress\n")
    (out / "namespace-development.yaml").write_text("kind: Namespace\n")
    (out / MARKER).write_text(marker_text(sorted([*dev.manifests, "ingress-dev-gone.yaml"])))

    write(dev, out)

    assert not (out / "ingress-dev-gone.yaml").exists()
    assert load_render(out) == dev.manifests
    assert (out / MARKER).read_text() == marker_text(sorted(dev.manifests))


def test_a_folder_with_the_users_files_is_refused_and_left_intact(dev: Render, tmp_path: Path):
    folder = users_folder(tmp_path / "mine")
    before = snapshot(folder)
    with pytest.raises(OutputFolderError, match=r"is not empty and is not an earlier render"):
        write(dev, folder)
    assert snapshot(folder) == before


def test_an_earlier_render_holding_a_users_file_is_refused(dev: Render, tmp_path: Path):
    out = tmp_path / "dev"
    write(dev, out)
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=r"also holds files it did not write \(notes.txt\)"):
        write(dev, out)
    assert snapshot(out) == before


def test_a_folder_where_a_listed_file_was_is_not_the_renders(dev: Render, tmp_path: Path):
    out = tmp_path / "dev"
    write(dev, out)
    listed = sorted(dev.manifests)[0]
    (out / listed).unlink()
    (out / listed).mkdir()
    (out / listed / "kept.txt").write_text("mine\n")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=listed):
        write(dev, out)
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "marker",
    [
        "my own notes about this folder\n",  # a `.render` of the user's, not a render's marker
        marker_text(["../outside.yaml"]),  # a marker that names a file elsewhere
    ],
)
def test_a_marker_the_render_did_not_write_is_no_licence(dev: Render, tmp_path: Path, marker: str):
    out = tmp_path / "dev"
    out.mkdir()
    (out / MARKER).write_text(marker)
    (out / "notes.txt").write_text("mine\n")
    (tmp_path / "outside.yaml").write_text("kind: Mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(OutputFolderError, match="is not an earlier render"):
        write(dev, out)
    assert snapshot(tmp_path) == before


def test_a_file_is_refused(dev: Render, tmp_path: Path):
    out = tmp_path / "dev.yaml"
    out.write_text("mine\n")
    with pytest.raises(OutputFolderError, match="is not a folder"):
        write(dev, out)
    assert out.read_text() == "mine\n"


def test_the_cli_refuses_the_users_folder_with_one_line_and_exit_2(tmp_path: Path):
    folder = users_folder(tmp_path / "mine")
    before = snapshot(folder)

    done = cli("dev", "--out", str(folder))

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {folder} is not empty and is not an earlier render (no {MARKER} file from one); "
        f"nothing written: give --out a new or empty folder, or move away what {folder} holds"
    ]
    assert snapshot(folder) == before


def test_the_cli_refuses_the_working_folder(tmp_path: Path):
    # `--out .` in a checkout: every file stays, hidden ones too.
    checkout = tmp_path / "checkout"
    users_folder(checkout)
    (checkout / ".git").mkdir()
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = snapshot(checkout)

    done = cli("dev", "--out", ".", cwd=checkout)

    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert snapshot(checkout) == before


def test_the_cli_replaces_its_own_earlier_render(tmp_path: Path):
    out = tmp_path / "dev"
    assert cli("dev", "--out", str(out)).returncode == 0
    (out / "secret-dev-gone.yaml").write_text("kind: Secret\n")
    names = (out / MARKER).read_text().splitlines()[2:]
    (out / MARKER).write_text(marker_text(sorted([*names, "secret-dev-gone.yaml"])))

    done = cli("dev", "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert not (out / "secret-dev-gone.yaml").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, *names])


def test_out_dash_writes_one_yaml_stream_and_nothing_else_to_stdout(dev: Render, tmp_path: Path):
    done = cli("dev", "--out", "-", "--check", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("---\n")
    assert list(yaml.safe_load_all(done.stdout)) == list(dev.manifests.values())
    # The summary and the policy verdict go to standard error; no folder is made, not even `-`.
    assert f"wrote {len(dev.manifests)} objects to standard output" in done.stderr
    assert "policy: no violations" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_out_dash_with_bad_config_prints_nothing_on_stdout(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / name).read_text())
    (project / "Pulumi.bad.yaml").write_text("config: [unclosed\n")

    done = cli("bad", "-C", str(project), "--out", "-")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: Pulumi.bad.yaml: not valid YAML")
