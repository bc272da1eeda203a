"""The deploy comparison's own machinery, without the toolchain: what the floor and the peer
are handed, how requests are counted and how a process tree's CPU time is accounted for."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmark import deploy
from benchmark.__main__ import report
from tools.render import render


def _rendered() -> dict[tuple[str, str], dict]:
    manifests = render("dev").manifests.values()
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


SECRETS = {
    name: {key: f"value-{name}-{key}" for key in keys}
    for name, keys in {
        "reminder-service": ("DB_PASS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        "event-service": ("DB_PASS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        "notification-service": (
            "DB_PASS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FCM_PROJECT_CONFIG",
        ),
    }.items()
}  # fmt: skip


def test_the_floor_applies_every_rendered_object_in_dependency_order_with_real_secrets():
    rendered = _rendered()
    manifests = deploy.ordered_manifests(rendered, SECRETS)
    assert len(manifests) == len(rendered)
    kinds = [m["kind"] for m in manifests]
    assert kinds[0] == "Namespace"
    for before in ("ServiceAccount", "Secret", "ConfigMap"):
        assert max(i for i, k in enumerate(kinds) if k == before) < kinds.index("Deployment")
    secrets = [m for m in manifests if m["kind"] == "Secret"]
    assert secrets and all("[secret]" not in json.dumps(s) for s in secrets)
    assert all("[secret]" in json.dumps(m) for m in rendered.values() if m["kind"] == "Secret")


def test_the_chart_holds_exactly_the_rendered_objects(tmp_path: Path):
    manifests = deploy.ordered_manifests(_rendered(), SECRETS)
    deploy.write_chart(manifests, tmp_path / "chart", "1.0.0")
    files = sorted((tmp_path / "chart" / "templates").glob("*.yaml"))
    assert [yaml.safe_load(f.read_text()) for f in files] == manifests
    assert yaml.safe_load((tmp_path / "chart" / "Chart.yaml").read_text())["apiVersion"] == "v2"


def test_the_change_replaces_one_configmap_and_rolls_one_deployment():
    from tools.stack_config import load_stack

    before = render("dev").manifests
    config = load_stack("dev")
    document: dict = {"notification-delivery:services": dict(config.values["services"])}
    document["notification-delivery:services"]["reminder-service"] = dict(
        config.values["services"]["reminder-service"]
    )
    deploy.add_change(document)
    env = document["notification-delivery:services"]["reminder-service"]["env"]
    assert env == {deploy.CHANGE[0]: deploy.CHANGE[1]}
    after = render(
        "dev",
        config=config.edited(
            f"services.{deploy.CHANGED_SERVICE}.env.{deploy.CHANGE[0]}", deploy.CHANGE[1]
        ),
    ).manifests
    gone = {(m["kind"], m["metadata"]["name"]) for m in before.values()} - {
        (m["kind"], m["metadata"]["name"]) for m in after.values()}  # fmt: skip
    assert [kind for kind, _ in gone] == ["ConfigMap"]


def test_requests_are_counted_once_per_audit_id_within_each_window(tmp_path: Path):
    def event(audit_id: str, at: float, user: str = deploy.ADMIN, agent: str = "kubectl/v1.37.2",
              stage: str = "ResponseComplete") -> str:  # fmt: skip
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"
        return json.dumps({"auditID": audit_id, "stage": stage, "user": {"username": user},
                           "userAgent": agent, "requestReceivedTimestamp": stamp})  # fmt: skip

    log = tmp_path / "audit.log"
    log.write_text("\n".join([
        event("a", 100.5), event("b", 101.0, stage="ResponseStarted"), event("b", 101.0),
        event("c", 101.2, user="system:kube-controller-manager"), event("d", 103.0),
        event("e", 104.0, agent="helm/v3.22.0"), event("f", 110.0),
    ]))  # fmt: skip
    first = deploy.Sample(1, 1, 1, 0, start=100.0, end=102.0)
    second = deploy.Sample(1, 1, 1, 0, start=102.5, end=105.0)
    deploy.count_requests(log, [first, second])
    assert (first.requests, first.by_agent) == (2, {"kubectl": 2})
    assert (second.requests, second.by_agent) == (2, {"kubectl": 1, "helm": 1})


def test_the_tree_counts_the_cpu_of_processes_left_behind(tmp_path: Path):
    """A grandchild whose parent exits at once (as a plugin left running would be) is
    reparented to benchmark/tree.py, which waits for it and counts its CPU time."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\n"
    orphan = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {burn!r}])"
    out = tmp_path / "tree.json"
    subprocess.run(
        [sys.executable, str(deploy.TREE), str(out), json.dumps([[sys.executable, "-c", orphan]])],
        check=True,
    )
    result = json.loads(out.read_text())
    assert result["ok"] and result["returncodes"] == [0]
    assert result["cpu"] >= 0.5
    assert result["wall"] < 0.5  # the command itself ended at once


