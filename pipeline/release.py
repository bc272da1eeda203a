"""The release ledger: one git tag per successful deploy, and rollbacks to a tagged release.

    python -m pipeline.release record --stack S --commit SHA --outputs release.json
                                      [--pods pods.json]
    python -m pipeline.release next-tag --stack S       < existing tag refs, one per line
    python -m pipeline.release message --tag TAG        < the record (JSON)
    python -m pipeline.release prepare-tag --record FILE --refs FILE --message-out FILE
    python -m pipeline.release resolve --stack S --tag TAG [--branch BRANCH]
    python -m pipeline.release restore --stack S --commit SHA [--keep-current-secrets]
                                       [--pin-digests RECORD_JSON]
    python -m pipeline.release pr-body --stack S --tag TAG --deployed-as TAG [--run-url URL] ...

A deploy records `pulumi stack output release --json` (the program's contract: `version`,
`images` {service: image reference}, `configMaps` {service: ConfigMap name, which carries a
content hash}) and, from `kubectl get pods -o json`, the digest each service's pods actually
run, as an annotated tag `release/<stack>/<n>` on the deployed commit. The tag message is one
summary line and the record as JSON. A rollback restores the program's files (PROGRAM_PATHS)
from a release's commit onto the environment branch, optionally keeping today's secrets and
pinning the recorded digests, so that the rollback deploy and the pull request that follows
it contain exactly the same files.

Exit codes: 0 done; 1 a bad tag, record, stack file or git state (one line on stderr);
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.ci import PROJECT, target_for

TAG = re.compile(r"^release/(?P<stack>[a-z0-9][a-z0-9-]*)/(?P<n>[1-9][0-9]*)$")
PROGRAM_PATHS = ("Pulumi.yaml", "__main__.py", "components", "requirements.txt")
"""What decides what a stack runs, besides its own `Pulumi.<stack>.yaml`. Workflows, this CI
glue, tools, tests, docs and the policy pack stay as they are today: a rollback passes today's
gates."""
ENCRYPTION_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")
"""Top-level stack-file keys that say how its `secure:` values are encrypted."""
SERVICES_KEY = f"{PROJECT}:services"


class ReleaseError(Exception):
    """A user-facing problem; the message is one line."""


# --- tags -------------------------------------------------------------------------------------


def parse_tag(tag: str) -> tuple[str, int]:
    match = TAG.match(tag.removeprefix("refs/tags/"))
    if match is None:
        raise ReleaseError(f"{tag!r} is not a release tag (release/<stack>/<n>)")
    return match["stack"], int(match["n"])


def next_tag(stack: str, refs: Iterable[str]) -> str:
    """`release/<stack>/<n+1>` after the highest existing n of that stack (1 for the first)."""
    highest = 0
    for ref in refs:
        ref = ref.strip()
        if not ref:
            continue
        try:
            tag_stack, n = parse_tag(ref)
        except ReleaseError:
            continue  # another naming scheme under release/; not ours to count
        if tag_stack == stack:
            highest = max(highest, n)
    return f"release/{stack}/{highest + 1}"


# --- the record -------------------------------------------------------------------------------


def _check_release(outputs: Any) -> dict[str, Any]:
    if not isinstance(outputs, Mapping):
        raise ReleaseError("stack output `release` is not an object (is the program too old?)")
    version = outputs.get("version")
    if not isinstance(version, str) or not version:
        raise ReleaseError("stack output `release.version` is missing")
    images = _service_names(outputs, "images")
    return {
        "version": version,
        "images": images,
        "configMaps": _service_names(outputs, "configMaps"),
    }


def _service_names(outputs: Mapping[str, Any], name: str) -> dict[str, str]:
    value = outputs.get(name)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ReleaseError(f"stack output `release.{name}` must map services to names")
    return dict(value)


def _digest_ref(image_id: str) -> str | None:
    """`docker-pullable://repo@sha256:...` or `repo@sha256:...` -> `repo@sha256:...`."""
    ref = image_id.removeprefix("docker-pullable://")
    repository, sep, digest = ref.partition("@sha256:")
    if not sep or not repository or not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None  # a bare `sha256:...` (an image loaded into the node) names no registry
    return ref


def running_digests(images: Mapping[str, str], pods: Any) -> dict[str, str]:
    """service -> the one digest every pod running its deployed image reference runs.

    A service whose pods disagree (a tag re-pushed while pods of both pushes run) or report no
    pullable digest is left out: the record then says only what the program asked for.
    """
    seen: dict[str, set[str | None]] = {}
    items = pods.get("items", []) if isinstance(pods, Mapping) else []
    for pod in items:
        if not isinstance(pod, Mapping):
            continue
        spec = {c.get("name"): c.get("image") for c in pod.get("spec", {}).get("containers", [])}
        for status in pod.get("status", {}).get("containerStatuses", []) or []:
            image = spec.get(status.get("name"))
            for service, ref in images.items():
                if image == ref:
                    seen.setdefault(service, set()).add(_digest_ref(str(status.get("imageID", ""))))
    out: dict[str, str] = {}
    for service, digests in seen.items():
        (only, *others) = digests
        if only is not None and not others:
            out[service] = only
    return out


def make_record(
    stack: str,
    commit: str,
    outputs: Any,
    *,
    pods: Any = None,
    run_url: str | None = None,
    rollback_of: str | None = None,
) -> dict[str, Any]:
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ReleaseError(f"commit {commit!r} is not a full 40-hex commit id")
    release = _check_release(outputs)
    record: dict[str, Any] = {"stack": stack, "commit": commit, **release}
    record["digests"] = running_digests(release["images"], pods) if pods is not None else {}
    if run_url:
        record["run"] = run_url
    if rollback_of:
        parse_tag(rollback_of)
        record["rollbackOf"] = rollback_of
    return record


def message(tag: str, record: Mapping[str, Any]) -> str:
    stack, _ = parse_tag(tag)
    if record.get("stack") != stack:
        raise ReleaseError(f"record is for stack {record.get('stack')!r}, tag {tag} for {stack!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", str(record.get("commit"))):
        raise ReleaseError("the record names no deployed commit")
    _check_release(record)
    head = f"{tag}: stack {stack}, version {record['version']}, commit {record['commit'][:12]}"
    if record.get("rollbackOf"):
        head += f" (rollback to {record['rollbackOf']})"
    return f"{head}\n\n{json.dumps(record, indent=2, sort_keys=True)}\n"


def parse_message(text: str) -> dict[str, Any]:
    start = text.find("\n{")
    if start < 0:
        raise ReleaseError("the tag message carries no release record")
    try:
        record = json.loads(text[start:])
    except json.JSONDecodeError:
        raise ReleaseError("the tag message's release record is not valid JSON") from None
    if not isinstance(record, dict):
        raise ReleaseError("the tag message's release record is not an object")
    return record


# --- git --------------------------------------------------------------------------------------


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ReleaseError(f"git {' '.join(args)}: {detail}")
    return done.stdout


def resolve(stack: str, tag: str, *, root: Path, branch: str | None = None) -> dict[str, str]:
    """Check that `tag` is a release of `stack` run from its branch; its commit and record."""
    tag_stack, _ = parse_tag(tag)
    target = target_for(stack=stack)
    if target is None:
        raise ReleaseError(f"stack {stack!r} is not a deployed environment")
    if tag_stack != stack:
        raise ReleaseError(f"{tag} is a release of stack {tag_stack}, not of {stack}")
    if branch is not None and branch.removeprefix("refs/heads/") != target.branch:
        # The environment's branch rule then applies to the rollback as to any deploy.
        raise ReleaseError(
            f"run the rollback of {stack} from branch {target.branch} (it ran from {branch})"
        )
    if git("cat-file", "-t", f"refs/tags/{tag}", cwd=root).strip() != "tag":
        raise ReleaseError(f"{tag} is not an annotated release tag")
    commit = git("rev-parse", f"refs/tags/{tag}^{{commit}}", cwd=root).strip()
    record = parse_message(
        git("for-each-ref", "--format=%(contents)", f"refs/tags/{tag}", cwd=root)
    )
    if record.get("stack") != stack or record.get("commit") != commit:
        raise ReleaseError(f"{tag}'s record does not match its stack and commit")
    return {
        "commit": commit,
        "record": json.dumps(record, sort_keys=True, separators=(",", ":")),
        "branch": target.branch,
        "environment": target.environment,
    }


# --- stack files ------------------------------------------------------------------------------


def secure_leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """path -> `{secure: ...}` node, for every encrypted value under `value`."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return {path: dict(value)}
        out: dict[tuple[str, ...], Any] = {}
        for key, item in value.items():
            out.update(secure_leaves(item, (*path, str(key))))
        return out
    return {}


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value
    return tree


