#!/usr/bin/env bash
# Is a deployed stack still what its last deploy applied? `make drift STACK=prod` runs the same
# check as .github/workflows/drift.yml, with your own credentials, and prints the values too.
#
# Read-only: `pulumi refresh --preview-only` locks nothing and writes neither the cluster nor
# the state (docs/operations.md). Exit codes as `python -m pipeline.drift`: 0 no drift, 3 drift,
# 2 the check could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-}"
if [ -z "$stack" ]; then
  echo "usage: scripts/drift.sh STACK   (or: make drift STACK=prod)" >&2
  exit 2
fi
command -v pulumi >/dev/null 2>&1 || {
  echo "error: pulumi not found on PATH (https://www.pulumi.com/docs/install/)" >&2
  exit 2
}
PYTHON="${PYTHON:-.venv/bin/python}"

# The engine's JSON holds the objects' state: keep it private, and gone afterwards.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
pulumi refresh --preview-only --expect-no-changes --json --non-interactive --stack "$stack" >"$out"
code=$?
set -e
exec "$PYTHON" -m pipeline.drift "$out" --stack "$stack" --pulumi-exit-code "$code" --show-values
