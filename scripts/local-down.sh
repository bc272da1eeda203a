#!/usr/bin/env bash
# Tear the `local` stack down, then delete the kind cluster.
#   KEEP_CLUSTER=1   destroy the stack but keep the cluster (and its loaded images)
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

require kind "install kind 0.20+ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
require pulumi "install the Pulumi CLI 3.x (https://www.pulumi.com/docs/install/)"

if pulumi stack select "$STACK" >/dev/null 2>&1; then
  if cluster_exists; then
    log "destroying stack ${STACK}"
    pulumi destroy --stack "$STACK" --yes
  else
    # The objects went with the cluster; without this the provider would fail to reach it and
    # leave the stack's state claiming they still exist.
    log "cluster ${CLUSTER_NAME} is gone: dropping the stack's records of its objects"
    PULUMI_K8S_DELETE_UNREACHABLE=true pulumi destroy --stack "$STACK" --yes
  fi
else
  log "no stack ${STACK} in ${PULUMI_BACKEND_URL}: nothing to destroy"
fi

if [[ "${KEEP_CLUSTER:-}" == 1 ]]; then
  log "KEEP_CLUSTER=1: leaving kind cluster ${CLUSTER_NAME}"
elif cluster_exists; then
  log "deleting kind cluster ${CLUSTER_NAME}"
  kind delete cluster --name "$CLUSTER_NAME"
fi
