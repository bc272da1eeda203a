#!/usr/bin/env bash
# Builds the real-engine toolchain from the Go module proxy: the Pulumi CLI, its Python language
# host, the pulumi-kubernetes provider, etcd, the Kubernetes control plane, kubectl and kwok (and
# helm, the benchmark's peer), at the versions pinned in toolchain/versions.env. Each component
# builds once into a cache outside the repository, keyed by its pins; a second run only checks
# the cache.
#
#   scripts/toolchain.sh            build what is missing; the last line printed is the bin folder
#   PATH="$(scripts/toolchain.sh | tail -n 1):$PATH"
#
# The cache is $NOTIFICATION_DELIVERY_TOOLCHAIN (default ~/.cache/notification-delivery/toolchain);
# Go's own module and build caches are Go's defaults. Nothing is written inside the repository.
# docs/real-engine.md says what is built from where, and why each version is the one pinned.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../toolchain/versions.env
source "$REPO_ROOT/toolchain/versions.env"

CACHE="${NOTIFICATION_DELIVERY_TOOLCHAIN:-${XDG_CACHE_HOME:-$HOME/.cache}/notification-delivery/toolchain}"
LOGS="$CACHE/logs"
BIN="$CACHE/bin-$(cat "$REPO_ROOT/toolchain/versions.env" "$REPO_ROOT/toolchain/pulumi-resource-kubernetes/main.go" | sha256sum | cut -c1-12)"

# `--installed`: print the bin folder if these pins are built, else fail; build nothing.
if [[ "${1:-}" == "--installed" ]]; then
  [[ -f "$BIN/.complete" ]] && echo "$BIN" && exit 0
  echo "toolchain: not built for these pins; run scripts/toolchain.sh" >&2
  exit 1
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/toolchain.sh [--installed]" >&2
  exit 2
fi
mkdir -p "$LOGS"

# The machine's own Go unless GOTOOLCHAIN names one (the workflows name a release for runners
# whose Go is older): a dependency's `toolchain` line must not make go fetch another Go. Static
# binaries need no C compiler. A workspace the user has set would change what the wrapper
# modules resolve.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod

log() { printf 'toolchain: %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "go not found on PATH: install Go 1.26 or newer"; exit 1; }
command -v python3 >/dev/null 2>&1 || { log "python3 not found on PATH"; exit 1; }

# downloaded FIELD MODULE@VERSION: a path `go mod download -json` reports for that module in Go's
# module cache: GoMod (its go.mod) or Dir (its source folder).
downloaded() {
  go mod download -json "$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); f=sys.argv[1]; print(d[f]) if f in d else sys.exit(d.get("Error", "no " + f))' "$1"
}

# wrapper NAME: a module of our own in the current folder, from which upstream main packages are
# built. Upstream go.mod files carry `replace` lines into their own repositories (../sdk,
# ./staging/...), which `go install pkg@version` refuses; a wrapper module sets its own.
wrapper() {
  go mod init "toolchain.notification-delivery.local/$1" >/dev/null 2>&1
}

# copy_version_replaces GOMOD: repeat the upstream go.mod's replace lines that point at another
# module version (a fork such as github.com/tgummerer/clipboard), skipping those into its own tree.
copy_version_replaces() {
  go mod edit -json "$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if new.get("Version"):
        print("-replace=%s=%s@%s" % (old["Path"], new["Path"], new["Version"]))
' >replaces.txt
  while read -r flag; do go mod edit "$flag"; done <replaces.txt
  rm -f replaces.txt
}

build_pulumi() {
  local out=$1 v="v$PULUMI_VERSION"
  wrapper pulumi
  copy_version_replaces "$(downloaded GoMod "github.com/pulumi/pulumi/pkg/v3@$v")"
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$v" "github.com/pulumi/pulumi/sdk/v3@$v"
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_language_python() {
  local out=$1 v="v$PULUMI_LANGUAGE_PYTHON_VERSION" dir
  wrapper pulumi-language-python
  copy_version_replaces "$(downloaded GoMod "github.com/pulumi/pulumi/sdk/v3@$v")"
  go get "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python@$v"
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    -o "$out/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python
  # The host runs the program through this script, which it looks for beside its own binary.
  dir="$(downloaded Dir "github.com/pulumi/pulumi/sdk/v3@$v")"
  install -m 0755 "$dir/python/cmd/pulumi-language-python-exec" "$out/pulumi-language-python-exec"
}

build_kubernetes_provider() {
  local out=$1 mod="github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_MODULE" dir
  wrapper pulumi-resource-kubernetes
  copy_version_replaces "$(downloaded GoMod "$mod")"
  # Upstream's main embeds two generated, git-ignored files that the module zip lacks; ours
  # embeds the committed schema and mapping with the version set, as upstream's generator does.
  cp "$REPO_ROOT/toolchain/pulumi-resource-kubernetes/main.go" main.go
  dir="$(downloaded Dir "$mod")/cmd/pulumi-resource-kubernetes"
  python3 - "$dir" "$PULUMI_KUBERNETES_VERSION" <<'PY'
import json, sys
src, version = sys.argv[1], sys.argv[2]
schema = json.load(open(f"{src}/schema.json"))
schema["version"] = version
json.dump(schema, open("schema-embed.json", "w"), separators=(",", ":"))
json.dump(json.load(open(f"{src}/terraform-mapping.json")), open("terraform-mapping-embed.json", "w"), separators=(",", ":"))
PY
  go get "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider@$PULUMI_KUBERNETES_MODULE"
  go mod tidy
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    -o "$out/pulumi-resource-kubernetes" .
}

build_etcd() {
  local out=$1 v="v$ETCD_VERSION"
  wrapper etcd
  copy_version_replaces "$(downloaded GoMod "go.etcd.io/etcd/server/v3@$v")"
  go get "go.etcd.io/etcd/server/v3@$v"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

build_kubernetes() {
  local out=$1 v="v$KUBERNETES_VERSION" staging minor ldflags pkg
  wrapper kubernetes
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with folders of its
  # own tree; here each is the published module of the same release (v1.37.2 -> v0.37.2).
  staging="v0.${KUBERNETES_VERSION#1.}"
  go mod edit -json "$(downloaded GoMod "k8s.io/kubernetes@$v")" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"]["Path"].startswith("./staging/"):
        print(r["Old"]["Path"])
' >staging.txt
  [[ -s staging.txt ]] || { echo "k8s.io/kubernetes@$v has no staging replace lines"; return 1; }
  while read -r module; do go mod edit "-replace=$module=$module@$staging"; done <staging.txt
  go get "k8s.io/kubernetes@$v"
  minor="${KUBERNETES_VERSION#1.}"; minor="${minor%%.*}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_kwok() {
  local out=$1 v="v$KWOK_VERSION"
  wrapper kwok
  go get "sigs.k8s.io/kwok/cmd/kwok@$v"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
  # kwok does nothing without stages; these are the module's own "fast" ones (a node becomes
  # Ready at once, a pod Running and Ready, a deleted pod goes), which scripts/cluster.sh loads.
  local stages
  stages="$(downloaded Dir "sigs.k8s.io/kwok@$v")/kustomize/stage"
  for file in node/fast/node-initialize.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cat "$stages/$file"
    echo "---"
  done >"$out/kwok-stages.yaml"
}

build_helm() {
  local out=$1 v="v$HELM_VERSION"
  wrapper helm
  go get "helm.sh/helm/v3/cmd/helm@$v"
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$v" \
    -o "$out/helm" helm.sh/helm/v3/cmd/helm
}

# component NAME KEY: build NAME into $CACHE/NAME-KEY unless an earlier run finished it there.
# A failed build leaves only its log; the error is shown and the run stops.
component() {
  local name=$1 key=$2 dest="$CACHE/$1-$2" work start status
  COMPONENT_DIRS+=("$dest")
  if [[ -f "$dest/.complete" ]]; then
    return 0
  fi
  work="$(mktemp -d "$CACHE/.build-$name.XXXXXX")"
  mkdir -p "$work/src" "$work/bin"
  log "building $name $key (log: $LOGS/$name.log)"
  start=$SECONDS
  # The build runs with errexit in force (a function called from `if !` would run without it,
  # and a failed step would go unnoticed until a later one).
  set +e
  (set -e; cd "$work/src"; "build_${name//-/_}" "$work/bin") >"$LOGS/$name.log" 2>&1
  status=$?
  set -e
  if [[ $status -ne 0 ]]; then
    log "building $name $key failed; the go error:"
    tail -n 40 "$LOGS/$name.log" >&2
    rm -rf "$work"
    exit 1
  fi
  # Only our own build folder is replaced: an interrupted earlier build of this key.
  rm -rf "$dest"
  mv "$work/bin" "$dest"
  rm -rf "$work"
  log "built $name $key in $((SECONDS - start)) s"
  touch "$dest/.complete"
}

COMPONENT_DIRS=()
component pulumi "$PULUMI_VERSION"
component language-python "$PULUMI_LANGUAGE_PYTHON_VERSION"
component kubernetes-provider "$PULUMI_KUBERNETES_MODULE-$(sha256sum "$REPO_ROOT/toolchain/pulumi-resource-kubernetes/main.go" | cut -c1-12)"
component etcd "$ETCD_VERSION"
component kubernetes "$KUBERNETES_VERSION"
component kwok "$KWOK_VERSION"
component helm "$HELM_VERSION"

# One folder for PATH, named by the pins, holding every component's files as hard links: the
# CLI looks for its language host beside its own binary, and a symbolic link would resolve to
# the CLI's component folder instead.
mkdir -p "$BIN"
for dir in "${COMPONENT_DIRS[@]}"; do
  for file in "$dir"/*; do
    ln -f "$file" "$BIN/$(basename "$file")"
  done
done
touch "$BIN/.complete"
echo "$BIN"
