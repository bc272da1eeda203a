"""The validators against their consumers' own test suites.

`tests/vectors/*.json` hold the inputs and verdicts of upstream tests (each file names the
repository, path and commit it was read from); every validator in `components.config.rules` that
claims a rule runs over that rule's vectors. Where a field deliberately applies a stricter rule,
the case below says which and why, and the stricter refusal is asserted, not skipped.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import pytest

from components.config import rules
from tools.stack_config import ROOT

VECTORS = ROOT / "tests" / "vectors"


def vectors(name: str) -> dict[str, Any]:
    document = json.loads((VECTORS / f"{name}.json").read_text())
    source = document["source"]
    assert source.get("commit") or source.get("version"), f"{name}.json names no upstream commit"
    return document["rules"]


def accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except ValueError as error:
        assert "\n" not in str(error)
        return False
    return True


VALIDATION = vectors("apimachinery-validation")
IP = vectors("apimachinery-ip")
QUANTITY = vectors("apimachinery-quantity")["ParseQuantity"]
REFERENCE = vectors("distribution-reference")["Parse"]
C_IDENTIFIER = vectors("apimachinery-identifier")["IsCIdentifier"]


def test_every_file_names_its_source():
    for path in VECTORS.glob("*.json"):
        source = json.loads(path.read_text())["source"]
        assert source["repository"] and source["path"], path
        # A commit, or (k8s.io/kubernetes, whose module releases are what can be had) a tag.
        assert len(source.get("commit", "")) == 40 or source["version"].startswith("v"), path


# (validator, upstream rule) pairs whose verdicts must be the same both ways.
SAME = [
    (rules.check_dns_label, VALIDATION["IsDNS1035Label"]),
    (rules.check_dns_subdomain, VALIDATION["IsDNS1123Subdomain"]),
    (rules.check_label_value, VALIDATION["IsValidLabelValue"]),
    (rules.check_variable_name, C_IDENTIFIER),
]


@pytest.mark.parametrize(
    ("check", "rule", "value", "valid"),
    [
        (check, rule["test"], value, verdict == "valid")
        for check, rule in SAME
        for verdict in ("valid", "invalid")
        for value in rule[verdict]
    ],
    ids=lambda v: v.__name__ if callable(v) else repr(v)[:40],
)
def test_the_validator_agrees_with_the_upstream_verdict(check, rule, value, valid):
    assert accepts(check, value) is valid, f"{check.__name__} vs {rule}: {value!r}"


def test_dns_label_is_deliberately_dns_1035():
    # Stricter than IsDNS1123Label on purpose: prefix and environment start Service names, and a
    # Service name is a DNS-1035 label (no leading digit). Everything 1123 refuses, we refuse.
    label = VALIDATION["IsDNS1123Label"]
    for value in label["invalid"]:
        assert not accepts(rules.check_dns_label, value), value
    for value in label["valid"]:
        assert accepts(rules.check_dns_label, value) is value[0].isalpha(), value


@pytest.mark.parametrize("check", [rules.check_host_name, rules.check_ingress_host])
def test_host_names_are_dns_subdomains(check):
    # An ExternalName target and an Ingress host are DNS-1123 subdomains to the API server,
    # which trims an ExternalName's trailing '.' (the root) before it checks the name.
    subdomain = VALIDATION["IsDNS1123Subdomain"]
    external_name = check is rules.check_host_name
    for value in subdomain["invalid"]:
        rooted = value.endswith(".") and accepts(rules.check_dns_subdomain, value[:-1])
        assert accepts(check, value) is (external_name and rooted), value
    for value in subdomain["valid"]:
        assert accepts(check, value), value


def test_quota_names_with_a_slash_are_qualified_names():
    # ResourceQuota accepts a qualified name with a '/' (an extended resource); one without a '/'
    # must also be a standard quota resource, as Kubernetes' IsStandardQuotaResourceName says.
    qualified = VALIDATION["IsQualifiedName"]
    for value in qualified["invalid"]:
        assert not accepts(rules.check_quota_resource, value), value
    for value in qualified["valid"]:
        expected = "/" in value or value in rules.STANDARD_QUOTA_RESOURCES
        assert accepts(rules.check_quota_resource, value) is expected, value


def test_cidrs():
    cidr = IP["IsValidCIDR"]
    for value in cidr["valid"]:
        assert accepts(rules.check_cidr, value), value
    for value in cidr["invalid"]:
        assert not accepts(rules.check_cidr, value), value
    # Deliberately stricter than the legacy NetworkPolicy field: a range only in canonical form,
    # as IsValidCIDR (the strict rule) requires, so the policy reads as it is enforced.
    for value in cidr["legacy_only"]:
        assert not accepts(rules.check_cidr, value), value


def test_ingress_host_wildcards():
    # An Ingress host is a DNS-1123 subdomain or a wildcard one (IsWildcardDNS1123Subdomain):
    # a bad wildcard is refused, unless it is a plain name the first rule takes.
    wildcard = VALIDATION["IsWildcardDNS1123Subdomain"]
    for value in wildcard["valid"]:
        assert accepts(rules.check_ingress_host, value), value
    for value in wildcard["invalid"]:
        plain = accepts(rules.check_dns_subdomain, value)
        assert accepts(rules.check_ingress_host, value) is plain, value


def test_ingress_host_refuses_every_ip_address():
    # The API server refuses an IP address as an Ingress host (it must be a DNS name).
    for value in IP["IsValidIP"]["valid"]:
        assert not accepts(rules.check_ingress_host, value), value


@pytest.mark.parametrize("value", QUANTITY["valid"])
def test_every_upstream_quantity_is_accepted(value):
    assert rules.parse_quantity(value) is not None, value
    assert accepts(rules.check_quantity, value), value


@pytest.mark.parametrize("value", QUANTITY["negated_valid"])
def test_negative_quantities_parse_and_are_refused_as_negative(value):
    # Requests, limits and quotas must not be negative (ValidateNonnegativeQuantity).
    amount = rules.parse_quantity(value)
    assert amount is not None, value
    with pytest.raises(ValueError, match="must not be negative" if amount else "^$"):
        if amount:
            rules.check_quantity(value)
        else:
            raise ValueError("")  # -0 is 0: nothing to refuse


@pytest.mark.parametrize("value", QUANTITY["invalid"])
def test_every_upstream_malformed_quantity_is_refused(value):
    assert rules.parse_quantity(value) is None, value
    assert not accepts(rules.check_quantity, value), value


AMOUNTS = {
    **QUANTITY["amounts"],
    **vectors("apimachinery-quantity")["ParseQuantityLimits"]["amounts"],
}


@pytest.mark.parametrize(("text", "amount"), AMOUNTS.items())
def test_quantity_amounts(text, amount):
    # The value the API server compares and sums (the LimitRange order and the quota fit use
    # parse_quantity): rounded up to a nano-unit, 3.001n is 4n; a binary amount is capped at
    # 2^63-1, 9Ei among them; 1Ki is 1024, and 100m is 0.1.
    assert rules.parse_quantity(text) == Decimal(amount), text


@pytest.mark.parametrize(("text", "amount"), AMOUNTS.items())
def test_every_suffix_and_sign_keeps_the_amount(text, amount):
    # The upstream test parses each input again with a '+' before it, and with a '-' as its
    # negation; the suffixes are the ones the table uses, each checked by value.
    if text.startswith(("-", "+")):
        return
    assert rules.parse_quantity(f"+{text}") == Decimal(amount), text
    assert rules.parse_quantity(f"-{text}") == -Decimal(amount), text


def test_the_suffixes_are_kubernetes_suffixes():
    for suffix, power in [("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)]:
        assert rules.parse_quantity(f"1{suffix}") == 2**power, suffix
    for suffix, power in [("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6), ("G", 9)]:
        assert rules.parse_quantity(f"1{suffix}") == Decimal(10) ** power, suffix
    for suffix, power in [("T", 12), ("P", 15), ("E", 18)]:
        assert rules.parse_quantity(f"1{suffix}") == Decimal(10) ** power, suffix
    assert rules.parse_quantity("100m") == Decimal("0.1")


@pytest.mark.parametrize("value", REFERENCE["valid"])
def test_every_upstream_image_reference_is_accepted(value):
    assert accepts(rules.check_image, value), value


@pytest.mark.parametrize("value", REFERENCE["invalid"])
def test_every_upstream_bad_image_reference_is_refused(value):
    assert not accepts(rules.check_image, value), (value, REFERENCE["errors"][value])


PARTITIONS = json.loads((VECTORS / "botocore-partitions.json").read_text())["partitions"]
ACCOUNT = "123456789012"


def test_our_partitions_are_aws_partitions():
    assert set(rules.AWS_PARTITIONS) == set(PARTITIONS)
    for partition, data in PARTITIONS.items():
        assert rules.AWS_PARTITION_REGIONS[partition][1] == data["dnsSuffix"], partition


@pytest.mark.parametrize(
    ("partition", "region"),
    [(p, r) for p, data in PARTITIONS.items() for r in data["regions"]],
)
def test_every_region_of_every_partition(partition, region):
    domain = PARTITIONS[partition]["dnsSuffix"]
    assert accepts(rules.check_sns_topic_arn, f"arn:{partition}:sns:{region}:{ACCOUNT}:t")
    assert accepts(rules.check_iam_role_arn, f"arn:{partition}:iam::{ACCOUNT}:role/r")
    for host in (f"sqs.{region}.{domain}", f"{region}.queue.{domain}"):
        assert accepts(rules.check_sqs_queue_url, f"https://{host}/{ACCOUNT}/q"), host
    # The region is of this partition only: another partition's ARN or domain is refused.
    for other, data in PARTITIONS.items():
        if other == partition:
            continue
        assert not accepts(rules.check_sns_topic_arn, f"arn:{other}:sns:{region}:{ACCOUNT}:t")
        if data["dnsSuffix"] != domain:
            url = f"https://sqs.{region}.{data['dnsSuffix']}/{ACCOUNT}/q"
            assert not accepts(rules.check_sqs_queue_url, url), url


DOMAIN = vectors("distribution-domain")["DomainRegexp"]


@pytest.mark.parametrize("domain", DOMAIN["valid"])
def test_every_upstream_registry_host_is_accepted(domain):
    assert accepts(rules.check_registry, f"{domain}/acme"), domain
    assert accepts(rules.check_image, f"{domain}/acme/app:1.0"), domain


@pytest.mark.parametrize("domain", DOMAIN["invalid"])
def test_every_upstream_bad_registry_host_is_refused(domain):
    assert not accepts(rules.check_registry, f"{domain}/acme"), domain
    assert not accepts(rules.check_image, f"{domain}/acme/app:1.0"), domain


def _extract_script() -> Any:
    import importlib.util

    path = ROOT / "scripts" / "vectors" / "extract.py"
    spec = importlib.util.spec_from_file_location("vectors_extract", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_file_is_one_the_extraction_script_makes_from_its_pin():
    # The regeneration itself needs the upstream files (tests/vectors/README.md); this needs
    # none: each committed file is one the script makes, and names the commit the script reads.
    extract = _extract_script()
    assert {p.stem for p in VECTORS.glob("*.json")} == set(extract.FILES)
    for path in VECTORS.glob("*.json"):
        source = json.loads(path.read_text())["source"]
        name = next(n for n, u in extract.UPSTREAMS.items() if u.repository == source["repository"])
        assert source == extract.header(name, source["path"]), path
        assert (name, source["path"]) in extract.SHA256, path


RESOURCE_NAMES = vectors("kubernetes-resource-names")["validateResourceName"]


def test_quota_names_against_kubernetes_resource_names():
    # TestValidateResourceNames checks validateResourceName, the rule of a container's and a
    # LimitRange's resources. A ResourceQuota name is stricter (validateResourceQuotaResourceName):
    # one without a '/' must be a standard quota resource, so `storage` (a volume's size) is
    # refused there and `requests.storage` is the quota name. What the rule refuses, we refuse.
    for value in RESOURCE_NAMES["invalid"]:
        assert not accepts(rules.check_quota_resource, value), value
    huge_pages = rules.HUGE_PAGES_QUOTA_PREFIXES
    for value in RESOURCE_NAMES["valid"]:
        quota = "/" in value or value in rules.STANDARD_QUOTA_RESOURCES
        quota = quota or value.startswith(huge_pages)
        assert accepts(rules.check_quota_resource, value) is quota, value
    assert not accepts(rules.check_quota_resource, "storage")


INGRESS = vectors("kubernetes-ingress")


@pytest.mark.parametrize("path_type", ["IngressPathPrefix", "IngressPathExact"])
def test_ingress_paths_against_kubernetes(path_type):
    # The program's Ingress paths are Prefix paths; Exact ones have the same rules.
    for value in INGRESS[path_type]["valid"]:
        assert accepts(rules.check_ingress_path, value), value
    for value in INGRESS[path_type]["invalid"]:
        assert not accepts(rules.check_ingress_path, value), value


def test_ingress_paths_are_deliberately_not_implementation_specific():
    # An ImplementationSpecific path may hold '//' (the controller decides); ours is a Prefix
    # path, which may not, so the stricter Prefix rule applies to every value.
    rule = INGRESS["IngressPathImplementationSpecific"]
    for value in rule["invalid"]:
        assert not accepts(rules.check_ingress_path, value), value
    for value in rule["valid"]:
        assert accepts(rules.check_ingress_path, value) is ("//" not in value), value
