"""pipeline.drift on documents shaped as the engine writes them.

The shape is pulumi's `PreviewDigest` (pkg/display/json.go: `steps[]` of `PreviewStep` with
`op`, `urn`, `provider`, `oldState`/`newState` as `apitype.ResourceV3` (sdk/go/common/apitype/
core.go), `diffReasons`, `detailedDiff` of `{kind, inputDiff}`; `diagnostics[]` of `{urn,
message, severity}`; `changeSummary`; `duration` in nanoseconds), as pkg/backend/display/
json.go fills it for `pulumi refresh --preview-only --json`: every resource's refresh step is
listed with op `refresh`, and one that found a difference is replaced by op `update` with the
provider's (inverted) detailed diff, or by op `delete`. Property paths are written as
pulumi-kubernetes' convertPatchToDiff writes them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import drift
from tools.stack_config import ROOT

STACK = "prod"
NS = "production"
ROOT_URN = "urn:pulumi:prod::notification-delivery::pulumi:pulumi:Stack::notification-delivery-prod"
PROVIDER = "urn:pulumi:prod::notification-delivery::pulumi:providers:kubernetes::prod::04da6b54"
IMAGE = "docker.io/adisakshya/reminder-service:1.0.0-prod"
HAND_EDITED = "docker.io/someone/reminder-service:debug"


def urn(type_: str, name: str) -> str:
    return (
        "urn:pulumi:prod::notification-delivery::notification-delivery:index:Microservice$"
        f"{type_}::{name}"
    )


def state(type_: str, name: str, inputs: dict[str, Any], live: dict[str, Any] | None = None):
    """An `apitype.ResourceV3` as the digest serialises it (secrets already `[secret]`)."""
    outputs = copy.deepcopy(live if live is not None else inputs)
    outputs.setdefault("status", {"observedGeneration": 3})
    outputs["metadata"] = {**outputs.get("metadata", {}), "resourceVersion": "1234"}
    return {
        "urn": urn(type_, name),
        "custom": True,
        "id": f"{NS}/{name}",
        "type": type_,
        "inputs": inputs,
        "outputs": outputs,
        "parent": ROOT_URN,
        "provider": PROVIDER,
    }


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"


def deployment(name: str, image: str = IMAGE, replicas: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "minReadySeconds": 10,
        "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
        "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def hpa(name: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "minReplicas": 2,
            "maxReplicas": 6,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        },
    }


def unchanged(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A refresh step that found nothing: the pre-event, left as op `refresh`."""
    s = state(type_, name, inputs)
    return {
        "op": "refresh",
        "urn": s["urn"],
        "provider": PROVIDER,
        "oldState": s,
        "newState": s,
        "detailedDiff": None,
    }


def drifted(
    type_: str, name: str, before: dict[str, Any], live: dict[str, Any], diff: dict[str, str]
) -> dict[str, Any]:
    """A refresh step rewritten on its outputs event: op `update`, old and refreshed state."""
    old = state(type_, name, before)
    new = state(type_, name, live)
    return {
        "op": "update",
        "urn": old["urn"],
        "provider": PROVIDER,
        "oldState": old,
        "newState": new,
        "diffReasons": sorted({path.split(".")[0].split("[")[0] for path in diff}),
        "detailedDiff": {path: {"kind": kind, "inputDiff": False} for path, kind in diff.items()},
    }


def digest(*steps: dict[str, Any], diagnostics: list[dict[str, Any]] | None = None) -> dict:
    summary: dict[str, int] = {}
    for step in steps:
        op = "same" if step["op"] == "refresh" else step["op"]
        summary[op] = summary.get(op, 0) + 1
    document: dict[str, Any] = {
        "config": {"notification-delivery:environment": "production"},
        "steps": list(steps),
        "duration": 2_512_000_000,
        "changeSummary": summary,
    }
    if diagnostics:
        document["diagnostics"] = diagnostics
    return document


RS = "prod-reminder-service"
ES = "prod-event-service"
QUIET = [
    unchanged(DEPLOYMENT, ES, deployment(ES, replicas=2)),
    unchanged(CONFIG_MAP, "prod-event-service-1f2e3d", {"data": {"LOG_LEVEL": "info"}}),
    unchanged(HPA, RS, hpa(RS, RS)),
]