def test_the_tree_stops_at_the_first_failure_unless_its_code_is_allowed(tmp_path: Path):
    out = tmp_path / "tree.json"
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    commands = [{"argv": fail, "ok": [0, 3]}, fail, [sys.executable, "-c", "pass"]]
    done = subprocess.run([sys.executable, str(deploy.TREE), str(out), json.dumps(commands)])
    assert done.returncode == 1
    assert json.loads(out.read_text())["returncodes"] == [3, 3]


def test_the_report_judges_every_goal_from_the_deploy_object():
    def sample(wall: float, requests: int) -> deploy.Sample:
        return deploy.Sample(wall, wall / 2, 100, 1, 0, 1, requests, {"x": requests})

    rounds = [{tool: {s: sample(wall, requests) for s in deploy.SCENARIOS}
               for tool, wall, requests in (("pulumi", 3.0, 50), ("kubectl", 2.0, 40),
                                            ("helm", 3.5, 60), ("helm_available", 4.0, 66))
               }] * 2  # fmt: skip
    summary, detail = deploy.summarize(rounds)
    assert summary["change"] == {
        "pulumi": 3.0,
        "kubectl": 2.0,
        "helm": 3.5,
        "pulumi_over_kubectl": 1.5,
        "pulumi_over_helm": 3.0 / 3.5,
    }
    assert detail["change"]["wall_ratios"]["pulumi_over_helm_available"]["median"] == 0.75
    assert summary["requests"]["noop_preview"] == {"pulumi": 50, "kubectl": 40, "helm": 60}
    assert set(summary) == {*deploy.SCENARIOS, "requests"}
    text = report({
        "machine": {"platform": "p", "cpus": 2, "python": "3.11", "date": "d", "command": "c"},
        "total_seconds": 1.0, "deploy": summary, "deploy_detail": detail,
        "deploy_meta": {"rounds": 2, "objects": 26, "versions": {"pulumi": "v3.260.0"}},
    })  # fmt: skip
    goals = text.split("### Goals")[1]
    assert "| change: pulumi ≤ 1.0x helm | 0.86x | yes |" in goals
    assert "| change: pulumi ≤ 1.5x kubectl | 1.50x | yes |" in goals
    assert "(`rollout status` after it) | 0.75x | yes |" in goals
    assert "| no-op preview: pulumi ≤ 2.0x kubectl | 1.50x | yes |" in goals
    assert "| change: fewer API requests than helm | pulumi 50, helm 60 | yes |" in goals


def test_helm_alone_is_its_own_command_and_requests_out_of_a_scenario_that_waited_on():
    waited = deploy.Sample(
        12.0, 2.0, 70, 1.0, 0, 1, 81, {"Helm": 75, "kubectl": 6},
        commands=[{"wall": 2.5, "cpu": 0.9}, {"wall": 9.5, "cpu": 0.1}],
    )  # fmt: skip
    alone = deploy.helm_alone(waited)
    assert (alone.wall, alone.cpu, alone.requests, alone.by_agent) == (2.5, 0.9, 75, {"Helm": 75})
