#!/usr/bin/env bash
# Put each service's image into the kind cluster as notification-delivery/<service>:local.
#
#   scripts/local-images.sh [SERVICE...]      (default: all three services)
#
# Per service, from a source checkout if there is one, else from Docker Hub:
#   REMINDER_SERVICE_SRC       default ../reminder-service/src       (relative to the repo root)
#   EVENT_SERVICE_SRC          default ../event-service/src
#   NOTIFICATION_SERVICE_SRC   default ../notification-service/src
#   PUBLISHED_REGISTRY         default docker.io/adisakshya
#   PUBLISHED_TAG              default 1.0.0-dev
# The image is then copied into the kind node with `kind load docker-image`: nothing is pushed
# anywhere, which is why Pulumi.local.yaml runs it with imagePullPolicy IfNotPresent.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_docker_engine
require kind "install kind 0.20+ (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
cluster_exists || die "kind cluster ${CLUSTER_NAME} does not exist: run scripts/local-up.sh first"

published_registry="${PUBLISHED_REGISTRY:-docker.io/adisakshya}"
published_tag="${PUBLISHED_TAG:-1.0.0-dev}"

# reminder-service -> REMINDER_SERVICE_SRC
source_variable() {
  local name="${1^^}"
  printf '%s_SRC' "${name//-/_}"
}

source_dir() {
  local variable
  variable="$(source_variable "$1")"
  local dir="${!variable:-../$1/src}"
  # Relative paths are taken from the repo root, so the result does not depend on where
  # `make` or the script was started.
  [[ "$dir" == /* ]] || dir="${REPO_ROOT}/${dir}"
  printf '%s' "$dir"
}

prepare() {
  local service="$1" image dir variable
  image="$(local_image "$service")"
  dir="$(source_dir "$service")"
  variable="$(source_variable "$service")"
  if [[ -d "$dir" ]]; then
    # A folder that exists but has no Dockerfile is a wrong path, not a reason to fall back
    # silently to the published image.
    [[ -f "$dir/Dockerfile" ]] || die "$variable=$dir has no Dockerfile (the services keep it in src/)"
    log "$service: building $image from $dir"
    docker build --tag "$image" "$dir"
  else
    local published="${published_registry}/${service}:${published_tag}"
    log "$service: no checkout at $dir ($variable); using the published $published"
    docker pull "$published"
    docker tag "$published" "$image"
  fi
  log "$service: loading $image into kind cluster ${CLUSTER_NAME}"
  kind load docker-image --name "$CLUSTER_NAME" "$image"
}

if (($# == 0)); then
  set -- "${SERVICES[@]}"
fi
for service in "$@"; do
  case " ${SERVICES[*]} " in
    *" $service "*) prepare "$service" ;;
    *) die "unknown service $service (known: ${SERVICES[*]})" ;;
  esac
done
