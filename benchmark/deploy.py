"""Where users wait: a first deploy, a one-variable change and a no-op preview, three ways.

Each tool deploys the dev stack's objects to a control plane of its own (`scripts/cluster.sh`,
started afresh for every tool in every round), through the real binaries of the toolchain
(`scripts/toolchain.sh --installed`):

- **pulumi**: the real CLI, language host and pulumi-kubernetes provider on a copy of the
  program with a file state backend (`tests/e2e/engine.py`'s project): `pulumi up --yes
  --skip-preview` (the Deployments' await makes it wait for rolled, available pods), then
  `pulumi preview --expect-no-changes`.
- **kubectl**, the floor: `kubectl apply --server-side` of the objects `tools.render` renders for
  the same stack (secret values filled in), in dependency order, then `kubectl rollout status` of
  every Deployment; a change also deletes the objects the new render no longer holds (the
  replaced ConfigMap), as Pulumi and Helm do; the preview is `kubectl diff --server-side`.
- **helm**, the peer: a chart whose templates are those same rendered objects, `helm upgrade
  --install --wait`; the preview is `helm upgrade --dry-run=server`.

The change adds one variable (`LOG_LEVEL`) to reminder-service: its ConfigMap is replaced under a
new name and its Deployment rolls. After each tool's round the benchmark checks what the cluster
holds: every Deployment available and reminder-service running the changed ConfigMap.

Every scenario runs under `benchmark/tree.py`, which counts the CPU time of every process the
commands start (the CLI, language host, program, provider plugin), and the control plane's CPU
time (etcd, kube-apiserver, controller-manager, scheduler, kwok) is read from /proc around it.
The API server's audit log gives the requests each tool made, per scenario, as the cluster's
administrator (the identity every tool uses here).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.engine import Cluster, Project, new_project, run, toolchain_bin, versions
from tools.stack_config import ROOT

STACK = "dev"
CONTEXT = "notification-delivery-dev"
NAMESPACE = "development"
ADMIN = "notification-delivery-admin"
"""The user of the kubeconfig's certificate (scripts/cluster.sh): every tool runs as it."""
TOOLS = ("pulumi", "kubectl", "helm")
"""The tools run, each on a control plane of its own, in an order rotating by round."""
REPORTED = (*TOOLS, "helm_available")
"""What the report compares pulumi with: `helm` is `helm upgrade --install --wait` alone, as
a Helm user runs it; `helm_available` is that plus `kubectl rollout status` of every
Deployment, the readiness Pulumi and the floor wait for (Helm 3's `--wait` takes a Deployment
as ready once its pods are Ready, before `minReadySeconds` makes them available)."""
SCENARIOS = ("first_deploy", "change", "noop_preview")
CHANGED_SERVICE = "reminder-service"
CHANGE = ("LOG_LEVEL", "debug")
"""The one variable the change adds: reminder-service's ConfigMap is replaced, its pods roll."""
FIELD_MANAGER = "benchmark-floor"
TREE = Path(__file__).resolve().parent / "tree.py"
TIMEOUT = "300s"
COMMAND_TIMEOUT = 400
"""Seconds before a scenario's commands are killed (the tools' own waits end at 300 s)."""

KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret",
    "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler",
    "Ingress",
)  # fmt: skip
"""The floor's apply order: what an object refers to comes before it (the namespace first,
a Deployment after its ServiceAccount, Secret and ConfigMap), as Pulumi's dependencies and
Helm's install order have it."""


class DeployError(Exception):
    """A tool failed, or the cluster does not hold what it should; the message says which."""


def helm_binary(bin_dir: Path) -> Path | None:
    """helm from the toolchain's bin folder first, then PATH."""
    if (bin_dir / "helm").is_file():
        return bin_dir / "helm"
    found = shutil.which("helm")
    return Path(found) if found else None


