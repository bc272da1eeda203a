#!/usr/bin/env bash
# Scan the rendered dev, staging and prod environments with checkov's Kubernetes checks.
# Findings other than the documented exceptions in .checkov.yaml fail the scan.
# checkov lives in its own virtual environment (.venv-scan): its dependency pins clash with the
# Pulumi SDK's, and the program never needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
if [ ! -x .venv-scan/bin/checkov ]; then
  python3 -m venv .venv-scan
  .venv-scan/bin/python -m pip install --quiet "checkov==${CHECKOV_VERSION}"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for stack in dev staging prod; do
  .venv/bin/python -m tools.render "$stack" --out "$out/$stack" >/dev/null
done
.venv-scan/bin/checkov --config-file .checkov.yaml -d "$out"
