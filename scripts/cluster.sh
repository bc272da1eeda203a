#!/usr/bin/env bash
# A Kubernetes control plane on this machine, without containers: etcd, kube-apiserver (RBAC,
# Pod Security admission, ValidatingAdmissionPolicy), kube-controller-manager, kube-scheduler and
# kwok, whose fake nodes run no containers but report pods Running and Ready. A rehearsal of a
# deploy on a laptop without Docker; the end-to-end tests (tests/e2e/) run against it.
#
#   scripts/cluster.sh up DIR [NODES]   start a cluster kept in DIR (NODES fake nodes, default 3)
#   scripts/cluster.sh down DIR         stop the processes `up` started there, by pid
#
# DIR holds the cluster's certificates, etcd's data, every component's log and `kubeconfig`,
# which has one context per committed stack's `cluster.context` (and `admin`), all pointing at
# this API server. Two DIRs are two separate clusters. Binaries come from the toolchain
# (scripts/toolchain.sh) when it is built for the pinned versions, else from PATH.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
TIMEOUT="${CLUSTER_TIMEOUT:-90}"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

usage() { die "usage: scripts/cluster.sh up DIR [NODES] | down DIR"; }

# The pid file's lines are `component pid`; only a live process running that component's binary
# counts, so a pid the system has since given to another process is never signalled.
alive() {
  local component=$1 pid=$2
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$component"
}

