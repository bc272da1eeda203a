#!/usr/bin/env bash
# Scan the rendered dev, staging and prod environments with checkov's Kubernetes checks.
# Findings other than the documented exceptions in .checkov.yaml fail the scan.
# checkov lives in its own virtual environment: its dependency pins clash with the Pulumi SDK's,
# and the program never needs it. It is installed with pip from the repository's own pin,
# requirements-scan.txt, into a cache outside the repository keyed by that file, so a fresh
# clone (CI's) reuses it; the scan itself fetches nothing (`skip-download` in .checkov.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

scan_venv="${XDG_CACHE_HOME:-$HOME/.cache}/notification-delivery/scan-venv-$(sha256sum requirements-scan.txt | cut -c1-12)"
if [ ! -f "$scan_venv/.complete" ]; then
  echo "scan: installing checkov into $scan_venv from requirements-scan.txt (pip)" >&2
  rm -rf "$scan_venv"  # only ever an earlier, interrupted install of this same key
  python3 -m venv "$scan_venv"
  "$scan_venv/bin/python" -m pip install --quiet -r requirements-scan.txt
  touch "$scan_venv/.complete"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for stack in dev staging prod; do
  .venv/bin/python -m tools.render "$stack" --out "$out/$stack" >/dev/null
done
"$scan_venv/bin/checkov" --config-file .checkov.yaml -d "$out"