def _delete(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    nodes = [tree]
    for key in path[:-1]:
        child = nodes[-1].get(key)
        if not isinstance(child, dict):
            return
        nodes.append(child)
    nodes[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):  # drop objects the delete left empty
        if nodes[depth]:
            break
        nodes[depth - 1].pop(path[depth - 1], None)


def _load(text: str, what: str) -> dict[str, Any]:
    # Imported here: tagging a release needs no stack file and runs on the runner's bare Python.
    from components.config.stack_file import NotYamlError, StackFileError, parse_yaml

    try:
        data = parse_yaml(text, what) or {}
    except NotYamlError:
        raise ReleaseError(f"{what} is not valid YAML") from None
    except StackFileError as error:
        raise ReleaseError(str(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
        raise ReleaseError(f"{what} is not a stack file (a mapping with `config:`)")
    return data


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[^\s#][^\n]*?):(?:[ \t]|$)")


def _blocks(lines: list[str], indent: int, start: int, end: int) -> dict[str, tuple[int, int]]:
    """key -> (first line, line after its block) of the keys at `indent` in lines[start:end]."""
    out: dict[str, tuple[int, int]] = {}
    current: str | None = None
    for i in range(start, end):
        match = _KEY_LINE.match(lines[i])
        if match and len(match["indent"]) == indent:
            if current is not None:
                out[current] = (out[current][0], i)
            key = match["key"].strip("'\"")
            out[key] = (i, end)
            current = key
        elif (
            current is not None
            and lines[i].strip()
            and len(lines[i]) - len(lines[i].lstrip()) <= indent
        ):
            out[current] = (out[current][0], i)
            current = None
    return out


def _dump(key: str, value: Any, indent: int) -> list[str]:
    import yaml

    text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=1000)
    return [" " * indent + line for line in text.splitlines()]


def edit_stack_file(text: str, config: Mapping[str, Any], top: Mapping[str, Any]) -> str:
    """Replace (or add, or with None remove) whole config entries and top-level keys.

    Only the entries named are rewritten; every other line, comments included, stays as it is,
    so that a rollback's pull request shows only what really changes.
    """
    lines = text.splitlines()
    top_blocks = _blocks(lines, 0, 0, len(lines))
    if "config" not in top_blocks:
        lines.append("config:")
        top_blocks = _blocks(lines, 0, 0, len(lines))
    start, end = top_blocks["config"]
    body = [line for line in lines[start + 1 : end] if line.strip()]
    body = [line for line in body if not line.lstrip().startswith("#")]
    inner = len(body[0]) - len(body[0].lstrip()) if body else 2
    edits: list[tuple[int, int, list[str]]] = []
    config_blocks = _blocks(lines, inner, start + 1, end)
    for key, value in config.items():
        new = [] if value is None else _dump(key, value, inner)
        if key in config_blocks:
            edits.append((*config_blocks[key], new))
        elif new:
            # Appending after the last config line keeps the entry inside `config:`.
            last = max((b for _, b in config_blocks.values()), default=start + 1)
            edits.append((last, last, new))
    for key, value in top.items():
        new = [] if value is None else _dump(key, value, 0)
        if key in top_blocks:
            edits.append((*top_blocks[key], new))
        elif new:
            edits.append((0, 0, new))
    for first, after, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:after] = new
    return "\n".join(lines) + "\n"


def merge_current_secrets(release_text: str, current_text: str) -> str:
    """The release's stack file with today's encrypted values and encryption settings.

    Every `secure:` value of today's file replaces the release's at the same path; one the
    release had and today's file no longer has is removed. Plain values stay the release's.
    """
    release = _load(release_text, "the release's stack file")
    current = _load(current_text, "today's stack file")
    rel_config, cur_config = release.get("config") or {}, current.get("config") or {}
    changed: dict[str, Any] = {}
    for key in sorted(set(rel_config) | set(cur_config)):
        wanted = secure_leaves(cur_config.get(key), ())
        had = secure_leaves(rel_config.get(key), ())
        if wanted == had:
            continue
        value = json.loads(json.dumps(rel_config.get(key)))  # a deep copy
        if set(had) == {()} or set(wanted) == {()}:  # the whole entry is one secret
            changed[key] = cur_config.get(key) if wanted else None
            continue
        value = value if isinstance(value, dict) else {}
        for path in had:
            if path not in wanted:
                _delete(value, path)
        for path, node in wanted.items():
            _set(value, path, node)
        changed[key] = value or None
    top = {k: current.get(k) for k in ENCRYPTION_KEYS if current.get(k) != release.get(k)}
    return edit_stack_file(release_text, changed, top) if changed or top else release_text


def pin_digests(text: str, digests: Mapping[str, str]) -> str:
    """Set `services.<service>.image` to each recorded digest reference."""
    if not digests:
        return text
    data = _load(text, "the stack file")
    services = json.loads(json.dumps((data.get("config") or {}).get(SERVICES_KEY) or {}))
    if not isinstance(services, dict):
        raise ReleaseError(f"{SERVICES_KEY} is not a mapping")
    for service, ref in sorted(digests.items()):
        if _digest_ref(ref) != ref:
            raise ReleaseError(f"{service}: {ref!r} is not a digest reference")
        entry = services.setdefault(service, {})
        if not isinstance(entry, dict):
            raise ReleaseError(f"{SERVICES_KEY}.{service} is not a mapping")
        entry["image"] = ref
    return edit_stack_file(text, {SERVICES_KEY: services}, {})


def restore(
    stack: str,
    commit: str,
    *,
    root: Path,
    keep_current_secrets: bool,
    digests: Mapping[str, str] | None = None,
) -> list[str]:
    """Put the release's program files into the work tree; the paths it restored."""
    stack_file = f"Pulumi.{stack}.yaml"
    current = (root / stack_file).read_text() if (root / stack_file).exists() else ""
    try:
        release_text = git("show", f"{commit}:{stack_file}", cwd=root)
    except ReleaseError:
        raise ReleaseError(f"commit {commit[:12]} has no {stack_file}") from None
    # A path of either side: `git restore` deletes what the release did not have (files added
    # since), which is what "as then" means; a path neither side has would be an error.
    present = [
        p
        for p in PROGRAM_PATHS
        if git("ls-tree", "--name-only", commit, "--", p, cwd=root)
        or git("ls-files", "--", p, cwd=root)
    ]
    git("restore", f"--source={commit}", "--staged", "--worktree", "--", *present, cwd=root)
    text = (
        merge_current_secrets(release_text, current)
        if keep_current_secrets and current
        else release_text
    )
    (root / stack_file).write_text(pin_digests(text, digests or {}))
    git("add", "--", stack_file, cwd=root)  # `restore --staged` staged the rest
    return [*present, stack_file]


def pr_body(
    stack: str,
    tag: str,
    deployed_as: str,
    *,
    branch: str,
    commit: str,
    keep_current_secrets: bool,
    pinned: Mapping[str, str],
    run_url: str | None,
) -> str:
    run = f" ([run]({run_url}))" if run_url else ""
    secrets = (
        "today's secrets were kept (the stack file's `secure:` values and encryption settings)"
        if keep_current_secrets
        else f"the secrets are those of {tag}"
    )
    lines = [
        f"Stack `{stack}` was rolled back to `{tag}` (commit {commit[:12]}) and now runs it, "
        f"recorded as `{deployed_as}`{run}.",
        "",
        f"This pull request brings `{branch}` back in line with what runs: "
        f"{', '.join(f'`{p}`' for p in PROGRAM_PATHS)} and `Pulumi.{stack}.yaml` as of `{tag}`; "
        f"{secrets}.",
    ]
    if pinned:
        lines.append("Images are pinned to the digests that release ran:")
        lines += [f"- {service}: `{ref}`" for service, ref in sorted(pinned.items())]
    lines += [
        "",
        "Merging it deploys nothing new: its deploy preview should show no changes. Until it is "
        f"merged, `{branch}` is ahead of the cluster and its next deploy rolls forward again.",
        "Not rolled back (docs/operations.md): data and schema migrations, databases and AWS "
        "resources outside this program, the namespace, and Pulumi's state history.",
        "",
        "Pull requests opened with the workflow token start no checks: close and reopen it, or "
        "push to its branch, to run them.",
    ]
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read_text(path, what))
    except json.JSONDecodeError:
        raise ReleaseError(f"{what} {path} is not JSON") from None


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise ReleaseError(f"cannot read {what} {path}: {error.strerror}") from None


def _stdin_json(what: str) -> Any:
    try:
        return json.loads(sys.stdin.read())
    except json.JSONDecodeError:
        raise ReleaseError(f"{what} on stdin is not JSON") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.release", description=(__doc__ or "").split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="the release record of a deploy, as one JSON line")
    rec.add_argument("--stack", required=True)
    rec.add_argument("--commit", required=True, help="the deployed commit (40 hex)")
    rec.add_argument(
        "--outputs", type=Path, required=True, help="`pulumi stack output release --json`"
    )
    rec.add_argument("--pods", type=Path, help="`kubectl get pods -n <namespace> -o json`")
    rec.add_argument("--run-url")
    rec.add_argument("--rollback-of", help="the release tag this deploy rolled back to")
    nxt = commands.add_parser("next-tag", help="the next release tag; existing refs on stdin")
    nxt.add_argument("--stack", required=True)
    msg = commands.add_parser("message", help="the tag message; the record (JSON) on stdin")
    msg.add_argument("--tag", required=True)
    prep = commands.add_parser(
        "prepare-tag", help="print `<next tag> <commit>` of a record; write the tag message"
    )
    prep.add_argument("--record", type=Path, required=True, help="the record (JSON)")
    prep.add_argument("--refs", type=Path, required=True, help="existing tag refs, one a line")
    prep.add_argument("--message-out", type=Path, required=True)
    res = commands.add_parser("resolve", help="check a release tag; print its commit and record")
    res.add_argument("--stack", required=True)
    res.add_argument("--tag", required=True)
    res.add_argument("--branch", help="the branch the rollback runs from")
    res.add_argument("--root", type=Path, default=Path.cwd())
    rst = commands.add_parser("restore", help="put a release's program files into the work tree")
    rst.add_argument("--stack", required=True)
    rst.add_argument("--commit", required=True)
    rst.add_argument("--keep-current-secrets", action="store_true")
    rst.add_argument("--pin-digests", metavar="RECORD_JSON", help="pin the record's digests")
    rst.add_argument("--root", type=Path, default=Path.cwd())
    body = commands.add_parser("pr-body", help="the rollback pull request's description")
    body.add_argument("--stack", required=True)
    body.add_argument("--tag", required=True)
    body.add_argument("--deployed-as", required=True)
    body.add_argument("--commit", required=True)
    body.add_argument("--keep-current-secrets", action="store_true")
    body.add_argument("--pin-digests", metavar="RECORD_JSON")
    body.add_argument("--run-url")
    args = parser.parse_args(argv)

    try:
        if args.command == "record":
            outputs = _read_json(args.outputs, "stack outputs")
            pods = _read_json(args.pods, "pod list") if args.pods else None
            record = make_record(
                args.stack, args.commit, outputs, pods=pods, run_url=args.run_url,
                rollback_of=args.rollback_of,
            )  # fmt: skip
            print(json.dumps(record, sort_keys=True, separators=(",", ":")))
        elif args.command == "next-tag":
            print(next_tag(args.stack, sys.stdin.read().splitlines()))
        elif args.command == "message":
            sys.stdout.write(message(args.tag, _stdin_json("the record")))
        elif args.command == "prepare-tag":
            record = _read_json(args.record, "release record")
            if not isinstance(record, dict) or not isinstance(record.get("stack"), str):
                raise ReleaseError(f"{args.record} is not a release record")
            tag = next_tag(record["stack"], _read_text(args.refs, "tag list").splitlines())
            args.message_out.write_text(message(tag, record))
            print(f"{tag} {record['commit']}")
        elif args.command == "resolve":
            for key, value in resolve(
                args.stack, args.tag, root=args.root, branch=args.branch
            ).items():
                print(f"{key}={value}")
        elif args.command == "restore":
            digests = json.loads(args.pin_digests).get("digests", {}) if args.pin_digests else {}
            paths = restore(
                args.stack, args.commit, root=args.root,
                keep_current_secrets=args.keep_current_secrets, digests=digests,
            )  # fmt: skip
            print(f"restored {', '.join(paths)} from {args.commit[:12]}", file=sys.stderr)
        else:
            target = target_for(stack=args.stack)
            if target is None:
                raise ReleaseError(f"stack {args.stack!r} is not a deployed environment")
            digests = json.loads(args.pin_digests).get("digests", {}) if args.pin_digests else {}
            sys.stdout.write(
                pr_body(
                    args.stack,
                    args.tag,
                    args.deployed_as,
                    branch=target.branch,
                    commit=args.commit,
                    keep_current_secrets=args.keep_current_secrets,
                    pinned=digests,
                    run_url=args.run_url,
                )  # fmt: skip
            )
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (json.JSONDecodeError, AttributeError):
        print("error: --pin-digests must be the release record (a JSON object)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
