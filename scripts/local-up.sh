#!/usr/bin/env bash
# Bring the `local` stack up on a kind cluster: cluster, images, Pulumi stack, placeholder
# secrets, `pulumi up`, then print how to reach the APIs. Safe to run again after a change.
# See docs/local.md for what becomes Ready locally and what cannot.
#
# Environment (all optional):
#   REMINDER_SERVICE_SRC / EVENT_SERVICE_SRC / NOTIFICATION_SERVICE_SRC
#                        source checkouts to build from (see scripts/local-images.sh)
#   SKIP_IMAGES=1        do not rebuild/reload images (they are already in the cluster)
#   PULUMI_BACKEND_URL   state backend (default file://~, i.e. ~/.pulumi)
#   PULUMI_CONFIG_PASSPHRASE  (default: the public local-only passphrase in scripts/common.sh)
#   LOCAL_DB_PASS, LOCAL_AWS_ACCESS_KEY_ID, LOCAL_AWS_SECRET_ACCESS_KEY,
#   LOCAL_FCM_PROJECT_CONFIG_FILE   values for secrets that are not set yet
#   LOCAL_SCALE_TO_ZERO="event-service notification-service"
#                        set these services' replicas to 0 in Pulumi.local.yaml first, so that
#                        `pulumi up` does not wait for workers that cannot become Ready
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

# --- prerequisites: one line each, before anything is changed -------------------------------
require_docker_engine
require kind "install kind 0.20+ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
require kubectl "install kubectl 1.27+ (https://kubernetes.io/docs/tasks/tools/)"
require pulumi "install the Pulumi CLI 3.x (https://www.pulumi.com/docs/install/)"

# --- cluster -----------------------------------------------------------------------------------
if cluster_exists; then
  log "kind cluster ${CLUSTER_NAME} exists"
else
  log "creating kind cluster ${CLUSTER_NAME}"
  kind create cluster --name "$CLUSTER_NAME" --config "${REPO_ROOT}/scripts/kind-config.yaml"
fi
kubectl --context "$KUBE_CONTEXT" cluster-info >/dev/null ||
  die "kubectl cannot reach context ${KUBE_CONTEXT}; try: kind export kubeconfig --name ${CLUSTER_NAME}"

# --- images ------------------------------------------------------------------------------------
if [[ "${SKIP_IMAGES:-}" == 1 ]]; then
  log "SKIP_IMAGES=1: using the images already loaded into ${CLUSTER_NAME}"
else
  "${REPO_ROOT}/scripts/local-images.sh"
fi

# --- Pulumi program dependencies -------------------------------------------------------------
# Pulumi.yaml runs the program with .venv; `pulumi install` creates it from requirements.txt.
if [[ ! -x "${REPO_ROOT}/.venv/bin/python" ]]; then
  log "creating .venv with pulumi install"
  pulumi install
fi

# --- stack -------------------------------------------------------------------------------------
log "state backend: ${PULUMI_BACKEND_URL}"
if pulumi stack select "$STACK" >/dev/null 2>&1; then
  log "selected stack ${STACK}"
else
  log "creating stack ${STACK} (passphrase secrets provider)"
  pulumi stack init "$STACK" --secrets-provider passphrase
fi

# --- placeholder secrets -----------------------------------------------------------------------
placeholder() {
  case "$1" in
    DB_PASS) printf '%s' "${LOCAL_DB_PASS:-postgres}" ;;
    AWS_ACCESS_KEY_ID) printf '%s' "${LOCAL_AWS_ACCESS_KEY_ID:-local-placeholder}" ;;
    AWS_SECRET_ACCESS_KEY) printf '%s' "${LOCAL_AWS_SECRET_ACCESS_KEY:-local-placeholder}" ;;
    FCM_PROJECT_CONFIG)
      if [[ -n "${LOCAL_FCM_PROJECT_CONFIG_FILE:-}" ]]; then
        cat "$LOCAL_FCM_PROJECT_CONFIG_FILE"
      else
        # Not a service account: notification-service will not start with it (docs/local.md).
        printf '{}'
      fi
      ;;
    *) printf 'local-placeholder' ;;
  esac
}

# The list comes from the catalog the program itself checks against, so a secret added there
# is set here without editing this script.
required_secrets="$("${REPO_ROOT}/.venv/bin/python" - <<'PY'
from components.catalog import CATALOG

for spec in CATALOG.values():
    for name in spec.required_secrets:
        print(spec.name, name)
PY
)"
while read -r service variable; do
  key="secrets.${service}.${variable}"
  # Never overwrite a value someone set on purpose (a real DB password, a Firebase key).
  # </dev/null: nothing in this loop may read the list the loop itself is reading.
  if pulumi config get --stack "$STACK" --path "$key" </dev/null >/dev/null 2>&1; then
    continue
  fi
  log "setting placeholder secret ${key}"
  # Through stdin, so that the value never shows in the process list.
  placeholder "$variable" | pulumi config set --stack "$STACK" --secret --path "$key"
done <<<"$required_secrets"

for service in ${LOCAL_SCALE_TO_ZERO:-}; do
  log "LOCAL_SCALE_TO_ZERO: services.${service}.replicas = 0"
  pulumi config set --stack "$STACK" --path "services.${service}.replicas" 0
done

# --- deploy ------------------------------------------------------------------------------------
if ! pulumi up --stack "$STACK" --yes; then
  cat >&2 <<EOM
error: pulumi up failed. Pulumi waits for every Deployment to become Ready; see why one did not:
  kubectl --context ${KUBE_CONTEXT} -n ${NAMESPACE} get pods
  kubectl --context ${KUBE_CONTEXT} -n ${NAMESPACE} logs deployment/${PREFIX}-notification-service
Workers that need AWS/Firebase cannot become Ready locally; LOCAL_SCALE_TO_ZERO skips them
(docs/local.md, "What becomes Ready locally").
EOM
  exit 1
fi

# --- how to reach the APIs ---------------------------------------------------------------------
node_ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' \
  "${CLUSTER_NAME}-control-plane" 2>/dev/null || true)"
forward_port=8080
echo
echo "The HTTP APIs (Swagger UI at /docs):"
for service in reminder-service notification-service; do
  name="${PREFIX}-${service}"
  node_port="$(kubectl --context "$KUBE_CONTEXT" -n "$NAMESPACE" get service "$name" \
    -o jsonpath='{.spec.ports[0].nodePort}' 2>/dev/null || true)"
  echo "  ${service}:"
  case "$node_port" in
    # Only these two are mapped to the host by scripts/kind-config.yaml.
    30080 | 30081) echo "    http://localhost:${node_port}/docs" ;;
    "") echo "    (no Service ${name} found)" ;;
    *)
      # A NodePort the kind config does not map: the node container's own address works
      # where containers are routable from the host (Linux), not on Docker Desktop.
      [[ -n "$node_ip" ]] && echo "    http://${node_ip}:${node_port}/docs   (Linux hosts only)"
      ;;
  esac
  echo "    or: kubectl --context ${KUBE_CONTEXT} -n ${NAMESPACE} port-forward service/${name} ${forward_port}:80"
  echo "        then http://localhost:${forward_port}/docs"
  forward_port=$((forward_port + 1))
done
