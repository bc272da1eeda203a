"""The environment diagrams: drawn from the render, checked by Mermaid's own parser, kept current.

The parser runs under Node from diagram/node_modules (`npm ci --prefix diagram`). Without Node or
those modules the parser tests skip on a workstation and fail under CI (`CI` set), so a pipeline
cannot pass them by accident.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from components.catalog import AWS_VARIABLES, CATALOG
from tests.conftest import all_secrets, secret_value, stack_with_secrets
from tools.diagram import cli as env_diagram
from tools.diagram import environment_diagram, environment_graph, node_id
from tools.diagram.aws import AWS_RESOURCE_KINDS
from tools.diagram.cli import DOCS_FILE, docs_text
from tools.mermaid import CHANGE_CLASSES, Diagram, Edge, escape, safe_id
from tools.render import render
from tools.stack_config import ROOT, committed_stacks, load_stack

PARSER_DIR = ROOT / "diagram"
PARSER = PARSER_DIR / "parse.mjs"
STACK_FILES = ("Pulumi.yaml", "__main__.py")


@pytest.fixture(scope="module")
def renders() -> dict[str, dict[str, dict[str, Any]]]:
    """Manifests of every committed stack, plus prod with an Ingress and TLS."""
    result = {stack: render(stack).manifests for stack in committed_stacks()}
    with_ingress = load_stack("prod").edited(
        "ingress", {"host": "api.example.com", "tlsSecretName": "api-tls"}
    )
    result["prod+ingress"] = render("prod", config=with_ingress).manifests
    return result


def edges_into(graph: Diagram, target: str) -> dict[str, str]:
    return {e.source: e.label for e in graph.edges if e.target == target and e.style != "invisible"}


def edges_out_of(graph: Diagram, source: str) -> dict[str, str]:
    return {e.target: e.label for e in graph.edges if e.source == source and e.style != "invisible"}


def text_of(graph: Diagram, node: str) -> str:
    return "\n".join(graph.nodes[node].lines)


# --- what the picture shows --------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "local", "prod+ingress"])
def test_every_object_of_the_render_is_one_node(renders, stack):
    manifests = renders[stack]
    graph = environment_graph(manifests)
    ids = [node_id(name) for name in manifests]
    assert len(set(ids)) == len(ids), "two manifests would share a node"
    missing = [name for name in manifests if node_id(name) not in graph.nodes]
    assert not missing
    for name, manifest in manifests.items():
        title = graph.nodes[node_id(name)].lines[0]
        assert title.startswith(f"{manifest['kind']} ")
    # Every edge joins things that exist in the drawing.
    for edge in graph.edges:
        assert {edge.source, edge.target} <= set(graph.nodes) | set(graph.groups)


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_each_workload_shows_what_it_reads_and_what_it_calls(renders, stack):
    manifests = renders[stack]
    graph = environment_graph(manifests)
    prefix = load_stack(stack).values["prefix"]
    for spec in CATALOG.values():
        instance = f"{prefix}-{spec.name}"
        deployment = node_id(f"deployment-{instance}.yaml")
        config_map = manifests[f"configmap-{instance}.yaml"]
        into = edges_into(graph, deployment)
        assert into[node_id(f"configmap-{instance}.yaml")] == "envFrom"
        assert into[node_id(f"secret-{instance}.yaml")] == "envFrom"
        assert into[node_id(f"serviceaccount-{instance}.yaml")] == "runs as"

        out = edges_out_of(graph, deployment)
        database = node_id(f"service-{prefix}-{spec.database}-db.yaml")
        assert out[database] == "DB_HOST"
        host = manifests[f"service-{prefix}-{spec.database}-db.yaml"]["spec"]["externalName"]
        (rds,) = edges_out_of(graph, database)
        assert host in text_of(graph, rds)
        assert spec.database in text_of(graph, rds)  # the databases reached on that host

        for key in spec.aws:
            variable = AWS_VARIABLES[key]
            (target,) = [t for t, label in out.items() if label == variable]
            value = config_map["data"][variable]
            short = value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            assert AWS_RESOURCE_KINDS[variable] in text_of(graph, target)
            assert short in text_of(graph, target)
            assert graph.nodes[target].group == "aws"
        # Nothing drawn that the service does not use.
        drawn = {label for label in out.values() if label in AWS_RESOURCE_KINDS}
        assert drawn == {AWS_VARIABLES[key] for key in spec.aws}


def test_shared_aws_resources_are_one_node(renders):
    graph = environment_graph(renders["dev"])
    # reminder-service and event-service both publish to the one topic.
    topic_users = [e.source for e in graph.edges if e.label == "EVENT_TOPIC_ARN"]
    assert len(topic_users) == 2
    assert len({e.target for e in graph.edges if e.label == "EVENT_TOPIC_ARN"}) == 1


def test_traffic_reaches_http_services_through_service_and_policy(renders):
    graph = environment_graph(renders["dev"])
    for spec in CATALOG.values():
        deployment = node_id(f"deployment-dev-{spec.name}.yaml")
        gate = node_id(f"networkpolicy-dev-{spec.name}-allow-ingress.yaml")
        service = node_id(f"service-dev-{spec.name}.yaml")
        if not spec.http:
            # No Service and no policy lets anything in: nothing but config flows into it.
            assert service not in graph.nodes and gate not in graph.nodes
            assert all(
                graph.nodes[s].lines[0].split()[0] in ("ConfigMap", "Secret", "ServiceAccount")
                or s.startswith("poddisruptionbudget")
                for s in edges_into(graph, deployment)
            )
            continue
        assert edges_into(graph, deployment)[gate] == ":http TCP"
        assert edges_into(graph, gate)[service] == ":80 → http"
        assert "peer_namespace_kong" in edges_into(graph, service)
        assert graph.nodes["peer_namespace_kong"].group == "callers"


def test_an_ingress_sits_between_the_controller_and_the_service(renders):
    graph = environment_graph(renders["prod+ingress"])
    for spec in (s for s in CATALOG.values() if s.ingress_path):
        ingress = node_id(f"ingress-prod-{spec.name}.yaml")
        service = node_id(f"service-prod-{spec.name}.yaml")
        assert edges_out_of(graph, ingress)[service] == f"api.example.com{spec.ingress_path}"
        assert "peer_namespace_kong" in edges_into(graph, ingress)
        assert "peer_namespace_kong" not in edges_into(graph, service)
        assert "TLS Secret api-tls" in text_of(graph, ingress)


def test_node_ports_and_their_callers_in_the_local_stack(renders):
    graph = environment_graph(renders["local"])
    service = node_id("service-local-reminder-service.yaml")
    assert "node port 30080" in text_of(graph, service)
    assert "peer_addresses_172_16_0_0_12" in edges_into(graph, service)


def test_autoscaler_and_disruption_budget_point_at_their_deployment(renders):
    graph = environment_graph(renders["prod"])
    deployment = node_id("deployment-prod-reminder-service.yaml")
    into = edges_into(graph, deployment)
    assert into[node_id("horizontalpodautoscaler-prod-reminder-service.yaml")] == "scales"
    assert into[node_id("poddisruptionbudget-prod-reminder-service.yaml")] == "limits evictions"
    assert "2 to 6 pods" in text_of(
        graph, node_id("horizontalpodautoscaler-prod-reminder-service.yaml")
    )
    assert "replicas set by the autoscaler" in text_of(graph, deployment)


def test_egress_policies_point_where_they_let_pods_go(renders):
    graph = environment_graph(renders["dev"])
    assert edges_out_of(graph, node_id("networkpolicy-dev-allow-postgres.yaml")) == {
        "databases": "egress :5432 TCP"
    }
    assert edges_out_of(graph, node_id("networkpolicy-dev-allow-https.yaml")) == {
        "aws": "egress :443 TCP"
    }
    (dns,) = edges_out_of(graph, node_id("networkpolicy-dev-allow-dns.yaml"))
    assert "kube-dns" in text_of(graph, dns) and graph.nodes[dns].group == "cluster"
    deny = text_of(graph, node_id("networkpolicy-dev-default-deny.yaml"))
    assert "ingress: nothing allowed" in deny and "egress: nothing allowed" in deny


def test_secret_values_never_appear_only_their_names():
    secrets = all_secrets()
    rendered = render("dev", config=stack_with_secrets("dev")).manifests
    # Also a manifest that still holds the values (a caller that did not mask them).
    raw = dict(rendered)
    raw["secret-dev-reminder-service.yaml"] = {
        **rendered["secret-dev-reminder-service.yaml"],
        "stringData": dict(secrets["reminder-service"]),
        "data": {"EXTRA": "c2VjcmV0LWJhc2U2NA=="},
    }
    for manifests in (rendered, raw):
        text = environment_diagram(manifests)
        for service, values in secrets.items():
            for name in values:
                assert secret_value(service, name) not in text
                assert name in text
        assert "c2VjcmV0LWJhc2U2NA==" not in text
    # The Secret's name shows the logical name, not the provider's random suffix.
    assert "Secret dev-reminder-service-*" in environment_diagram(raw)


def test_a_service_named_by_its_dns_name_is_an_edge_too(renders):
    manifests = copy.deepcopy(renders["dev"])
    data = manifests["configmap-dev-event-service.yaml"]["data"]
    data["REMINDERS_URL"] = "dev-reminder-service.development.svc.cluster.local"
    data["ELSEWHERE"] = "dev-reminder-service.other-namespace.svc.cluster.local"
    graph = environment_graph(manifests)
    out = edges_out_of(graph, node_id("deployment-dev-event-service.yaml"))
    assert out[node_id("service-dev-reminder-service.yaml")] == "REMINDERS_URL"
    assert "ELSEWHERE" not in out.values()


def test_every_aws_variable_of_the_catalog_has_a_kind():
    assert set(AWS_VARIABLES.values()) <= set(AWS_RESOURCE_KINDS)


def test_an_unknown_kind_still_gets_a_node_in_its_namespace(renders):
    manifests = dict(renders["dev"])
    manifests["cronjob-dev-cleanup.yaml"] = {
        "kind": "CronJob",
        "metadata": {"name": "dev-cleanup", "namespace": "development"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "serviceAccountName": "dev-event-service",
                            "containers": [{"image": "busybox:1.36"}],
                        }
                    }
                }
            }
        },
    }
    manifests["podmonitor-dev-metrics.yaml"] = {
        "kind": "PodMonitor",
        "metadata": {"name": "dev-metrics", "namespace": "development"},
    }
    graph = environment_graph(manifests)
    job = node_id("cronjob-dev-cleanup.yaml")
    assert "busybox:1.36" in text_of(graph, job)
    # The ServiceAccount now serves two workloads, so it moves to the namespace-wide group.
    account = node_id("serviceaccount-dev-event-service.yaml")
    assert edges_out_of(graph, account) == {
        node_id("deployment-dev-event-service.yaml"): "runs as",
        job: "runs as",
    }
    assert graph.nodes[account].group == "ns_development_shared"
    assert graph.nodes[node_id("podmonitor-dev-metrics.yaml")].group == "ns_development_shared"


# --- the builder, for pictures of changes ------------------------------------------------------


def test_labels_are_escaped_and_ids_are_safe():
    graph = Diagram()
    graph.add_group("g", 'a "group" <b>')
    graph.add_node(safe_id("end"), ['say "hi" <script>', "#1 & co"], group="g")
    graph.add_node(safe_id("9-lives.yaml"), ["x"])
    graph.add_edge("n_end", "n_9_lives_yaml", 'to "x"')
    text = graph.to_mermaid()
    assert 'n_end["say #quot;hi#quot; #lt;script#gt;<br/>#35;1 #amp; co"]' in text
    assert 'subgraph g["a #quot;group#quot; #lt;b#gt;"]' in text
    assert 'n_end -->|"to #quot;x#quot;"| n_9_lives_yaml' in text
    assert escape("plain") == "plain"


def test_mark_colours_the_objects_a_change_touches(renders):
    graph = environment_graph(renders["dev"], styled=False)
    assert "classDef" not in graph.to_mermaid()
    rolled = node_id("deployment-dev-reminder-service.yaml")
    created = node_id("configmap-dev-reminder-service.yaml")
    graph.mark(rolled, "rolled")
    graph.mark(created, "created")
    graph.mark(node_id("secret-dev-reminder-service.yaml"), "noted", "fill:#eeeeee")
    text = graph.to_mermaid()
    assert f"classDef rolled {CHANGE_CLASSES['rolled']}" in text
    assert f"class {rolled} rolled" in text
    assert f"class {created} created" in text
    assert "classDef noted fill:#eeeeee" in text
    with pytest.raises(KeyError):
        graph.mark("no_such_node", "rolled")
    with pytest.raises(KeyError):
        graph.mark(rolled, "unstyled-class")
    with pytest.raises(KeyError):
        graph.add_edge(rolled, "no_such_node")


def test_invisible_links_carry_no_label():
    graph = Diagram()
    graph.add_node("a", ["a"])
    graph.add_node("b", ["b"])
    graph.add_edge("a", "b", "ignored", style="invisible")
    assert graph.edges == [Edge("a", "b", "", "invisible")]
    assert "  a ~~~ b" in graph.to_mermaid()
    assert not graph.touches("a")


# --- the committed page and the command ----------------------------------------------------------


def test_docs_match_the_stacks():
    current = (ROOT / DOCS_FILE).read_text() if (ROOT / DOCS_FILE).exists() else ""
    assert current == docs_text(), (
        f"{DOCS_FILE} is stale: run `python -m tools.diagram --write-docs` and commit it"
    )
    for stack in committed_stacks():
        assert f"\n## {stack} (namespace " in current


def _project(tmp_path: Path, stacks: tuple[str, ...] = ("dev",)) -> Path:
    for name in (*STACK_FILES, *(f"Pulumi.{s}.yaml" for s in stacks)):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_check_docs_fails_on_a_stale_page_and_write_docs_fixes_it(tmp_path, capsys):
    project = _project(tmp_path)
    # A stack file added later (staging) gets its section without any change to the tool.
    staging = (ROOT / "Pulumi.dev.yaml").read_text()
    staging = staging.replace("environment: development", "environment: staging")
    (project / "Pulumi.staging.yaml").write_text(staging.replace("prefix: dev", "prefix: stg"))
    assert committed_stacks(project) == ["dev", "staging"]
    (project / "docs").mkdir()
    (project / DOCS_FILE).write_text("# old\n")
    assert env_diagram.main(["-C", str(project), "--check-docs"]) == 1
    assert "stale" in capsys.readouterr().out
    assert env_diagram.main(["-C", str(project), "--write-docs"]) == 0
    page = (project / DOCS_FILE).read_text()
    assert "## dev (namespace `development`)" in page
    assert "## staging (namespace `staging`)" in page and "stg-reminder-service" in page
    assert "## prod" not in page
    assert env_diagram.main(["-C", str(project), "--check-docs"]) == 0


def test_one_stack_to_a_file_and_bad_input(tmp_path, capsys):
    out = tmp_path / "dev.mmd"
    assert env_diagram.main(["dev", "--out", str(out)]) == 0
    assert out.read_text().startswith("flowchart LR\n")
    assert env_diagram.main(["no-such-stack"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    with pytest.raises(SystemExit) as exit_info:
        env_diagram.main([])
    assert exit_info.value.code == 2


# --- Mermaid's own parser ------------------------------------------------------------------------


def _parser_or_skip() -> str:
    """The node binary, or a skip (locally) / failure (CI) naming what is missing."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not on PATH (Node 20+ is needed)"
    elif not all((PARSER_DIR / "node_modules" / m).is_dir() for m in ("mermaid", "jsdom")):
        missing = "diagram/node_modules is missing: run `npm ci --prefix diagram`"
    if missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"Mermaid parser unavailable under CI: {missing}")
        pytest.skip(f"Mermaid parser unavailable: {missing}")
    assert node is not None
    return node