def run(
    tmp_path: Path,
    document: dict[str, Any] | str,
    *extra: str,
    pulumi_exit: int | None = None,
) -> tuple[int, str, str, Path]:
    path = tmp_path / "refresh.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=4))
    body = tmp_path / "issue.md"
    argv = [str(path), "--stack", STACK, "--issue-body", str(body), *extra]
    if pulumi_exit is not None:
        argv += ["--pulumi-exit-code", str(pulumi_exit)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = drift.main(argv)
    return code, out.getvalue(), err.getvalue(), body


def test_no_drift_exits_0_and_says_so(tmp_path: Path) -> None:
    document = digest(unchanged(DEPLOYMENT, RS, deployment(RS)), *QUIET)
    code, out, err, _ = run(tmp_path, document, pulumi_exit=0)
    assert (code, err) == (drift.NO_DRIFT, "")
    assert out == "stack prod: no drift\n"


def test_a_hand_edited_image_is_drift_with_object_and_field(tmp_path: Path) -> None:
    step = drifted(
        DEPLOYMENT, RS, deployment(RS), deployment(RS, image=HAND_EDITED),
        {"spec.template.spec.containers[0].image": "update"},
    )  # fmt: skip
    code, out, err, body = run(tmp_path, digest(step, *QUIET), pulumi_exit=7)
    assert code == drift.DRIFT and err == ""
    assert "DRIFT in 1 object(s)" in out
    assert f"Deployment {NS}/{RS}: changed" in out
    assert "spec.template.spec.containers[0].image changed in the cluster" in out
    issue = body.read_text()
    assert issue.startswith("<!-- notification-delivery-drift:prod -->\n")
    assert f"Deployment `{NS}/{RS}`" in issue
    assert "`spec.template.spec.containers[0].image` changed" in issue
    # Values never reach the issue (nor the default report): a hand-edited value may be secret.
    assert HAND_EDITED not in issue and IMAGE not in issue and HAND_EDITED not in out


def test_show_values_prints_deployed_and_live_values_but_never_a_secrets(tmp_path: Path) -> None:
    image = drifted(
        DEPLOYMENT, RS, deployment(RS), deployment(RS, image=HAND_EDITED),
        {"spec.template.spec.containers[0].image": "update"},
    )  # fmt: skip
    secret = drifted(
        SECRET, "prod-reminder-service-a1b2c3", {"data": {"DB_PASS": "old-value"}},
        {"data": {"DB_PASS": "hand-set-value"}}, {"data.DB_PASS": "update"},
    )  # fmt: skip
    code, out, _, body = run(tmp_path, digest(image, secret), "--show-values", pulumi_exit=7)
    assert code == drift.DRIFT
    assert f'deployed "{IMAGE}", live "{HAND_EDITED}"' in out
    assert "data.DB_PASS changed in the cluster: deployed [secret], live [secret]" in out
    assert "hand-set-value" not in out + body.read_text()


def test_replicas_under_an_autoscaler_are_not_drift(tmp_path: Path) -> None:
    # The HPA scaled reminder-service to 5; it owns the count. (The provider prunes live state
    # to the program's inputs, so this shows up only where the program still sends replicas;
    # the classification must hold either way.)
    step = drifted(
        DEPLOYMENT, RS, deployment(RS, replicas=2), deployment(RS, replicas=5),
        {"spec.replicas": "update"},
    )  # fmt: skip
    code, out, _, body = run(tmp_path, digest(step, *QUIET), pulumi_exit=7)
    assert code == drift.NO_DRIFT
    assert f"not drift: Deployment {NS}/{RS} spec.replicas (HorizontalPodAutoscaler {RS}" in out
    assert "Not drift (fields that controllers own by design)" in body.read_text()


def test_replicas_without_an_autoscaler_are_drift(tmp_path: Path) -> None:
    # event-service has a fixed count and no HPA: `kubectl scale` on it is drift.
    step = drifted(
        DEPLOYMENT, ES, deployment(ES, replicas=2), deployment(ES, replicas=0),
        {"spec.replicas": "update"},
    )  # fmt: skip
    code, out, _, _ = run(tmp_path, digest(step, unchanged(HPA, RS, hpa(RS, RS))), pulumi_exit=7)
    assert code == drift.DRIFT
    assert f"Deployment {NS}/{ES}: changed" in out and "spec.replicas changed" in out


def test_drift_beside_controller_owned_fields_is_still_drift(tmp_path: Path) -> None:
    step = drifted(
        DEPLOYMENT, RS, deployment(RS, replicas=2), deployment(RS, replicas=4),
        {"spec.replicas": "update", "spec.minReadySeconds": "update"},
    )  # fmt: skip
    code, out, _, _ = run(tmp_path, digest(step, *QUIET), pulumi_exit=7)
    assert code == drift.DRIFT
    assert "spec.minReadySeconds changed" in out
    assert "not drift: Deployment production/prod-reminder-service spec.replicas" in out


def test_server_written_fields_are_not_drift(tmp_path: Path) -> None:
    step = drifted(
        DEPLOYMENT,
        ES,
        deployment(ES, replicas=2),
        deployment(ES, replicas=2),
        {
            "status.observedGeneration": "update",
            "metadata.resourceVersion": "update",
            'metadata.annotations["deployment.kubernetes.io/revision"]': "update",
        },
    )
    code, out, _, _ = run(tmp_path, digest(step), pulumi_exit=7)
    assert code == drift.NO_DRIFT
    assert out.count("not drift:") == 3


def test_an_object_deleted_by_hand_is_drift(tmp_path: Path) -> None:
    s = state(CONFIG_MAP, "prod-reminder-service-9a8b7c", {"data": {"PORT": "8080"}})
    gone = {
        "op": "delete",
        "urn": s["urn"],
        "provider": PROVIDER,
        "oldState": s,
        "detailedDiff": None,
    }
    code, out, _, body = run(tmp_path, digest(gone, *QUIET), pulumi_exit=7)
    assert code == drift.DRIFT
    assert f"ConfigMap {NS}/prod-reminder-service-9a8b7c: deleted from the cluster" in out
    assert "| deleted from the cluster |" in body.read_text()


def test_a_field_removed_by_hand_reads_removed(tmp_path: Path) -> None:
    # The up diff would add the field back; the engine inverts it for a refresh: `delete`.
    step = drifted(
        DEPLOYMENT, ES, deployment(ES, replicas=2),
        {k: v for k, v in deployment(ES, replicas=2).items()},
        {"spec.minReadySeconds": "delete"},
    )  # fmt: skip
    _, out, _, _ = run(tmp_path, digest(step), pulumi_exit=7)
    assert "spec.minReadySeconds removed in the cluster" in out


def test_keys_with_dots_are_bracketed_paths(tmp_path: Path) -> None:
    path = 'metadata.labels["app.kubernetes.io/version"]'
    labelled = deployment(RS)
    labelled["metadata"]["labels"] = {"app.kubernetes.io/version": "1.0.0"}
    edited = copy.deepcopy(labelled)
    edited["metadata"]["labels"]["app.kubernetes.io/version"] = "9.9.9"
    step = drifted(DEPLOYMENT, RS, labelled, edited, {path: "update"})
    code, out, _, _ = run(tmp_path, digest(step), "--show-values", pulumi_exit=7)
    assert code == drift.DRIFT
    assert f'{path} changed in the cluster: deployed "1.0.0", live "9.9.9"' in out


def test_an_immutable_field_says_undoing_it_replaces_the_object(tmp_path: Path) -> None:
    step = drifted(
        DEPLOYMENT, RS, deployment(RS), deployment(RS),
        {'spec.selector.matchLabels["app.kubernetes.io/instance"]': "update-replace"},
    )  # fmt: skip
    _, out, _, body = run(tmp_path, digest(step), pulumi_exit=7)
    assert "(putting it back replaces the object)" in out
    assert "(replaces the object to undo)" in body.read_text()


def test_extra_ignore_rule(tmp_path: Path) -> None:
    step = drifted(
        DEPLOYMENT, ES, deployment(ES), deployment(ES), {"spec.paused": "add"}
    )  # fmt: skip
    assert run(tmp_path, digest(step), pulumi_exit=7)[0] == drift.DRIFT
    code, out, _, _ = run(
        tmp_path, digest(step), "--ignore", "Deployment:spec.paused", pulumi_exit=7
    )
    assert code == drift.NO_DRIFT and "ignored with --ignore" in out


def test_bad_ignore_rule_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, digest(*QUIET), "--ignore", "spec.paused")
    assert exit_info.value.code == 2