@dataclass
class Toolchain:
    bin: Path
    helm: Path

    @classmethod
    def find(cls) -> Toolchain:
        bin_dir = toolchain_bin()
        if bin_dir is None:
            raise DeployError("real-engine toolchain not built: run scripts/toolchain.sh")
        helm = helm_binary(bin_dir)
        if helm is None:
            raise DeployError("helm not found in the toolchain's bin folder or on PATH")
        return cls(bin=bin_dir, helm=helm)

    def tool_versions(self) -> dict[str, str]:
        env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"}

        def first_line(*argv: str | Path) -> str:
            done = run(argv, env=env, check=False)
            return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 \
                else "unknown"  # fmt: skip

        return {
            "pulumi": first_line("pulumi", "version"),
            "pulumi-kubernetes": versions()["PULUMI_KUBERNETES_VERSION"],
            "kubectl": first_line("kubectl", "version", "--client").removeprefix(
                "Client Version: "
            ),
            "helm": first_line(self.helm, "version", "--short"),
            "kubernetes": versions()["KUBERNETES_VERSION"],
        }


# --- measuring ---------------------------------------------------------------------------------


def _control_plane_pids(cluster: Cluster) -> dict[str, int]:
    pids: dict[str, int] = {}
    for line in (cluster.dir / "pids").read_text().splitlines():
        component, _, pid = line.partition(" ")
        pids[component] = int(pid)
    return pids


def control_plane_cpu(cluster: Cluster) -> float:
    """CPU seconds used so far by the control plane's processes (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _control_plane_pids(cluster).values():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


@dataclass
class Sample:
    wall: float
    cpu: float
    """CPU seconds of every process the tool started (benchmark/tree.py)."""
    max_rss_mib: float
    """The largest peak resident set among them."""
    control_plane_cpu: float
    start: float
    end: float
    """Epoch seconds around the commands, to find their requests in the audit log."""
    requests: int = 0
    by_agent: dict[str, int] = field(default_factory=dict)
    commands: list[dict[str, float]] = field(default_factory=list)
    """Each command's own wall and CPU seconds."""


def measured(
    commands: Sequence[Any],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    cluster: Cluster,
    timeout: float = COMMAND_TIMEOUT,
) -> Sample:
    """Run `commands` under benchmark/tree.py, their output appended to `log`; killed after
    `timeout` seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out, log.open("ab") as sink:
        before = control_plane_cpu(cluster)
        start = time.time()
        process = subprocess.Popen(
            [sys.executable, str(TREE), out.name, json.dumps(commands)],
            env=env, cwd=cwd, stdout=sink, stderr=sink, start_new_session=True,
        )  # fmt: skip
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise DeployError(
                f"{commands} still running after {timeout:.0f} s; see {log}"
            ) from None
        end = time.time()
        after = control_plane_cpu(cluster)
        result = json.loads(Path(out.name).read_text() or "{}")
    if process.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise DeployError(f"{commands} failed ({result.get('returncodes')}); end of {log}:\n{tail}")
    return Sample(
        wall=result["wall"],
        cpu=result["cpu"],
        max_rss_mib=result["max_rss_kb"] / 1024,
        control_plane_cpu=after - before,
        start=start,
        end=end,
        commands=result.get("commands", []),
    )


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def count_requests(audit_log: Path, samples: Sequence[Sample], user: str = ADMIN) -> None:
    """Set each sample's requests: audit events of `user` received within its time window.

    One request logs one event per stage (watches have two); each is counted once, by its
    audit ID. `by_agent` splits them by the user agent's program name (`kubectl`, `helm`,
    `pulumi-resource-kubernetes`, ...).
    """
    seen: set[str] = set()
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if event.get("user", {}).get("username") != user or event["auditID"] in seen:
            continue
        seen.add(event["auditID"])
        received = _epoch(event["requestReceivedTimestamp"])
        for sample in samples:
            if sample.start <= received <= sample.end:
                sample.requests += 1
                agent = event.get("userAgent", "").split("/")[0] or "unknown"
                sample.by_agent[agent] = sample.by_agent.get(agent, 0) + 1
                break


# --- what the floor and the peer deploy --------------------------------------------------------


def ordered_manifests(
    rendered: Mapping[tuple[str, str], Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, str]],
) -> list[dict[str, Any]]:
    """The render's objects in dependency order, each Secret with the values Pulumi is given."""
    manifests = []
    for (kind, _), manifest in rendered.items():
        manifest = copy.deepcopy(dict(manifest))
        if kind == "Secret":
            service = manifest["metadata"]["labels"]["app.kubernetes.io/name"]
            manifest["stringData"] = {k: secrets[service][k] for k in manifest["stringData"]}
        manifests.append(manifest)
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(
        manifests, key=lambda m: (rank.get(m["kind"], len(rank)), m["kind"], m["metadata"]["name"])
    )


