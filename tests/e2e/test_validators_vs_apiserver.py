"""The stack-config validators against the real API server: a differential test.

For every key whose value ends up in a Kubernetes object, values the loader accepts and values it
refuses (the upstream vectors of tests/vectors/ and edge cases picked by hand) go to
kube-apiserver with server-side dry-run, in the object and field where the program puts them.
The test fails wherever the two disagree.

"Where the program puts them" is found, not restated: the program is rendered once per key with a
sentinel value there, and every object that holds the sentinel (in a name, a label, a key or a
value) is sent again with the sentinel replaced by each candidate. A value the loader refuses can
never be rendered, so this is also how a refused value reaches the field it was meant for. The
loader's verdict is `components.config.loading.load`'s, the one `pulumi up` and the render use.

Two directions of disagreement:
- the loader accepts what the API server refuses: always a failure (a `pulumi up` that the check
  let through would fail half-way);
- the loader refuses what the API server accepts: a failure unless the key lists a `Stricter`
  exception that names the rule and why the later consumer (kubelet, runtime, DNS, the service)
  needs it. Every listed exception must still be needed, so none outlives its reason.

One control plane for the module; each key is one `kubectl apply --server-side --dry-run=server`
of a multi-document stream (kubectl reports each document on its own).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.catalog import CATALOG
from components.config import rules
from components.config.errors import ConfigError
from components.config.loading import load
from tests.e2e.engine import Cluster
from tools.render import render
from tools.stack_config import StackConfig, load_stack

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
NAMESPACE = "validators-vs-apiserver"
"""Where every namespaced object is sent (a dry-run of an object needs its namespace to exist)."""


def _vectors(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text())["rules"]


_VALIDATION = _vectors("apimachinery-validation")
_IP = _vectors("apimachinery-ip")
_QUANTITY = _vectors("apimachinery-quantity")["ParseQuantity"]
_REFERENCE = _vectors("distribution-reference")["Parse"]
_IDENTIFIER = _vectors("apimachinery-identifier")["IsCIdentifier"]
_QUANTITY_LIMITS = list(_vectors("apimachinery-quantity")["ParseQuantityLimits"]["amounts"])
_RESOURCE_NAMES = _vectors("kubernetes-resource-names")["validateResourceName"]
_INGRESS_PATHS = _vectors("kubernetes-ingress")


def _both(rule: Mapping[str, Sequence[str]]) -> list[str]:
    return [*rule["valid"], *rule["invalid"]]


def _every(rule: Mapping[str, Any]) -> list[str]:
    """Every input of an upstream rule, whatever its verdict (valid, invalid, legacy_only)."""
    return [value for values in rule.values() if isinstance(values, list) for value in values]


def _turn(values: Sequence[Any], turn: int, turns: int) -> list[Any]:
    """Every `turns`-th value from the `turn`-th: the keys that take turns send all of them."""
    return list(values[turn::turns])


def _unique(*groups: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for group in groups:
        for value in group:
            seen.setdefault(json.dumps(value), value)
    return list(seen.values())


Path_ = tuple[str, ...]


@dataclass(frozen=True)
class Stricter:
    """A deliberate refusal of values the API server accepts: which rule, and why."""

    rule: str
    why: str
    applies: Callable[[Any], bool]


@dataclass(frozen=True)
class Case:
    key: Path_
    """The config key, one element per level (a quota name holds dots)."""
    sentinel: Any
    """A value every check accepts and nothing else in the render contains."""
    values: Sequence[Any]
    stricter: Sequence[Stricter] = ()
    setup: Mapping[Path_, Any] = field(default_factory=dict)
    """Other keys the case needs (an Ingress for its host, a NodePort Service for its port)."""
    dry_run: bool = True
    """False where only a real create reaches the rule; the namespace goes at the end."""

    @property
    def id(self) -> str:
        return ".".join(self.key)


# ---- the deliberate exceptions ------------------------------------------------------------

_LEADING_DIGIT_1035 = Stricter(
    "IsDNS1035Label (prefix)",
    "the prefix starts every Service name, and a Service name is a DNS-1035 label: a leading "
    "digit passes in the other objects' names and labels but never in a Service's",
    lambda v: isinstance(v, str) and v[:1].isdigit(),
)
_NAMESPACE_SELECTOR = Stricter(
    "IsDNS1123Label (network.ingressNamespace)",
    "it is matched as the kubernetes.io/metadata.name label of a namespace; a label value that "
    "is no namespace name (upper case, '_', '.') is accepted in the selector but matches nothing",
    lambda v: True,
)
_IMAGE_GRAMMAR = Stricter(
    "distribution/reference (images and registries)",
    "the API server checks only that an image is not empty and has no surrounding spaces; the "
    "reference grammar is the container runtime's and the registry's, which refuse the rest at "
    "pull time, after `pulumi up` has rolled the Deployment",
    lambda v: True,
)
_ENV_NAME = Stricter(
    "IsCIdentifier (env and secret keys)",
    "each key becomes an environment variable through envFrom; the API server takes any "
    "ConfigMap/Secret key ([-._a-zA-Z0-9]+), but a name such as 'A.B' or '1A' cannot be set or "
    "read by a shell ($A.B), and the services read them as identifiers",
    lambda v: True,
)
_MEMORY_MILLI = Stricter(
    "check_memory (memory in milli units)",
    "'256m' memory is 0.256 bytes to the API server, always a typo for 256Mi; the kubelet would "
    "give the container no memory",
    lambda v: isinstance(v, str) and v.endswith("m") and not v.endswith("-m"),
)
_CANONICAL_CIDR = Stricter(
    "IsValidCIDR (canonical ranges only)",
    "the API server still takes a range with host bits set (10.0.0.1/8, with a warning) and "
    "reads it as the whole network; the stack must say the range it means, as the policy "
    "enforces it",
    lambda v: v in _IP["IsValidCIDR"]["legacy_only"],
)
_PROBE_ZERO = Stricter(
    "Positive (probe periods, timeouts and thresholds)",
    "0 means 'the default' to the API server, which writes 10 s, 1 s or 3 instead: what runs "
    "would not be what the stack says",
    lambda v: v == 0,
)
_SPACES = Stricter(
    "ParseQuantity (no spaces)",
    "the quantity grammar has no spaces (apimachinery's own tests refuse ' 1'); the API server "
    "only trims them while it decodes JSON, and every other reader of the manifests parses the "
    "grammar",
    lambda v: isinstance(v, str) and v != v.strip(),
)
_NEGATIVE_DEFAULT = Stricter(
    "check_quantity (non-negative) in a LimitRange default or defaultRequest",
    "the API server takes a negative default limit or request in the LimitRange itself, then "
    "refuses every pod it is applied to (a container's requests and limits must not be negative)",
    lambda v: isinstance(v, str) and v.startswith("-"),
)
_COUNT_OVERFLOW = Stricter(
    "MAX_QUOTA_COUNT (a count of objects fits its milli value in an int64)",
    "the API server checks that a count is whole by its milli value, which overflows above "
    f"{rules.MAX_QUOTA_COUNT}: 1Ei is refused as 'not an integer', while 1E or 2^63-1 pass only "
    "because the overflow lands on a multiple of 1000; no such count means what it says",
    lambda v: (amount := rules.parse_quantity(v)) is not None and amount > rules.MAX_QUOTA_COUNT,
)
_IMAGE_TAG = Stricter(
    "check_image_tag ({version}-{prefix} is the image tag)",
    "the version is also the published images' tag; the API server does not parse images (see "
    "the image grammar), the registry refuses a tag such as '-dev' at pull time",
    lambda v: isinstance(v, str) and not _is_tag(f"{v}-dev"),
)
_EMPTY_TLS_SECRET = Stricter(
    "DnsSubdomain (ingress.tlsSecretName)",
    "an empty secretName is TLS with the controller's default certificate to the API server, "
    "while the program would read '' as no TLS at all; neither is taken for a blank",
    lambda v: v == "",
)
_DEADLINE_UNDER_WAIT = Stricter(
    "rollout.timeoutSeconds > progressDeadlineSeconds",
    "`pulumi up` must wait longer than Kubernetes takes to call the rollout failed, to report "
    "its reason; the longest wait is 2^31-1 s, so the longest deadline is one second less",
    lambda v: v == 2**31 - 1,
)
_IPV4_EXTERNAL_NAME = Stricter(
    "check_host_name (no IP address)",
    "the API server takes an IPv4 address as an ExternalName made of digits, but DNS resolves "
    "an ExternalName as a CNAME, never as an address: pods could not reach the database",
    lambda v: isinstance(v, str) and v.count(".") == 3 and v.replace(".", "").isdigit(),
)
_NODE_PORT_ZERO = Stricter(
    "nodePort range (30000-32767)",
    "0 asks the API server to pick a port, as leaving nodePort out does; the stack leaves it "
    "out rather than write a port that is not the one the Service gets",
    lambda v: v == 0,
)
_HTTP_TARGET = Stricter(
    "check_http_path (a request target)",
    "the kubelet and the ingress controller send the path as an HTTP request target, which "
    "cannot hold a space or a control character and must start with '/'; the API server does "
    "not look",
    lambda v: isinstance(v, str) and (not v.startswith("/") or any(c.isspace() for c in v)),
)


def _is_tag(text: str) -> bool:
    try:
        rules.check_image_tag(text)
    except ValueError:
        return False
    return True


# ---- the candidates -----------------------------------------------------------------------

_LONGEST_SERVICE = max(CATALOG, key=len)
_PREFIX_ROOM = rules.MAX_LABEL - len(f"-{_LONGEST_SERVICE}")  # `{prefix}-{service}`
_LABELS = _unique(
    _both(_VALIDATION["IsDNS1123Label"]),
    _both(_VALIDATION["IsDNS1035Label"]),
    ["Dev", "dev.x", "dev_x", "a" * 63, "a" * 64],
)
_SUBDOMAINS = _unique(
    _both(_VALIDATION["IsDNS1123Subdomain"]),
    ["db.example.com.", "DB.example.com", "db..example.com", "a" * 63 + ".b", "a" * 64 + ".b"],
)
_QUANTITY_TURNS = 3
"""The well-formed upstream quantities are shared out among the quantity keys of each resource
(cpu, memory, a count) in turns: every one reaches the API server in some field of that kind, in
a third of the time that sending each to every key would take."""


def _quantities(turn: int) -> list[str]:
    """Every malformed upstream quantity, the `turn`-th third of the well-formed ones (as they
    are, negated, and the limits table's), and the edge cases picked by hand."""
    return _unique(
        _QUANTITY["invalid"],
        *(
            _turn(vectors, turn, _QUANTITY_TURNS)
            for vectors in (_QUANTITY["valid"], _QUANTITY["negated_valid"], _QUANTITY_LIMITS)
        ),
        ["256m", "0", "0.5", "1e3", "1E3", "1Ei", "9223372036854775807", "1.5Gi", "+1", " 1"],
    )


_INTS = [-1, 0, 1, 2, 2**31 - 1, 2**31]
_PATHS = _unique(
    [
        "/", "/api", "/api/", "/v1/reminders", "api", "", "//", "/a//b", "/a/./b", "/a/../b",
        "/a%2fb", "/a%2Fb", "/a/..", "/a/.", "/a b", "/a\tb", "/a?b=1", "/a#b", "/ü", "/a;b",
        "/{x}", "/a:b", "/~user", "/%20",
    ],
    # The program's paths are Prefix paths; the other types' vectors are edge cases there too.
    *(_both(rule) for rule in _INGRESS_PATHS.values()),
)  # fmt: skip
_QUOTA_NAMES = _unique(
    sorted(rules.STANDARD_QUOTA_RESOURCES),
    _both(_VALIDATION["IsQualifiedName"]),
    _both(_RESOURCE_NAMES),
    [
        "count/deployments.apps", "count/pods", "count/", "requests.nvidia.com/gpu",
        "limits.nvidia.com/gpu", "nvidia.com/gpu", "gold.storageclass.storage.k8s.io/"
        "requests.storage", "hugepages-2Mi", "requests.hugepages-2Mi", "limits.hugepages-1Gi",
        "requests.example", "example.com/", "storage", "requests.storage", "limits.storage",
        "count/deployments.apps/x", "services.loadbalancers", "CPU", "hugepages-foo",
        "hugepages-", "requests.hugepages-", "limits.hugepages-2Mi", "hugepages--x",
    ],
)  # fmt: skip


def _service_int(service: str, *key: str) -> Path_:
    return ("services", service, *key)


CASES = [
    Case(("environment",), "zqenv", _LABELS),
    Case(
        ("prefix",),
        "zqp",
        _unique(_LABELS, ["a" * _PREFIX_ROOM, "a" * (_PREFIX_ROOM + 1), "p" + "-" * 5 + "q"]),
        stricter=[_LEADING_DIGIT_1035],
    ),
    Case(
        ("version",),
        "9.8.7",
        _unique(_both(_VALIDATION["IsValidLabelValue"]), ["1.0.0", "v1.2.3+build", "1_0"]),
        stricter=[_IMAGE_TAG],
    ),
    Case(
        ("registry",),
        "zq.example.com/zq",
        _unique(
            ["ghcr.io/acme", "localhost:5000", "Docker.io/x", "ghcr.io/Acme", " ghcr.io/x"],
            [v.split(":")[0].split("@")[0] for v in _REFERENCE["valid"][:30]],
        ),
        stricter=[_IMAGE_GRAMMAR],
    ),
    Case(
        ("services", "event-service", "image"),
        "zq.example.com/zq:zq",
        _unique(_REFERENCE["valid"], _REFERENCE["invalid"], ["", " x", "x ", "a:b "]),
        stricter=[_IMAGE_GRAMMAR],
    ),
    Case(
        ("services", "event-service", "env"),
        {"ZQ_NAME": "v"},
        [
            {name: "v"}
            for name in _unique(
                _both(_IDENTIFIER), ["a.b", "-a", "1A", "a-b", "A" * 253, "A" * 254, "a=b", "a b"]
            )
        ],
        stricter=[_ENV_NAME],
    ),  # fmt: skip
    Case(
        ("secrets", "event-service"),
        {"ZQ_SECRET": "v"},
        [{name: "v"} for name in _unique(_both(_IDENTIFIER), ["a.b", "-a", "1A", "a b", "a=b"])],
        stricter=[_ENV_NAME],
    ),
    *(
        Case(
            ("services", "event-service", "resources", section, resource),
            sentinel,
            _quantities(turn),
            stricter=stricter,
            # No LimitRange maximum to fit under: the case is the quantity's grammar.
            setup={("limitRange",): {"defaultRequest": {"cpu": "1m"}}},
        )
        for section, resource, sentinel, turn, stricter in (
            ("requests", "cpu", "31337m", 0, [_SPACES]),
            ("limits", "cpu", "41337m", 1, [_SPACES]),
            ("requests", "memory", "31337Ki", 0, [_SPACES, _MEMORY_MILLI]),
            # Here a small milli amount or ' 1' is one byte at most, below the request of
            # 128Mi, which the API server refuses too; a huge milli amount is not.
            ("limits", "memory", "5551337Ki", 1, [_MEMORY_MILLI]),
        )
    ),
    Case(("quota", "limits.cpu"), "31337m", _quantities(2), stricter=[_SPACES]),
    # Not requests.memory: a quota the services consume is also held to their fit at full scale.
    Case(("quota", "requests.ephemeral-storage"), "31337Ki", _quantities(2), stricter=[_SPACES]),
    *(
        # A count of objects: a whole number, whatever its suffix.
        Case(
            ("quota", name),
            "313",
            _unique(
                _quantities(turn),
                ["0", "1", "1.5", "500m", "1k", "1e3", "2Ki", "-1", "1m", "1000m"],
            ),
            stricter=[_SPACES, _COUNT_OVERFLOW],
        )
        # Not pods: the services' pods at full scale must fit under that quota.
        for name, turn in (("services", 0), ("secrets", 1), ("count/configmaps", 2))
    ),
    Case(("quota",), {"count/zqq": "64Gi"}, [{name: "64Gi"} for name in _QUOTA_NAMES]),
    Case(
        ("limitRange", "max", "cpu"),
        "31337m",
        _quantities(0),
        stricter=[_SPACES],
        setup={("limitRange",): {"defaultRequest": {"cpu": "1m"}}},
    ),
    Case(
        ("limitRange", "default", "memory"),
        "31337Ki",
        _quantities(2),
        stricter=[_SPACES, _MEMORY_MILLI, _NEGATIVE_DEFAULT],
        setup={("limitRange",): {}},
    ),
    Case(
        ("limitRange", "defaultRequest", "cpu"),
        "31337m",
        _quantities(1),
        stricter=[_SPACES, _NEGATIVE_DEFAULT],
        setup={("limitRange",): {}},
    ),
    Case(
        ("ingress", "host"),
        "zq.example.com",
        _unique(
            _SUBDOMAINS,
            _both(_VALIDATION["IsWildcardDNS1123Subdomain"]),
            _every(_IP["IsValidIP"]),
            ["*.example.com", "*", "*.com", "a.*.com", "*a.example.com", "**.example.com"],
            ["1.2.3.4", "::1", "example.com:80", "http://example.com", "example.com/x"],
        ),
        setup={("ingress",): {"host": "api.example.com", "tlsSecretName": "tls"}},
    ),
    Case(("ingress", "className"), "zq", _SUBDOMAINS, setup={("ingress",): {"host": "a.b"}}),
    Case(
        ("ingress", "tlsSecretName"),
        "zq",
        _SUBDOMAINS,
        stricter=[_EMPTY_TLS_SECRET],
        setup={("ingress",): {"host": "a.b"}},
    ),
    Case(
        ("services", "reminder-service", "ingressPath"),
        "/zq",
        _PATHS,
        stricter=[_HTTP_TARGET],
        setup={("ingress",): {"host": "a.b"}},
    ),
    Case(
        ("services", "reminder-service", "probes", "path"),
        "/zq",
        _PATHS,
        stricter=[_HTTP_TARGET],
    ),
    *(
        Case(
            key,
            "zq.example.com",
            _unique(
                _SUBDOMAINS,
                _every(_IP["IsValidIP"]),
                ["1.2.3.4", "::1", "db:5432", "postgres://db", "db/x"],
            ),
            stricter=[_IPV4_EXTERNAL_NAME],
        )
        for key in (
            ("externalServices", "databaseHost"),
            ("externalServices", "databaseHosts", "reminders"),
        )
    ),
    Case(("network", "ingressNamespace"), "zqns", _LABELS, stricter=[_NAMESPACE_SELECTOR]),
    *(
        Case(
            ("network", key),
            ["198.51.100.0/24"],
            # An address without its prefix length is among the candidates too.
            [
                [v]
                for v in _unique(
                    _every(_IP["IsValidCIDR"]),
                    _every(_IP["IsValidIP"]),
                    ["10.0.0.0/8", "::/0", ""],
                )
            ],
            stricter=[
                Stricter(_CANONICAL_CIDR.rule, _CANONICAL_CIDR.why, lambda v: v[0] in _LEGACY)
            ],
        )
        for key in ("ingressCidrs", "databaseCidrs", "httpsCidrs")
    ),
    Case(_service_int("event-service", "replicas"), 4243, _INTS),
    Case(
        ("rollout", "minReadySeconds"),
        4243,
        _INTS,
        setup={("rollout",): {"timeoutSeconds": 2**31 - 1, "progressDeadlineSeconds": 2**31 - 2}},
    ),
    Case(
        ("rollout", "progressDeadlineSeconds"),
        4243,
        _INTS,
        stricter=[_DEADLINE_UNDER_WAIT],
        setup={("rollout",): {"timeoutSeconds": 2**31 - 1, "minReadySeconds": 0}},
    ),
    *(
        Case(
            _service_int("event-service", "probes", "readiness", key),
            4243,
            _INTS,
            stricter=[_PROBE_ZERO] if key != "initialDelaySeconds" else [],
        )
        for key in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")
    ),
    *(
        Case(
            _service_int("notification-service", "autoscaling", key),
            4243,
            _INTS,
            setup={
                ("services", "notification-service"): {
                    "autoscaling": {"minReplicas": 1, "maxReplicas": 2**31 - 1}
                }
            },
        )
        for key in ("minReplicas", "maxReplicas", "targetCPUUtilizationPercentage")
    ),
    Case(
        _service_int("reminder-service", "nodePort"),
        31234,
        [-1, 0, 1, 29999, 30000, 32767, 32768, 2**31],
        # The node port range is the allocator's, which a dry-run never reaches: created for real.
        dry_run=False,
        stricter=[_NODE_PORT_ZERO],
        setup={
            ("allowedServiceTypes",): ["ClusterIP", "NodePort"],
            ("services", "reminder-service", "serviceType"): "NodePort",
        },
    ),
]
_LEGACY = set(_IP["IsValidCIDR"]["legacy_only"])


# ---- the loader's verdict -----------------------------------------------------------------

# dev with an Ingress, and no quota: the fit of the services at full scale under a quota is a
# rule of this program, not the API server's, and a candidate quantity must not trip it.
BASE = load_stack("dev").edited("ingress", {"host": "api.example.com"}).edited("quota", {})


def _set(values: dict[str, Any], key: Path_, value: Any) -> None:
    node = values
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = copy.deepcopy(value)


def _config(case: Case, value: Any) -> StackConfig:
    config = copy.deepcopy(BASE)
    for key, setting in case.setup.items():
        _set(config.values, key, setting)
    _set(config.values, case.key, value)
    if case.key[0] == "secrets":
        config.secret_keys.add("secrets")
    return config


def loader_accepts(config: StackConfig) -> tuple[bool, str]:
    try:
        load(
            config.values,
            secret_keys=config.secret_keys,
            stand_in_secrets=True,
            offline=True,
            project_dir=Path(__file__).resolve().parents[2],
        )
    except ConfigError as error:
        return False, str(error)
    return True, ""


# ---- placing a value where the program puts it --------------------------------------------


def _needles(sentinel: Any) -> list[Any]:
    """What stands for the sentinel in the render: the value, or a mapping's keys."""
    if isinstance(sentinel, dict):
        return list(sentinel)
    if isinstance(sentinel, list):
        return list(sentinel)
    return [sentinel]


def _replacements(sentinel: Any, value: Any) -> list[tuple[Any, Any]]:
    if isinstance(sentinel, (dict, list)):
        return list(zip(_needles(sentinel), _needles(value), strict=True))
    return [(sentinel, value)]


def _holds(node: Any, needle: Any) -> bool:
    if isinstance(node, dict):
        return any(_holds(k, needle) or _holds(v, needle) for k, v in node.items())
    if isinstance(node, list):
        return any(_holds(v, needle) for v in node)
    if isinstance(needle, str) and isinstance(node, str):
        return needle in node
    return type(node) is type(needle) and node == needle


def _replaced(node: Any, needle: Any, value: Any) -> Any:
    if isinstance(node, dict):
        return {_replaced(k, needle, value): _replaced(v, needle, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replaced(v, needle, value) for v in node]
    if isinstance(needle, str) and isinstance(node, str) and needle in node:
        return value if node == needle else node.replace(needle, str(value))
    if type(node) is type(needle) and node == needle:
        return value
    return node


def _sans_namespace(manifest: Mapping[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in manifest["metadata"].items() if k != "namespace"}
    return {**manifest, "metadata": meta}


def _resource(manifest: Mapping[str, Any]) -> str:
    """The object as `kubectl -o name` prints it: `deployment.apps/dev-event-service`."""
    group = manifest["apiVersion"].rpartition("/")[0]
    kind = manifest["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{manifest['metadata'].get('name', '')}"


@dataclass
class Sent:
    """One candidate's documents and what the API server said of each."""

    value: Any
    documents: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def documents(case: Case, values: Sequence[Any]) -> list[Sent]:
    """Each candidate in every object of the render that holds the key's sentinel."""
    rendered = render("dev", config=_config(case, case.sentinel)).manifests.values()
    needles = _needles(case.sentinel)
    # Every namespaced object goes to NAMESPACE: a namespace holding the sentinel is not a use.
    templates = [m for m in rendered if any(_holds(_sans_namespace(m), n) for n in needles)]
    assert templates, f"{case.id}: the sentinel {case.sentinel!r} is in no rendered object"
    sent = []
    for index, value in enumerate(values):
        one = Sent(value)
        for template in templates:
            manifest = template
            for needle, replacement in _replacements(case.sentinel, value):
                manifest = _replaced(manifest, needle, replacement)
            meta = manifest["metadata"]
            if "namespace" in meta:
                meta["namespace"] = NAMESPACE
            if not any(_holds(template["metadata"].get("name"), n) for n in needles):
                # One name per candidate, so kubectl's report says whose document it was.
                meta["name"] = f"{meta['name']}-v{index}"
            one.documents.append(manifest)
        sent.append(one)
    return sent


def dry_run(cluster: Cluster, sent: list[Sent], *, dry: bool = True) -> None:
    """Send every document, in as few `kubectl apply`s as names allow; note each refusal."""
    pending = [(one, doc) for one in sent for doc in one.documents]
    while pending:
        batch, later, names = [], [], set()
        for one, doc in pending:
            (later if _resource(doc) in names else batch).append((one, doc))
            names.add(_resource(doc))
        stream = "".join("---\n" + json.dumps(doc) + "\n" for _, doc in batch)
        result = cluster.kubectl(
            "apply", "--server-side", f"--dry-run={'server' if dry else 'none'}",
            "--field-manager=validators", "--output=name", "--filename=-", check=False,
            stdin=stream,
        )  # fmt: skip
        applied = set(result.stdout.split())
        errors = result.stderr.splitlines()
        for one, doc in batch:
            if _resource(doc) not in applied:
                name = str(doc["metadata"].get("name", ""))
                said = [line for line in errors if json.dumps(name) in line or name in line]
                one.refusals.append(f"{_resource(doc)}: {' | '.join(said) or 'refused'}")
        pending = later


# ---- the test -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apiserver(cluster: Cluster) -> Iterator[Cluster]:
    cluster.kubectl("create", "namespace", NAMESPACE)
    try:
        yield cluster
    finally:
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_loader_and_the_api_server_agree(apiserver: Cluster, case: Case) -> None:
    verdicts = {json.dumps(v): loader_accepts(_config(case, v)) for v in case.values}
    sent = documents(case, case.values)
    dry_run(apiserver, sent, dry=case.dry_run)
    disagreements, used = [], set()
    for one in sent:
        ours, why = verdicts[json.dumps(one.value)]
        theirs = not one.refusals
        if ours and not theirs:
            disagreements.append(f"{one.value!r}: accepted here, refused by the API server: "
                                 f"{one.refusals[0]}")  # fmt: skip
        elif theirs and not ours:
            excused = [s for s in case.stricter if s.applies(one.value)]
            if excused:
                used.add(excused[0].rule)
            else:
                disagreements.append(f"{one.value!r}: refused here ({why}), accepted by the "
                                     "API server")  # fmt: skip
    assert not disagreements, f"{case.id}:\n" + "\n".join(disagreements)
    unused = {s.rule for s in case.stricter} - used
    assert not unused, f"{case.id}: exceptions no value needs any more: {sorted(unused)}"
