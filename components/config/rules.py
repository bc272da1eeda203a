"""The grammars the real consumers of a value apply, as plain functions.

Each `check_*` returns the value (sometimes normalised) or raises `ValueError` with a message that
says what is wrong and what to write instead; the model (`components.config.model`) attaches them
to its fields, and the tests call them directly. Sources, so a rule can be checked against its
consumer:

- names, labels, hosts, paths, quotas, limits: Kubernetes' `apimachinery/pkg/util/validation`
  (`IsDNS1123Label`, `IsDNS1123Subdomain`, `IsDNS1035Label`, `IsValidLabelValue`,
  `IsCIdentifier`, `IsQualifiedName`) and `pkg/apis/core/validation` (ResourceQuota names,
  LimitRange, ConfigMap and Secret size), `pkg/apis/networking/validation` (Ingress paths and
  hosts, NetworkPolicy CIDRs);
- quantities: `apimachinery/pkg/api/resource/quantity.go`;
- image references: the distribution project's `reference/regexp.go` grammar;
- ARNs, queue URLs, table names: AWS's documented formats, in every partition.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import ROUND_UP, Decimal, localcontext

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_OBJECT_BYTES = 1024 * 1024
"""A ConfigMap's or Secret's data, keys and values together (`MaxSecretSize`, etcd's limit)."""


def _matching(
    pattern: re.Pattern[str], value: str, what: str, max_length: int | None = None
) -> str:
    """`value` if the whole of it matches `pattern` (and is at most `max_length` long), else
    `ValueError("'value' is not <what>")`."""
    if (max_length is not None and len(value) > max_length) or not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def _subdomain_ok(value: str) -> bool:
    return 0 < len(value) <= MAX_SUBDOMAIN and all(
        _DNS_LABEL.fullmatch(part) for part in value.split(".")
    )


def check_dns_label(value: str) -> str:
    """A name that must also be a DNS-1035 label: namespaces and name prefixes in this program.

    Kubernetes accepts a leading digit in a namespace, but not in a Service name, and every
    Service name here starts with a value checked by this rule.
    """
    return _matching(
        _DNS1035_LABEL,
        value,
        "a DNS label (lower-case letters, digits and '-', starting with a letter, at most 63 "
        "characters)",
        max_length=MAX_LABEL,
    )


def check_namespace(value: str) -> str:
    """A namespace's name, which Kubernetes validates as a DNS-1123 label (`IsDNS1123Label`): a
    leading digit is fine here, as it is not in a Service name (`check_dns_label`)."""
    return _matching(
        _DNS_LABEL,
        value,
        "a namespace name (lower-case letters, digits and '-', starting and ending with a "
        "letter or digit, at most 63 characters)",
        max_length=MAX_LABEL,
    )


def check_dns_subdomain(value: str) -> str:
    """An object name Kubernetes validates as a DNS-1123 subdomain (Secrets, IngressClasses)."""
    if not _subdomain_ok(value):
        raise ValueError(
            f"{value!r} is not a DNS subdomain (lower-case letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit, at most 253 characters)"
        )
    return value


def check_host_name(value: str) -> str:
    """A host name to resolve (an ExternalName target), never a URL or an IP address.

    The API server takes a fully-qualified name with its trailing dot (`db.example.com.`) and
    refuses an IPv6 address; it takes an IPv4 address only as a name made of digits, which DNS
    never resolves as the address, so pods could not reach the database by it.
    """
    if "://" in value or "/" in value:
        raise ValueError(f"{value!r} is a URL; give the host name only (e.g. db.example.com)")
    if _is_ip(value):
        raise ValueError(
            f"{value!r} is an IP address; an ExternalName Service needs the database's DNS name "
            "(e.g. its RDS endpoint), as DNS never resolves an address there"
        )
    if ":" in value:
        raise ValueError(f"{value!r} has a port; give the host name only (the port is 5432)")
    if not _subdomain_ok(value.removesuffix(".")):
        raise ValueError(
            f"{value!r} is not a host name (lower-case letters, digits, '-' and '.', "
            "at most 253 characters)"
        )
    return value


def check_ingress_host(value: str) -> str:
    """An Ingress rule host: a DNS name, optionally `*.` plus one; not an IP address."""
    if _is_ip(value):
        raise ValueError(f"{value!r} is an IP address; an Ingress host must be a DNS name")
    if "://" in value or "/" in value or ":" in value:
        raise ValueError(f"{value!r} must be a host name only, with no scheme, port or path")
    name = value[2:] if value.startswith("*.") else value
    if not _subdomain_ok(name) or "." not in value and value.startswith("*"):
        raise ValueError(
            f"{value!r} is not a DNS name (lower-case letters, digits, '-' and '.'; "
            "a wildcard only as a leading '*.')"
        )
    return value


_IPV4_SLOPPY = re.compile(r"[0-9]+(?:\.[0-9]+){3}")


def _is_ip(value: str) -> bool:
    """An address as the API server reads one (`netutils.ParseIPSloppy`): an IPv4 address may
    have leading zeros there (`1.1.1.01`), which Python's parser refuses."""
    if _IPV4_SLOPPY.fullmatch(value):
        return all(int(part) <= 255 for part in value.split("."))
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def check_cidr(value: str) -> str:
    """An address range in canonical form: `10.0.0.0/8`, not `10.0.0.1/8`."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address range (e.g. 10.0.0.0/16)") from None
    if "/" not in value:
        raise ValueError(f"{value!r} needs a prefix length, e.g. {network}")
    if str(network) != value:
        raise ValueError(f"{value!r} has host bits set; the range is {network}")
    return value


def check_label_value(value: str) -> str:
    return _matching(
        _LABEL_VALUE,
        value,
        "a valid label value (letters, digits, '-', '_' and '.', starting and ending with a "
        "letter or digit, at most 63 characters)",
        max_length=MAX_LABEL,
    )


def check_variable_name(value: str) -> str:
    """An environment variable name every shell and Kubernetes accept (`BAD=NAME` is not); it is
    a ConfigMap or Secret key too, which Kubernetes limits to 253 characters."""
    if not _C_IDENTIFIER.fullmatch(value):
        raise ValueError(
            "not a valid variable name (letters, digits and '_', not starting with a digit)"
        )
    if len(value) > MAX_SUBDOMAIN:
        raise ValueError(
            f"a variable name of {len(value)} characters is too long; Kubernetes takes at most "
            f"{MAX_SUBDOMAIN} (a ConfigMap or Secret key)"
        )
    return value


def check_http_path(value: str) -> str:
    """A probe's HTTP path."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} must not contain spaces; percent-encode them")
    return value


def check_ingress_path(value: str) -> str:
    """An Ingress `Prefix` path, with the rules Kubernetes applies to Exact and Prefix paths."""
    check_http_path(value)
    for bad in ("//", "/./", "/../", "%2f", "%2F"):
        if bad in value:
            raise ValueError(f"{value!r} must not contain {bad!r}")
    if value.endswith(("/..", "/.")):
        raise ValueError(f"{value!r} must not end with '/..' or '/.'")
    return value


def check_api_server(value: str) -> str:
    """A Kubernetes API server URL as a kubeconfig's `clusters[].cluster.server` holds it."""
    scheme, sep, rest = value.partition("://")
    host = rest.split("/", 1)[0]
    if not sep or scheme not in ("https", "http") or not host:
        raise ValueError(f"{value!r} is not an API server URL (e.g. https://203.0.113.10:6443)")
    return value.rstrip("/")


# ---- quantities ---------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_SUFFIXES = {
    None: Decimal(1),
    "n": Decimal("0.000000001"),
    "u": Decimal("0.000001"),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


_NANO = Decimal("1e-9")
_NANO_EXPONENT = -9
_MAX_BINARY = Decimal(INT64_MAX)
"""`maxAllowed` (apimachinery's resource/math.go), the cap on a binary-suffixed amount."""
_BINARY_SUFFIXES = frozenset({"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"})
_QUANTITY_DIGITS = 100
"""Digits kept in arithmetic on amounts: a quantity Kubernetes keeps exactly (an inf.Dec), not
rounded to the 28 of Python's default decimal context."""


def parse_quantity(value: str) -> Decimal | None:
    """A Kubernetes quantity (`100m`, `128Mi`, `2`, `1e3`) as a number, or None if malformed."""
    match = _QUANTITY.fullmatch(value)
    if not match:
        return None
    suffix = match.group("suffix")
    try:
        with localcontext(prec=_QUANTITY_DIGITS):
            number = Decimal(match.group("number"))
            if suffix not in _SUFFIXES:  # an exponent, e3 or E-6 (a bare E is exa)
                amount = number * Decimal(10) ** int(suffix[1:])
            else:
                amount = number * _SUFFIXES[suffix]
            # As ParseQuantity stores it: rounded up (away from zero) to a whole nano-unit, so
            # 3.001n is 4n, and a binary-suffixed amount capped at 2^63-1 (9Ei is 2^63-1).
            if amount and amount.as_tuple().exponent < _NANO_EXPONENT:  # pyright: ignore[reportOperatorIssue]
                amount = amount.quantize(_NANO, rounding=ROUND_UP)
            if suffix in _BINARY_SUFFIXES and abs(amount) > _MAX_BINARY:
                amount = _MAX_BINARY.copy_sign(amount)
            return amount
    except (ArithmeticError, ValueError):  # decimal.InvalidOperation and Overflow among them
        # Out of any real quantity's range: an exponent too long to read (`1e<5000 digits>`) or
        # beyond what a decimal holds (`1E9999999999`); `check_quantity` says so.
        return None


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def in_unit_of(amount: Decimal, quantity: str) -> str:
    """`amount` written in the suffix `quantity` uses: 135559905280 next to `16Gi` is `126.25Gi`."""
    match = _QUANTITY.fullmatch(quantity)
    suffix = match.group("suffix") if match else None
    if suffix is None or suffix not in _SUFFIXES:
        return f"{amount.normalize():f}"
    return f"{(amount / _SUFFIXES[suffix]).normalize():f}{suffix}"


def check_memory(value: str) -> str:
    """A memory quantity: `m` there is milli (`256m` is 0.256 bytes), never mebibytes."""
    amount = parse_quantity(value)
    if amount is not None and value.endswith("m"):
        raise ValueError(
            f"{value!r} is {amount.normalize():f} bytes, as m is milli: write {value[:-1]}Mi for "
            "mebibytes"
        )
    return value


def check_quantity(value: str | int | float) -> str:
    """A non-negative quantity; numbers from YAML (`cpu: 2`, `cpu: 0.5`) become their text."""
    text = str(value) if not isinstance(value, str) else value
    amount = parse_quantity(text)
    if amount is None and _QUANTITY.fullmatch(text):
        raise ValueError(
            f"{_shortened(text)!r} is out of range for a quantity; write the amount with a "
            "suffix, e.g. 500m, 4, 64Gi"
        )
    if amount is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 250m, 1, 256Mi, 1Gi)")
    if amount < 0:
        raise ValueError(f"{text!r} must not be negative")
    return text