def write_objects(manifests: Sequence[Mapping[str, Any]], path: Path) -> None:
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=True))


def write_chart(manifests: Sequence[Mapping[str, Any]], chart: Path, version: str) -> None:
    """A chart whose templates are exactly `manifests`, one file each (nothing templated)."""
    templates = chart / "templates"
    templates.mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "notification-delivery-dev",
                "version": version,
                "type": "application",
            }
        )  # fmt: skip
    )
    for index, manifest in enumerate(manifests):
        name = f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        text = yaml.safe_dump(manifest, sort_keys=True)
        if "{{" in text:
            raise DeployError(f"{name} holds '{{{{', which helm would read as a template")
        (templates / name).write_text(text)


def deployments(manifests: Sequence[Mapping[str, Any]]) -> list[str]:
    return [m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment"]


def add_change(config: dict[str, Any], changed: str = CHANGED_SERVICE) -> None:
    """The one-variable change to service `changed`, in a stack file's `config` mapping."""
    services = config.setdefault("notification-delivery:services", {})
    service = services.setdefault(changed, {})
    service.setdefault("env", {})[CHANGE[0]] = CHANGE[1]


@dataclass
class Prepared:
    """What every round starts from: the program's copy with its stack, and the two renders."""

    root: Path
    template: Project
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    changed: str = CHANGED_SERVICE
    """The service whose variable the change adds."""
    timeout: float = COMMAND_TIMEOUT
    """Seconds before one scenario's commands are killed."""
    wait: str = TIMEOUT
    """The tools' own wait limit (`--timeout`)."""

    @property
    def removed(self) -> list[tuple[str, str]]:
        """(kind, name) of what the change's render no longer holds."""
        names = {(m["kind"], m["metadata"]["name"]) for m in self.after}
        return [(m["kind"], m["metadata"]["name"]) for m in self.before
                if (m["kind"], m["metadata"]["name"]) not in names]  # fmt: skip

    @property
    def changed_configmap(self) -> str:
        return next(
            m["metadata"]["name"] for m in self.after
            if m["kind"] == "ConfigMap"
            and m["metadata"]["labels"]["app.kubernetes.io/name"] == self.changed
        )  # fmt: skip


def pulumi_home(root: Path, toolchain: Toolchain) -> Path:
    """A PULUMI_HOME under `root` with the built provider installed."""
    home = root / "pulumi-home"
    home.mkdir(parents=True)
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PATH": f"{toolchain.bin}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    run(["pulumi", "plugin", "install", "resource", "kubernetes",
         versions()["PULUMI_KUBERNETES_VERSION"], "--file",
         toolchain.bin / "pulumi-resource-kubernetes"], env=env)  # fmt: skip
    return home


def placeholder_cluster(root: Path, toolchain: Toolchain) -> Cluster:
    """The template's cluster, never contacted: stack init and config set are offline."""
    return Cluster(dir=root / "no-cluster", bin=toolchain.bin)


def prepared(
    root: Path, template: Project, changed: str = CHANGED_SERVICE, **limits: Any
) -> Prepared:
    """The template's two renders (before and after the change), their objects and charts."""
    original = template.stack_file.read_text()
    before = ordered_manifests(template.render(root / "render-before"), template.secrets)
    template.edit(lambda config: add_change(config, changed))
    after = ordered_manifests(template.render(root / "render-after"), template.secrets)
    template.stack_file.write_text(original)
    for name, manifests, version in (("before", before, "1.0.0"), ("after", after, "1.0.1")):
        write_objects(manifests, root / f"objects-{name}.yaml")
        write_chart(manifests, root / f"chart-{name}", version)
    return Prepared(
        root=root, template=template, before=before, after=after, changed=changed, **limits
    )


def prepare(root: Path, toolchain: Toolchain) -> Prepared:
    """A PULUMI_HOME with the built provider, the template project, the renders, objects, charts."""
    home = pulumi_home(root, toolchain)
    template = new_project(root / "template", STACK, placeholder_cluster(root, toolchain), home)
    return prepared(root, template)


# --- one tool on one fresh control plane -------------------------------------------------------


def start_cluster(directory: Path) -> Cluster:
    # scripts/cluster.sh finds the toolchain itself, as the e2e fixture relies on.
    bin_dir = toolchain_bin()
    assert bin_dir is not None
    # A component can lose a free port to another process between the script's choice and its
    # start (etcd once did, beside other sessions' clusters): start again, at most three times.
    for _ in range(3):
        done = run([ROOT / "scripts" / "cluster.sh", "up", directory], check=False, timeout=300)
        if done.returncode == 0:
            break
    else:
        raise DeployError(f"scripts/cluster.sh up {directory} failed:\n{done.stderr[-2000:]}")
    return Cluster(dir=directory, bin=bin_dir)


def stop_cluster(cluster: Cluster) -> None:
    run([ROOT / "scripts" / "cluster.sh", "down", cluster.dir], check=False, timeout=120)


Step = Callable[[], Sample]


def pulumi_steps(
    prep: Prepared, work: Path, cluster: Cluster, log: Path, flags_up: Sequence[str] = ()
) -> dict[str, Step]:
    """Pulumi's three scenarios on a copy of the template project and its (empty) state;
    `flags_up` are added to `pulumi up` (`--parallel N`)."""
    shutil.copytree(prep.template.dir, work / "program", symlinks=True)
    shutil.copytree(prep.template.state, work / "state", symlinks=True)
    project = Project(dir=work / "program", stack=STACK, cluster=cluster,
                      home=prep.template.home, state=work / "state")  # fmt: skip
    env, cwd = project.env(), project.dir
    flags = ["--stack", STACK, "--non-interactive", "--color", "never"]
    up = [["pulumi", "up", "--yes", "--skip-preview", *flags, *flags_up]]

    def change() -> Sample:
        project.edit(lambda config: add_change(config, prep.changed))  # untimed: the merge
        return measured(up, env, cwd, log, cluster, prep.timeout)

    return {
        "first_deploy": lambda: measured(up, env, cwd, log, cluster, prep.timeout),
        "change": change,
        "noop_preview": lambda: measured(
            [["pulumi", "preview", "--expect-no-changes", *flags]], env, cwd, log, cluster
        ),
    }


def kubectl_steps(prep: Prepared, work: Path, cluster: Cluster, log: Path) -> dict[str, Step]:
    env = cluster.env()
    kubectl = ["kubectl", "--context", CONTEXT]

    def apply(name: str) -> list[list[str]]:
        manifests = prep.before if name == "before" else prep.after
        return [
            [*kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}",
             "-f", str(prep.root / f"objects-{name}.yaml")],
            [*kubectl, "rollout", "status", "--namespace", NAMESPACE, f"--timeout={prep.wait}",
             *(f"deployment/{d}" for d in deployments(manifests))],
        ]  # fmt: skip

    removed = [f"{kind.lower()}/{name}" for kind, name in prep.removed]
    prune = [[*kubectl, "delete", "--namespace", NAMESPACE, *removed]] if removed else []
    diff = {"argv": [*kubectl, "diff", "--server-side", f"--field-manager={FIELD_MANAGER}",
                     "-f", str(prep.root / "objects-after.yaml")], "ok": [0]}  # fmt: skip
    return {
        "first_deploy": lambda: measured(apply("before"), env, work, log, cluster, prep.timeout),
        "change": lambda: measured(
            [*apply("after"), *prune], env, work, log, cluster, prep.timeout
        ),
        "noop_preview": lambda: measured([diff], env, work, log, cluster),
    }