def test_changes_without_field_details_are_drift(tmp_path: Path) -> None:
    # A refresh whose provider returned no detailed diff keeps its `refresh` step, but the
    # summary counts the update (the legacy refresh diff behaves so).
    document = digest(*QUIET)
    document["changeSummary"] = {"same": 2, "update": 1}
    code, out, _, body = run(tmp_path, document, pulumi_exit=7)
    assert code == drift.DRIFT
    assert "1 more change(s) without field details" in out
    assert "no field details from the provider" in body.read_text()


def test_an_engine_error_is_an_error_not_no_drift(tmp_path: Path) -> None:
    document = digest(
        *QUIET,
        diagnostics=[
            {
                "urn": urn(DEPLOYMENT, RS),
                "message": 'deployments.apps "prod-reminder-service" is forbidden: User '
                '"system:serviceaccount:ci:reader" cannot get resource "deployments"\n',
                "severity": "error",
            }
        ],
    )
    code, out, err, _ = run(tmp_path, document, pulumi_exit=1)
    assert code == drift.ERROR
    assert out.startswith("stack prod: could not check for drift")
    assert err.count("\n") == 1 and "is forbidden" in err


def test_warnings_are_reported_but_do_not_fail(tmp_path: Path) -> None:
    document = digest(
        *QUIET,
        diagnostics=[
            {"message": "Refreshed resource is in an unhealthy state", "severity": "warning"}
        ],
    )
    code, out, _, _ = run(tmp_path, document, pulumi_exit=0)
    assert code == drift.NO_DRIFT
    assert "warning: Refreshed resource is in an unhealthy state" in out


