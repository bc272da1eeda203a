#!/usr/bin/env bash
# Scan the rendered dev, staging and prod environments with checkov's Kubernetes checks.
# Findings other than the documented exceptions in .checkov.yaml fail the scan.
# checkov lives in its own virtual environment (.venv-scan): its dependency pins clash with the
# Pulumi SDK's, and the program never needs it. It is installed with pip from the repository's
# own pin, requirements-scan.txt, on first use and again after that file changes (the copy in
# .venv-scan records what was installed); the scan itself fetches nothing (`skip-download` in
# .checkov.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-scan/bin/checkov ] || ! cmp -s requirements-scan.txt .venv-scan/requirements-scan.txt; then
  echo "scan: installing checkov into .venv-scan from requirements-scan.txt (pip)" >&2
  python3 -m venv .venv-scan
  .venv-scan/bin/python -m pip install --quiet -r requirements-scan.txt
  cp requirements-scan.txt .venv-scan/requirements-scan.txt
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for stack in dev staging prod; do
  .venv/bin/python -m tools.render "$stack" --out "$out/$stack" >/dev/null
done
.venv-scan/bin/checkov --config-file .checkov.yaml -d "$out"