def helm_steps(
    prep: Prepared, work: Path, cluster: Cluster, log: Path, helm: Path
) -> dict[str, Step]:
    env = {**cluster.env(), **{f"HELM_{k}_HOME": str(work / f"helm-{k.lower()}")
                               for k in ("CACHE", "CONFIG", "DATA")}}  # fmt: skip
    # The release record lives in `default`: the chart creates the namespace itself.
    base = [str(helm), "upgrade", "dev", "--kube-context", CONTEXT, "--namespace", "default"]

    def upgrade(name: str, *extra: str) -> list[list[str]]:
        return [[*base, str(prep.root / f"chart-{name}"), *extra]]

    wait = ["--install", "--wait", f"--timeout={prep.wait}"]
    rollout = [
        [
            "kubectl",
            "--context",
            CONTEXT,
            "rollout",
            "status",
            "--namespace",
            NAMESPACE,
            f"--timeout={prep.wait}",
            *(f"deployment/{d}" for d in deployments(prep.after)),
        ]
    ]
    return {
        "first_deploy": lambda: measured(
            [*upgrade("before", *wait), *rollout], env, work, log, cluster, prep.timeout
        ),
        "change": lambda: measured(
            [*upgrade("after", *wait), *rollout], env, work, log, cluster, prep.timeout
        ),
        "noop_preview": lambda: measured(
            upgrade("after", "--dry-run=server"), env, work, log, cluster
        ),
    }