# Names `ResourceQuota.spec.hard` accepts without a `/` (IsStandardQuotaResourceName).
STANDARD_QUOTA_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "services.loadbalancers",
        "services.nodeports",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
    }
)
QUOTA_REQUEST_ALIASES = {
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "ephemeral-storage": "requests.ephemeral-storage",
}
"""A quota's bare `cpu`, `memory` and `ephemeral-storage` cap the same sums as their `requests.`
names (Kubernetes' ResourceQuota documentation, "Compute Resource Quota")."""
HUGE_PAGES_QUOTA_PREFIXES = ("hugepages-", "requests.hugepages-")
"""`hugepages-<size>` and `requests.hugepages-<size>`, whatever the size (`hugepages-2Mi`)."""
# Counted objects: Kubernetes refuses a fraction ("must be an integer").
_INTEGER_QUOTA_RESOURCES = frozenset(
    {
        "pods",
        "services",
        "services.loadbalancers",
        "services.nodeports",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
    }
)


def check_quota_resource(name: str) -> str:
    """A `ResourceQuota` resource name: a standard one, `count/<kind>`, or a qualified name."""
    if name in STANDARD_QUOTA_RESOURCES:
        return name
    # Huge pages of any size are standard too (IsQuotaHugePageResourceName), as a qualified name.
    huge_pages = any(name.startswith(p) and name != p for p in HUGE_PAGES_QUOTA_PREFIXES)
    if huge_pages and len(name) <= MAX_LABEL and _QUALIFIED_NAME.fullmatch(name):
        return name
    if "/" in name:
        prefix, _, rest = name.partition("/")
        # `count/<resource>.<group>`, or an extended resource such as `requests.nvidia.com/gpu`.
        domain = prefix.removeprefix("requests.").removeprefix("limits.")
        prefix_ok = prefix == "count" or _subdomain_ok(domain)
        if prefix_ok and len(rest) <= MAX_LABEL and _QUALIFIED_NAME.fullmatch(rest):
            return name
    raise ValueError(
        f"{name!r} is not a resource a ResourceQuota can limit (e.g. requests.cpu, "
        "limits.memory, pods, count/deployments.apps)"
    )