@pytest.mark.parametrize(
    ("pulumi_exit", "with_drift", "expected"),
    [
        (0, False, drift.NO_DRIFT),
        (7, True, drift.DRIFT),  # --expect-no-changes on CLI 3.227+
        (1, True, drift.DRIFT),  # --expect-no-changes on older CLIs
        (1, False, drift.ERROR),  # failed, and the document shows nothing
        (7, False, drift.ERROR),  # inconsistent
        (3, False, drift.ERROR),  # authentication error
        (255, True, drift.ERROR),  # internal error
        (None, True, drift.DRIFT),  # the document alone
    ],
)
def test_pulumi_exit_status(
    tmp_path: Path, pulumi_exit: int | None, with_drift: bool, expected: int
) -> None:
    steps = list(QUIET)
    if with_drift:
        steps.append(
            drifted(DEPLOYMENT, RS, deployment(RS), deployment(RS, image=HAND_EDITED),
                    {"spec.template.spec.containers[0].image": "update"})
        )  # fmt: skip
    code, _, err, _ = run(tmp_path, digest(*steps), pulumi_exit=pulumi_exit)
    assert code == expected
    assert (err != "") == (expected == drift.ERROR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "printed no JSON"),
        ("error: no stack named 'prod' found\n", "not JSON"),
        (
            '{"sequence":0,"timestamp":1,"preludeEvent":{"config":{}}}\n{"sequence":1}\n',
            "streaming",
        ),
        ('["not", "a digest"]', "not a preview digest"),
    ],
)
def test_unusable_output_is_one_error_line(tmp_path: Path, text: str, message: str) -> None:
    code, out, err, body = run(tmp_path, text, pulumi_exit=0)
    assert code == drift.ERROR and out == ""
    assert err.count("\n") == 1 and message in err
    assert not body.exists()


def test_missing_file_is_one_error_line(tmp_path: Path) -> None:
    code = drift.main([str(tmp_path / "nope.json"), "--stack", STACK])
    assert code == drift.ERROR


