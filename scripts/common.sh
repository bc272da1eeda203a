# shellcheck shell=bash
# Shared by the local-* scripts: names, defaults and the prerequisite check. Sourced, not run.

# The repository root, whatever directory the caller started in.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

CLUSTER_NAME="${KIND_CLUSTER_NAME:-notification-delivery}"
# Must match `notification-delivery:cluster.context` in Pulumi.local.yaml: kind names contexts
# `kind-<cluster>`.
KUBE_CONTEXT="kind-${CLUSTER_NAME}"
STACK="local"
NAMESPACE="local"
PREFIX="local"
# Used by the scripts that source this file.
# shellcheck disable=SC2034
SERVICES=(reminder-service event-service notification-service)
export CLUSTER_NAME KUBE_CONTEXT STACK NAMESPACE PREFIX

# A file backend keeps the local stack's state on this machine (~/.pulumi). It is set for these
# scripts' processes only: `pulumi login --local` would also switch every other project of
# this user away from the backend it is logged in to.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://~}"
# Local-only passphrase, deliberately public: it protects nothing but the placeholder secrets
# of a throw-away cluster. Set PULUMI_CONFIG_PASSPHRASE to use your own.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-notification-delivery-local-only}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# require TOOL HINT: stop with one line naming the missing tool and where to get it.
require() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"
}

require_docker_engine() {
  require docker "install Docker Desktop or Docker Engine 24+ (https://docs.docker.com/get-docker/)"
  docker info >/dev/null 2>&1 ||
    die "docker is installed but its engine is not reachable: start Docker Desktop or the docker service"
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

# The image each Deployment of the local stack runs (Pulumi.local.yaml, services.*.image).
local_image() {
  printf 'notification-delivery/%s:local' "$1"
}
