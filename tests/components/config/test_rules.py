"""The value grammars on their own: what each consumer (API server, registry, AWS) accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from components.config import rules


def refused(check, value) -> str:
    with pytest.raises(ValueError) as error:
        check(value)
    return str(error.value)


@pytest.mark.parametrize("value", ["dev", "prod-eu-1", "a" * 63])
def test_dns_labels_accepted(value):
    assert rules.check_dns_label(value) == value


@pytest.mark.parametrize("value", ["Dev", "1dev", "dev-", "a" * 64, "dev.eu", "dev_1", ""])
def test_dns_labels_refused(value):
    assert "is not a DNS label" in refused(rules.check_dns_label, value)


@pytest.mark.parametrize("value", ["tls-cert", "kong", "example.com", "a.b-c.d"])
def test_dns_subdomains_accepted(value):
    assert rules.check_dns_subdomain(value) == value


@pytest.mark.parametrize("value", ["Tls", "a..b", "-a", "a." * 130, "a_b"])
def test_dns_subdomains_refused(value):
    assert "is not a DNS subdomain" in refused(rules.check_dns_subdomain, value)


def test_database_host_is_a_host_not_a_url():
    assert rules.check_host_name("db.c9akciq32.us-east-1.rds.amazonaws.com")
    assert rules.check_host_name("db.example.com.") == "db.example.com."  # fully qualified
    # The API server refuses an IPv6 address; an IPv4 one it takes as a name DNS never resolves.
    for address in ("10.0.0.5", "::1"):
        assert refused(rules.check_host_name, address) == (
            f"{address!r} is an IP address; an ExternalName Service needs the database's DNS "
            "name (e.g. its RDS endpoint), as DNS never resolves an address there"
        )
    assert refused(rules.check_host_name, "postgres://db.example.com") == (
        "'postgres://db.example.com' is a URL; give the host name only (e.g. db.example.com)"
    )
    assert refused(rules.check_host_name, "db.example.com:5432") == (
        "'db.example.com:5432' has a port; give the host name only (the port is 5432)"
    )
    assert "is not a host name" in refused(rules.check_host_name, "DB.Example.com")


def test_ingress_hosts():
    assert rules.check_ingress_host("api.example.com")
    assert rules.check_ingress_host("*.example.com")
    assert refused(rules.check_ingress_host, "10.0.0.1") == (
        "'10.0.0.1' is an IP address; an Ingress host must be a DNS name"
    )
    # The API server reads an IPv4 address with leading zeros as one too (ParseIPSloppy).
    assert refused(rules.check_ingress_host, "1.1.1.01") == (
        "'1.1.1.01' is an IP address; an Ingress host must be a DNS name"
    )
    assert rules.check_ingress_host("1.2.3.400")  # no address: a name of digits
    assert "no scheme, port or path" in refused(rules.check_ingress_host, "https://api.example.com")
    assert "is not a DNS name" in refused(rules.check_ingress_host, "api.*.example.com")


def test_cidrs_must_be_canonical_ranges():
    assert rules.check_cidr("10.0.0.0/8") == "10.0.0.0/8"
    assert rules.check_cidr("fd00::/8") == "fd00::/8"
    assert refused(rules.check_cidr, "10.0.0.1/8") == (
        "'10.0.0.1/8' has host bits set; the range is 10.0.0.0/8"
    )
    assert (
        refused(rules.check_cidr, "10.0.0.0")
        == "'10.0.0.0' needs a prefix length, e.g. 10.0.0.0/32"
    )
    assert refused(rules.check_cidr, "10.0.0.0/33") == (
        "'10.0.0.0/33' is not an address range (e.g. 10.0.0.0/16)"
    )
    assert "is not an address range" in refused(rules.check_cidr, "010.0.0.0/8")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("docs", "'docs' must start with '/'"),
        ("/a//b", "'/a//b' must not contain '//'"),
        ("/a/../b", "'/a/../b' must not contain '/../'"),
        ("/a%2Fb", "'/a%2Fb' must not contain '%2F'"),
        ("/a/..", "'/a/..' must not end with '/..' or '/.'"),
        ("/a b", "'/a b' must not contain spaces; percent-encode them"),
    ],
)
def test_ingress_paths_follow_kubernetes_prefix_rules(value, problem):
    assert refused(rules.check_ingress_path, value) == problem


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("100m", Decimal("0.1")),
        ("2", Decimal(2)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1.5Gi", Decimal("1.5") * 2**30),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        ("2Pi", Decimal(2) * 2**50),
    ],
)
def test_quantities_parse_as_kubernetes_does(text, amount):
    assert rules.parse_quantity(text) == amount


@pytest.mark.parametrize("text", ["1mi", "1MB", "abc", "1 Gi", "", "1.2.3", "Mi"])
def test_malformed_quantities(text):
    assert rules.parse_quantity(text) is None
    assert "is not a Kubernetes quantity" in refused(rules.check_quantity, text)


def test_quantities_from_yaml_numbers_and_negative_ones():
    assert rules.check_quantity(2) == "2"
    assert rules.check_quantity(0.5) == "0.5"
    assert refused(rules.check_quantity, "-1") == "'-1' must not be negative"


@pytest.mark.parametrize(
    "name",
    ["requests.cpu", "limits.memory", "pods", "count/deployments.apps", "requests.nvidia.com/gpu"],
)
def test_quota_resource_names_accepted(name):
    assert rules.check_quota_resource(name) == name


@pytest.mark.parametrize("name", ["requests.cpuu", "cpus", "count/", "Pods"])
def test_quota_resource_names_refused(name):
    assert "is not a resource a ResourceQuota can limit" in refused(
        rules.check_quota_resource, name
    )


def test_counted_quota_resources_are_whole():
    assert rules.quota_must_be_whole("pods")
    assert rules.quota_must_be_whole("count/configmaps")
    assert not rules.quota_must_be_whole("requests.cpu")


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "docker.io/adisakshya/reminder-service:1.0.0-dev",
        "localhost:5000/team/app:v1",
        "registry.example.com:5000/a/b_c/d-e@sha256:" + "a" * 64,
        "ghcr.io/acme/app:1.0@sha256:" + "0" * 64,
        "[::1]:5000/app",
    ],
)
def test_image_references_accepted(image):
    assert rules.check_image(image) == image


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("https://ghcr.io/acme/app", "has a scheme"),
        ("ghcr.io/Acme/app", "(repository paths are lower-case)"),
        ("app:1.0:2.0", "is not a valid repository path part"),
        ("app:-bad", "is not a tag"),
        ("app@sha256", "is not a digest"),
        ("app@sha256:abc", "a sha256 digest has 64 lower-case hex digits"),
        ("app@sha256:" + "a" * 40, "a sha256 digest has 64 lower-case hex digits"),
        ("app@sha256:" + "A" * 64, "a sha256 digest has 64 lower-case hex digits"),
        ("app@sha512:" + "f" * 128, "'sha512' digests are not supported; pin it as sha256"),
        ("ghcr.io/", "the repository path is empty"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_image_references_refused(image, problem):
    assert problem in refused(rules.check_image, image)


def test_registries():
    assert rules.check_registry("docker.io/adisakshya") == "docker.io/adisakshya"
    assert rules.check_registry("localhost:5000") == "localhost:5000"
    assert rules.check_registry("ghcr.io/acme/") == "ghcr.io/acme"
    assert "has a scheme" in refused(rules.check_registry, "https://ghcr.io/acme")
    assert "must not carry a tag or digest" in refused(rules.check_registry, "ghcr.io/acme:v1")
    assert "lower-case" in refused(rules.check_registry, "ghcr.io/Acme")


def test_image_tags():
    assert rules.check_image_tag("1.0.0-prod") == "1.0.0-prod"
    assert "cannot be an image tag" in refused(rules.check_image_tag, ".hidden")
    assert "cannot be an image tag" in refused(rules.check_image_tag, "a" * 129)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/reminder",
        "arn:aws-cn:iam::123456789012:role/service-role/reminder",
        "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
        "arn:aws-iso-b:iam::123456789012:role/x",
    ],
)
def test_iam_role_arns_in_every_partition(arn):
    assert rules.check_iam_role_arn(arn) == arn


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345:role/x",
        "arn:aws:iam::123456789012:user/x",
        "arn:azure:iam::123456789012:role/x",
        "arn:aws:iam::123456789012:role/" + "x" * 65,
    ],
)
def test_iam_role_arns_refused(arn):
    assert "is not an IAM role ARN" in refused(rules.check_iam_role_arn, arn)


def test_sns_sqs_dynamodb_formats():
    assert rules.check_sns_topic_arn("arn:aws:sns:us-east-1:123456789012:dev-event-topic")
    assert rules.check_sns_topic_arn("arn:aws-cn:sns:cn-north-1:123456789012:t.fifo")
    assert "is not an SNS topic ARN" in refused(
        rules.check_sns_topic_arn, "arn:aws:sqs:us-east-1:123456789012:q"
    )
    assert rules.check_sqs_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/q")
    assert rules.check_sqs_queue_url("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q")
    assert rules.check_sqs_queue_url("https://us-west-2.queue.amazonaws.com/123456789012/q.fifo")
    assert "is not an SQS queue URL" in refused(
        rules.check_sqs_queue_url, "http://sqs.us-east-1.amazonaws.com/123456789012/q"
    )
    assert rules.check_dynamodb_table("event-store")
    assert "is not a DynamoDB table name" in refused(rules.check_dynamodb_table, "ab")


def test_account_ids_and_variable_names_and_platforms():
    assert rules.check_account_id("000000000000") == "000000000000"
    assert "is not a 12-digit AWS account id" in refused(rules.check_account_id, "0")
    assert rules.check_variable_name("DB_HOST") == "DB_HOST"
    assert "not a valid variable name" in refused(rules.check_variable_name, "1X")
    assert rules.check_platform("linux/arm64/v8") == "linux/arm64/v8"
    assert "is not a platform" in refused(rules.check_platform, "amd64")
    assert rules.check_label_value("1.0.0") == "1.0.0"
    assert "is not a valid label value" in refused(rules.check_label_value, "1.0.0+build")


def test_what_the_api_server_taught():
    # Found by tests/e2e/test_validators_vs_apiserver.py: each key's limit is the API server's.
    assert rules.check_variable_name("A" * 253)
    assert "too long" in refused(rules.check_variable_name, "A" * 254)
    for name in ("hugepages-2Mi", "requests.hugepages-1Gi", "hugepages-foo"):
        assert rules.check_quota_resource(name) == name
    for name in ("hugepages-", "requests.hugepages-", "limits.hugepages-2Mi"):
        assert "is not a resource a ResourceQuota can limit" in refused(
            rules.check_quota_resource, name
        )
    assert rules.check_namespace("1-env") == "1-env"