def check_cluster(cluster: Cluster, prep: Prepared, tool: str) -> None:
    """Every Deployment rolled and available, reminder-service on the changed ConfigMap, the
    replaced ConfigMap gone."""
    for name in deployments(prep.after):
        live = cluster.get("deployment", name, NAMESPACE)
        if live is None:
            raise DeployError(f"{tool}: deployment/{name} missing")
        status, spec = live.get("status", {}), live["spec"]
        if (
            status.get("availableReplicas", 0) < spec["replicas"]
            or status.get("updatedReplicas", 0) < spec["replicas"]
        ):
            raise DeployError(f"{tool}: deployment/{name} not rolled and available: {status}")
    changed = f"dev-{prep.changed}"
    live = cluster.get("deployment", changed, NAMESPACE)
    assert live is not None
    refs = [e.get("configMapRef", {}).get("name") for c in live["spec"]["template"]["spec"]
            ["containers"] for e in c.get("envFrom", [])]  # fmt: skip
    if prep.changed_configmap not in refs:
        raise DeployError(f"{tool}: {changed} does not run ConfigMap {prep.changed_configmap}")
    for kind, name in prep.removed:
        if cluster.get(kind.lower(), name, NAMESPACE) is not None:
            raise DeployError(f"{tool}: {kind}/{name} is still there after the change")


def one(
    tool: str,
    prep: Prepared,
    work: Path,
    toolchain: Toolchain,
    scenarios: Sequence[str] = SCENARIOS,
    flags_up: Sequence[str] = (),
) -> dict[str, Sample]:
    """`tool`'s `scenarios`, in order, on a control plane of its own, then the cluster's check.

    `flags_up`: extra flags of pulumi's `up` (`--parallel N`)."""
    work.mkdir(parents=True)
    log = work / "output.log"
    cluster = start_cluster(work / "cluster")
    try:
        if tool == "pulumi":
            steps = pulumi_steps(prep, work, cluster, log, flags_up)
        elif tool == "kubectl":
            steps = kubectl_steps(prep, work, cluster, log)
        else:
            steps = helm_steps(prep, work, cluster, log, toolchain.helm)
        samples = {scenario: steps[scenario]() for scenario in scenarios}
        check_cluster(cluster, prep, tool)
        count_requests(cluster.dir / "logs" / "audit.log", list(samples.values()))
    finally:
        stop_cluster(cluster)
    return samples