def test_preview_refresh_documents_are_read_the_other_way_round(tmp_path: Path) -> None:
    # `pulumi preview --refresh --json`: refresh steps stay op `refresh`; the update that
    # would undo the drift has oldState = refreshed (live) and newState = the program, and its
    # diff is not inverted: `add` means the deploy adds back what was removed by hand.
    live = deployment(ES, replicas=2)
    del live["spec"]["minReadySeconds"]
    refreshed = state(DEPLOYMENT, ES, live)
    program = state(DEPLOYMENT, ES, deployment(ES, replicas=2))
    steps = [
        {"op": "refresh", "urn": program["urn"], "oldState": program, "newState": program,
         "detailedDiff": None},
        {"op": "update", "urn": program["urn"], "provider": PROVIDER, "oldState": refreshed,
         "newState": program, "diffReasons": ["spec"],
         "detailedDiff": {"spec.minReadySeconds": {"kind": "add", "inputDiff": False}}},
        {"op": "create", "urn": urn(CONFIG_MAP, "prod-x"),
         "newState": state(CONFIG_MAP, "prod-x", {}), "detailedDiff": None},
    ]  # fmt: skip
    document = {"steps": steps, "changeSummary": {"same": 1, "update": 1, "create": 1}}
    code, out, _, _ = run(tmp_path, document, "--source", "preview", "--show-values", pulumi_exit=7)
    assert code == drift.DRIFT
    assert "spec.minReadySeconds removed in the cluster: deployed 10, live (absent)" in out
    assert f"ConfigMap {NS}/prod-x: missing from the cluster" in out


def test_streamed_property_diffs_use_diffkind(tmp_path: Path) -> None:
    # apitype.PropertyDiff (the event stream) names the field `diffKind`, the digest `kind`.
    step = drifted(DEPLOYMENT, ES, deployment(ES), deployment(ES), {})
    step["detailedDiff"] = {"spec.minReadySeconds": {"diffKind": "delete", "inputDiff": False}}
    _, out, _, _ = run(tmp_path, digest(step), pulumi_exit=7)
    assert "spec.minReadySeconds removed" in out


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("spec.replicas", ["spec", "replicas"]),
        ("spec.template.spec.containers[0].image",
         ["spec", "template", "spec", "containers", 0, "image"]),
        ('metadata.annotations["pulumi.com/patchForce"]',
         ["metadata", "annotations", "pulumi.com/patchForce"]),
        ('data["a\\"b"]', ["data", 'a"b']),
        ("[2].x", [2, "x"]),
    ],
)  # fmt: skip
def test_parse_path(path: str, parts: list[str | int]) -> None:
    assert drift.parse_path(path) == parts


@pytest.mark.parametrize("path", ['data["open', "items[x]", "items[1"])
def test_parse_path_rejects_broken_paths(path: str) -> None:
    with pytest.raises(ValueError):
        drift.parse_path(path)


def test_iter_fields_lists_what_drifted() -> None:
    step = drifted(
        DEPLOYMENT, RS, deployment(RS), deployment(RS, image=HAND_EDITED),
        {"spec.template.spec.containers[0].image": "update", "spec.replicas": "update"},
    )  # fmt: skip
    report = drift.classify(digest(step, *QUIET), STACK)
    assert list(drift.iter_fields(report)) == [
        (f"Deployment {NS}/{RS}", "spec.template.spec.containers[0].image")
    ]


def test_make_drift_script_runs_a_read_only_refresh_and_classifies_it(tmp_path: Path) -> None:
    """scripts/drift.sh with a stand-in `pulumi` that records its arguments and prints what the
    engine prints on drift: the script's plumbing (flags, exit status, values shown)."""
    step = drifted(
        DEPLOYMENT, RS, deployment(RS), deployment(RS, image=HAND_EDITED),
        {"spec.template.spec.containers[0].image": "update"},
    )  # fmt: skip
    (tmp_path / "digest.json").write_text(json.dumps(digest(step, *QUIET)))
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" > "{tmp_path}/argv"\n'
        f'cat "{tmp_path}/digest.json"\n'
        "exit 7\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "PYTHON": sys.executable}
    done = subprocess.run(
        [str(ROOT / "scripts" / "drift.sh"), "prod"], capture_output=True, text=True, env=env
    )
    assert done.returncode == drift.DRIFT, done.stderr
    assert (tmp_path / "argv").read_text().split() == [
        "refresh", "--preview-only", "--expect-no-changes", "--json", "--non-interactive",
        "--stack", "prod",
    ]  # fmt: skip
    assert f'live "{HAND_EDITED}"' in done.stdout  # people with cluster access see values

    usage = subprocess.run([str(ROOT / "scripts" / "drift.sh")], capture_output=True, text=True)
    assert usage.returncode == drift.ERROR and usage.stderr.startswith("usage:")