MAX_QUOTA_COUNT = INT64_MAX // 1000
"""The largest count of objects a ResourceQuota takes: the API server checks that a count is
whole by its milli value, an int64, so a larger one overflows and is refused as "not an
integer" (or, by the luck of the overflow, taken as a number it is not)."""


def quota_must_be_whole(name: str) -> bool:
    return name in _INTEGER_QUOTA_RESOURCES or name.startswith("count/")


# ---- images -------------------------------------------------------------------------------

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# The one algorithm the references' parser (go-digest, as distribution/reference registers it)
# accepts, and its encoding: sha512 and the rest are refused as unsupported.
_SHA256 = re.compile(r"[a-f0-9]{64}")
MAX_IMAGE_NAME = 255


def _split_domain(name: str) -> tuple[str | None, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def _check_repository(repository: str, what: str) -> None:
    domain, path = _split_domain(repository)
    if domain is not None and not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{what}: {domain!r} is not a registry host[:port]")
    if not path:
        raise ValueError(f"{what}: the repository path is empty")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            hint = " (repository paths are lower-case)" if component.lower() != component else ""
            raise ValueError(f"{what}: {component!r} is not a valid repository path part{hint}")
    if len(path) > MAX_IMAGE_NAME:
        # The limit is the path's: the registry host is not counted (distribution/reference).
        raise ValueError(f"{what}: the repository path is longer than {MAX_IMAGE_NAME} characters")


def check_image(value: str) -> str:
    """`[registry/]repository[:tag][@digest]`, as a container runtime resolves it."""
    if "://" in value:
        raise ValueError(f"{value!r} has a scheme; write the image as registry/repository:tag")
    rest, at, digest = value.partition("@")
    if at:
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"{value!r}: {digest!r} is not a digest (sha256:<64 hex digits>)")
        algorithm, _, hex_part = digest.partition(":")
        if algorithm != "sha256":
            raise ValueError(
                f"{value!r}: {algorithm!r} digests are not supported; pin it as sha256:<64 hex "
                "digits>"
            )
        if not _SHA256.fullmatch(hex_part):
            raise ValueError(f"{value!r}: a sha256 digest has 64 lower-case hex digits")
    # A tag follows the last ':' after the last '/' (a ':' before it belongs to a registry port).
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    repository, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    if tag is not None and not _TAG.fullmatch(tag):
        raise ValueError(
            f"{value!r}: {tag!r} is not a tag (letters, digits, '_', '.', '-', at most 128)"
        )
    _check_repository(repository, repr(value))
    return value