down() {
  local dir=$1 component pid
  [[ -f "$dir/pids" ]] || { log "no cluster started in $dir (no $dir/pids)"; return 0; }
  # Reverse order of start: kwok and the controllers before the apiserver, etcd last.
  tac "$dir/pids" | while read -r component pid; do
    if alive "$component" "$pid"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do alive "$component" "$pid" || break; sleep 0.1; done
      alive "$component" "$pid" && kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$dir/pids"
  log "stopped the cluster in $dir"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fail COMPONENT WHAT: name the component, show the tail of its log, stop what was started.
fail() {
  log "$1: $2; the last lines of $DIR/logs/$1.log:"
  tail -n 30 "$DIR/logs/$1.log" >&2 || true
  down "$DIR"
  exit 1
}

start() {
  local component=$1
  shift
  "$component" "$@" >"$DIR/logs/$component.log" 2>&1 &
  local pid=$!
  echo "$component $pid" >>"$DIR/pids"
  # Return once the child runs the component's binary. Until its exec the child's cmdline is
  # this script's (and reading it mid-exec fails), so `alive` would call a component that is
  # only starting dead, and `down` would leave it running. A child that exits instead (a
  # missing binary) ends the wait too; wait_until then reports it with its log.
  for _ in $(seq 100); do
    alive "$component" "$pid" || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.02
  done
}

# wait_until COMPONENT WHAT COMMAND...: retry COMMAND until it succeeds or TIMEOUT passes.
wait_until() {
  local component=$1 what=$2 pid deadline=$((SECONDS + TIMEOUT))
  shift 2
  pid="$(awk -v c="$component" '$1 == c {print $2}' "$DIR/pids")"
  until "$@" >/dev/null 2>&1; do
    alive "$component" "$pid" || fail "$component" "exited before $what"
    ((SECONDS < deadline)) || fail "$component" "not $what after ${TIMEOUT} s"
    sleep 0.2
  done
}

certificates() {
  local pki=$DIR/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=notification-delivery-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  # issue NAME SUBJECT [SAN]: a key and a certificate signed by the run's CA.
  issue() {
    local ext
    ext="$(mktemp)"
    echo "basicConstraints=CA:FALSE" >"$ext"
    echo "keyUsage=digitalSignature,keyEncipherment" >>"$ext"
    if [[ -n "${3:-}" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth" >>"$ext"
      echo "subjectAltName=$3" >>"$ext"
    else
      echo "extendedKeyUsage=clientAuth" >>"$ext"
    fi
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 30 -extfile "$ext" -out "$pki/$1.crt" 2>/dev/null
    rm -f "$ext" "$pki/$1.csr"
  }
  issue apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  issue admin "/O=system:masters/CN=notification-delivery-admin"
  issue controller-manager "/CN=system:kube-controller-manager"
  issue scheduler "/CN=system:kube-scheduler"
  issue kwok "/O=system:masters/CN=kwok-controller"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig FILE USER CONTEXT...: a kubeconfig for USER's certificate with the given contexts,
# the first one current.
kubeconfig() {
  local file=$1 user=$2 context
  shift 2
  KUBECONFIG="$file" kubectl config set-cluster local --server="$SERVER" \
    --certificate-authority="$DIR/pki/ca.crt" --embed-certs=true >/dev/null
  KUBECONFIG="$file" kubectl config set-credentials "$user" --client-certificate="$DIR/pki/$user.crt" \
    --client-key="$DIR/pki/$user.key" --embed-certs=true >/dev/null
  for context in "$@"; do
    KUBECONFIG="$file" kubectl config set-context "$context" --cluster=local --user="$user" >/dev/null
  done
  KUBECONFIG="$file" kubectl config use-context "$1" >/dev/null
}

# The contexts the committed stacks pin (`notification-delivery:cluster: {context: ...}`).
stack_contexts() {
  local file
  git -C "$REPO_ROOT" ls-files 'Pulumi.*.yaml' | while read -r file; do
    awk '/notification-delivery:cluster:/ {inside=1; next} inside && /^ +context:/ {print $2; exit} inside && /^  [^ ]/ {exit}' "$REPO_ROOT/$file"
  done
}

up() {
  local nodes=$1 etcd_port etcd_peer apiserver_port kcm_port scheduler_port kwok_port i bin
  if [[ -f "$DIR/pids" ]]; then
    die "$DIR already has a cluster (its $DIR/pids); run scripts/cluster.sh down $DIR first"
  fi
  if [[ -d "$DIR" && -n "$(ls -A "$DIR")" && ! -f "$DIR/.cluster" ]]; then
    die "$DIR is not empty and holds no earlier cluster: give an empty or new folder"
  fi
  if bin="$("$REPO_ROOT/scripts/toolchain.sh" --installed 2>/dev/null)"; then
    PATH="$bin:$PATH"
  fi
  for i in "${COMPONENTS[@]}" kubectl openssl python3; do
    command -v "$i" >/dev/null 2>&1 || die "$i not found on PATH: build the toolchain with scripts/toolchain.sh"
  done
  local stages="${KWOK_STAGES:-$(dirname "$(command -v kwok)")/kwok-stages.yaml}"
  [[ -f "$stages" ]] || die "no kwok stages at $stages: set KWOK_STAGES to kwok's stage files"

  # A cluster's state starts afresh: only what an earlier `up` wrote in DIR is removed.
  if [[ -f "$DIR/.cluster" ]]; then
    rm -rf "$DIR/etcd" "$DIR/pki" "$DIR/logs" "$DIR/kubeconfig" "$DIR"/*.kubeconfig
  fi
  mkdir -p "$DIR/logs"
  DIR="$(cd "$DIR" && pwd)"
  touch "$DIR/.cluster"
  : >"$DIR/pids"

  etcd_port=$(free_port) etcd_peer=$(free_port) apiserver_port=$(free_port)
  kcm_port=$(free_port) scheduler_port=$(free_port) kwok_port=$(free_port)
  SERVER="https://127.0.0.1:$apiserver_port"
  certificates

  # No fsync: this etcd's data is thrown away with the cluster, and fsync is most of its latency.
  start etcd --name=default --data-dir="$DIR/etcd" --unsafe-no-fsync \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="default=http://127.0.0.1:$etcd_peer" --listen-metrics-urls=""
  wait_until etcd "serving" curl -fsS "http://127.0.0.1:$etcd_port/health"

  # Pod Security admission and ValidatingAdmissionPolicy are on by default at this version.
  # TaintNodesByCondition would taint each new node not-ready until the node lifecycle
  # controller lifts it; that controller is off (kwok's nodes send no kubelet heartbeats).
  start kube-apiserver --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
    --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
    --client-ca-file="$DIR/pki/ca.crt" --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --enable-admission-plugins=NodeRestriction \
    --disable-admission-plugins=TaintNodesByCondition \
    --audit-policy-file="$REPO_ROOT/scripts/cluster-audit-policy.yaml" --audit-log-path="$DIR/logs/audit.log" \
    --audit-log-maxsize=0 --endpoint-reconciler-type=none
  wait_until kube-apiserver "ready" curl -fsS --cacert "$DIR/pki/ca.crt" \
    --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "$SERVER/readyz"

  kubeconfig "$DIR/admin.kubeconfig" admin admin
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager default
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler default
  kubeconfig "$DIR/kwok.kubeconfig" kwok default
  # shellcheck disable=SC2046 # one word per context
  kubeconfig "$DIR/kubeconfig" admin admin $(stack_contexts)

  start kube-controller-manager --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file="$DIR/pki/sa.key" \
    --root-ca-file="$DIR/pki/ca.crt" --cluster-signing-cert-file="$DIR/pki/ca.crt" \
    --cluster-signing-key-file="$DIR/pki/ca.key" --controllers='*,-nodeipam,-nodelifecycle'
  start kube-scheduler --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$scheduler_port" --leader-elect=false
  start kwok --kubeconfig="$DIR/kwok.kubeconfig" --config="$stages" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --server-address="127.0.0.1:$kwok_port" --cidr=10.244.0.0/16 --node-ip=127.0.0.1
  wait_until kube-controller-manager "healthy" curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
  wait_until kube-scheduler "healthy" curl -fsSk "https://127.0.0.1:$scheduler_port/healthz"
  wait_until kwok "healthy" curl -fsS "http://127.0.0.1:$kwok_port/healthz"

  for i in $(seq "$nodes"); do
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: fake-node-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {type: kwok, kubernetes.io/hostname: fake-node-$i, kubernetes.io/os: linux}
---
EOF
  done | KUBECONFIG="$DIR/admin.kubeconfig" kubectl apply -f - >/dev/null
  wait_until kwok "reporting $nodes nodes Ready" env KUBECONFIG="$DIR/admin.kubeconfig" \
    kubectl wait --for=condition=Ready node --all --timeout=2s
  # Pods are admitted only once their namespace's default ServiceAccount exists.
  wait_until kube-controller-manager "making service accounts" env KUBECONFIG="$DIR/admin.kubeconfig" \
    kubectl get serviceaccount default --namespace default
  log "up: $SERVER, $nodes fake nodes; KUBECONFIG=$DIR/kubeconfig"
}

case "${1:-}" in
  up)
    [[ $# -ge 2 && $# -le 3 ]] || usage
    DIR=$2
    [[ "${3:-3}" =~ ^[1-9][0-9]*$ ]] || die "NODES must be a positive number, not ${3}"
    mkdir -p "$DIR"
    up "${3:-3}"
    ;;
  down)
    [[ $# -eq 2 ]] || usage
    down "$2"
    ;;
  *) usage ;;
esac