def helm_alone(sample: Sample) -> Sample:
    """`helm upgrade` alone, out of a helm scenario that also ran `rollout status`: its own
    wall and CPU time, and the requests helm's own user agent made."""
    if len(sample.commands) < 2:
        return sample
    own = sample.commands[0]
    agents = {k: v for k, v in sample.by_agent.items() if k.lower() == "helm"}
    return Sample(
        wall=own["wall"], cpu=own["cpu"], max_rss_mib=sample.max_rss_mib,
        control_plane_cpu=sample.control_plane_cpu, start=sample.start, end=sample.end,
        requests=sum(agents.values()), by_agent=agents, commands=[own],
    )  # fmt: skip


Round = dict[str, dict[str, Sample]]
"""tool -> scenario -> sample."""


def rounds(count: int, root: Path, progress: Callable[[str], None]) -> tuple[list[Round], Any]:
    toolchain = Toolchain.find()
    progress(f"deploy: preparing (toolchain {toolchain.bin}, helm {toolchain.helm}) ...")
    prep = prepare(root / "prepared", toolchain)
    done: list[Round] = []
    for index in range(count):
        shift = index % len(TOOLS)
        order = TOOLS[shift:] + TOOLS[:shift]
        this: Round = {}
        for tool in order:
            started = time.perf_counter()
            this[tool] = one(tool, prep, root / f"round-{index}" / tool, toolchain)
            if tool == "helm":
                this["helm_available"] = this["helm"]
                this["helm"] = {s: helm_alone(x) for s, x in this["helm_available"].items()}
            walls = ", ".join(f"{s} {this[tool][s].wall:.1f} s" for s in SCENARIOS)
            took = time.perf_counter() - started
            progress(f"deploy: round {index + 1}/{count} {tool}: {walls} ({took:.0f} s in all)")
        done.append(this)
    return done, {"versions": toolchain.tool_versions(), "objects": len(prep.before)}


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values),
            "n": len(values)}  # fmt: skip


OTHERS = ("kubectl", "helm", "helm_available")


def summarize(done: Sequence[Round]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `deploy` object the issue defines, and every other figure beside it."""
    deploy: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    for scenario in SCENARIOS:
        # Exactly the issue's shape: the three tools' median wall seconds and two ratios; the
        # figures of helm waited to available are in `detail` beside the rest.
        entry: dict[str, Any] = {t: statistics.median(r[t][scenario].wall for r in done)
                                 for t in TOOLS}  # fmt: skip
        for other in ("kubectl", "helm"):
            entry[f"pulumi_over_{other}"] = statistics.median(
                r["pulumi"][scenario].wall / r[other][scenario].wall for r in done
            )
        deploy[scenario] = entry
        detail[scenario] = {
            tool: {
                metric: _stats([getattr(r[tool][scenario], metric) for r in done])
                for metric in ("wall", "cpu", "control_plane_cpu", "max_rss_mib", "requests")
            }
            | {"by_agent": [r[tool][scenario].by_agent for r in done]}
            for tool in REPORTED
        }
        detail[scenario]["cpu_ratios"] = {
            f"pulumi_over_{other}": _stats(
                [r["pulumi"][scenario].cpu / r[other][scenario].cpu for r in done]
            )
            for other in OTHERS
        }
        detail[scenario]["wall_ratios"] = {
            f"pulumi_over_{other}": _stats(
                [r["pulumi"][scenario].wall / r[other][scenario].wall for r in done]
            )
            for other in OTHERS
        }
    deploy["requests"] = {
        scenario: {t: statistics.median(r[t][scenario].requests for r in done) for t in TOOLS}
        for scenario in SCENARIOS
    }
    return deploy, detail