def check_registry(value: str) -> str:
    """Where `{registry}/{service}:{tag}` images live: `host[:port][/path]`, no scheme or tag."""
    if "://" in value:
        raise ValueError(f"{value!r} has a scheme; write it as host[/namespace], e.g. ghcr.io/acme")
    value = value.rstrip("/")
    last = value.rsplit("/", 1)[-1]
    if "@" in value or ("/" in value and ":" in last):
        raise ValueError(f"{value!r} must not carry a tag or digest; the program adds the tag")
    _check_repository(f"{value}/probe", repr(value))
    return value


def check_image_tag(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise ValueError(
            f"{value!r} cannot be an image tag (letters, digits, '_', '.', '-', "
            "not starting with '.' or '-', at most 128 characters)"
        )
    return value


_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")


def check_platform(value: str) -> str:
    return _matching(_PLATFORM, value, "a platform (os/arch[/variant], e.g. linux/amd64)")


# ---- AWS ----------------------------------------------------------------------------------

# Each partition's regions and endpoint domain, as AWS's partition data (botocore's
# partitions.json) defines them: a region belongs to exactly one partition, and an ARN or a queue
# URL must name a region of its own partition (arn:aws-cn:... is in cn-*, never us-east-1).
AWS_PARTITION_REGIONS = {
    "aws": (r"(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+", "amazonaws.com"),
    "aws-cn": (r"cn-[a-z]+-[0-9]+", "amazonaws.com.cn"),
    "aws-us-gov": (r"us-gov-[a-z]+-[0-9]+", "amazonaws.com"),
    "aws-iso": (r"us-iso-[a-z]+-[0-9]+", "c2s.ic.gov"),
    "aws-iso-b": (r"us-isob-[a-z]+-[0-9]+", "sc2s.sgov.gov"),
    "aws-iso-e": (r"eu-isoe-[a-z]+-[0-9]+", "cloud.adc-e.uk"),
    "aws-iso-f": (r"us-isof-[a-z]+-[0-9]+", "csp.hci.ic.gov"),
    "aws-eusc": (r"eusc-de-[a-z]+-[0-9]+", "amazonaws.eu"),
}
AWS_PARTITIONS = tuple(AWS_PARTITION_REGIONS)
_PARTITION = "(?:" + "|".join(re.escape(p) for p in AWS_PARTITIONS) + ")"
_ACCOUNT = r"[0-9]{12}"
_IAM_ROLE = re.compile(
    rf"arn:{_PARTITION}:iam::{_ACCOUNT}:role/(?:[\x21-\x7e]+/)?[A-Za-z0-9+=,.@_-]{{1,64}}"
)
_IN_PARTITION = (
    "(?:"
    + "|".join(rf"{re.escape(p)}:sns:{region}" for p, (region, _) in AWS_PARTITION_REGIONS.items())
    + ")"
)
_SNS_TOPIC = re.compile(rf"arn:{_IN_PARTITION}:{_ACCOUNT}:[A-Za-z0-9_-]{{1,256}}(?:\.fifo)?")
# The SQS endpoint of each region, in both the current (sqs.<region>.<domain>) and the legacy
# (<region>.queue.<domain>) host form, the domain being the region's partition's.
_SQS_HOST = (
    "(?:"
    + "|".join(
        rf"sqs\.{region}\.{re.escape(domain)}|{region}\.queue\.{re.escape(domain)}"
        for region, domain in AWS_PARTITION_REGIONS.values()
    )
    + ")"
)
_SQS_URL = re.compile(rf"https://{_SQS_HOST}/{_ACCOUNT}/[A-Za-z0-9_-]{{1,80}}(?:\.fifo)?")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_ACCOUNT_ID = re.compile(_ACCOUNT)


def check_account_id(value: str) -> str:
    return _matching(
        _ACCOUNT_ID,
        value,
        "a 12-digit AWS account id (quote it in YAML, or set it with "
        "`pulumi config set --type string --path ...`, so leading zeros stay)",
    )


def check_iam_role_arn(value: str) -> str:
    return _matching(
        _IAM_ROLE, value, "an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)"
    )


def check_sns_topic_arn(value: str) -> str:
    return _matching(
        _SNS_TOPIC,
        value,
        "an SNS topic ARN (arn:<partition>:sns:<region of that partition>:<account>:<topic>)",
    )


def check_sqs_queue_url(value: str) -> str:
    return _matching(
        _SQS_URL,
        value,
        "an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
    )


def check_dynamodb_table(value: str) -> str:
    return _matching(_TABLE, value, "a DynamoDB table name (3-255 letters, digits, '_', '-', '.')")