@pytest.fixture(scope="module")
def parsed(renders, tmp_path_factory) -> Mapping[str, Any]:
    """One Node process over the committed page, extra diagrams, and one broken on purpose."""
    node = _parser_or_skip()
    folder = tmp_path_factory.mktemp("diagrams")
    marked = environment_graph(renders["prod"], styled=False)
    for name, colour in zip(renders["prod"], CHANGE_CLASSES, strict=False):
        marked.mark(node_id(name), colour)
    files = {
        "page": ROOT / DOCS_FILE,
        "ingress": folder / "ingress.mmd",
        "marked": folder / "marked.mmd",
        "broken": folder / "broken.mmd",
    }
    files["ingress"].write_text(environment_diagram(renders["prod+ingress"]))
    files["marked"].write_text(marked.to_mermaid())
    # An edge with no target: what a builder bug that drops a node id would write.
    files["broken"].write_text('flowchart LR\n  a["A"] -->|"x"|\n  b["B"]\n')
    result = subprocess.run(
        [node, str(PARSER), *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return {"files": files, "result": result}


def test_mermaid_parses_every_committed_diagram(parsed):
    out = parsed["result"].stdout
    page = parsed["files"]["page"]
    for index in range(1, len(committed_stacks()) + 1):
        assert f"ok {page}#{index}\n" in out, out + parsed["result"].stderr


def test_mermaid_parses_ingress_and_change_marked_diagrams(parsed):
    out = parsed["result"].stdout
    for name in ("ingress", "marked"):
        assert f"ok {parsed['files'][name]}#1\n" in out, out + parsed["result"].stderr


def test_the_parser_check_fails_with_the_parsers_message(parsed):
    result = parsed["result"]
    assert result.returncode == 1
    broken = parsed["files"]["broken"]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(f"{broken}#1")]
    assert "Parse error on line" in line
    assert f"ok {broken}" not in result.stdout
