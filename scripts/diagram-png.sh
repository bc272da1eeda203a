#!/usr/bin/env bash
# Render one stack's environment diagram to a PNG in a real browser:
#   scripts/diagram-png.sh STACK OUT.png
#
# Draws the Mermaid source (`python -m tools.diagram STACK`) with the pinned mermaid bundle from
# diagram/node_modules in Debian's headless Chromium, offline: a local page, a throw-away profile,
# no sandbox (it runs as root in containers), no GPU, no background traffic. Two passes: the first
# measures the drawing, the second screenshots exactly that size.
#
# Needs: `npm ci --prefix diagram` and chromium (`apt-get install -y chromium`). Environment:
# PYTHON (default .venv/bin/python), CHROMIUM (default: chromium or chromium-browser on PATH),
# SCALE (device pixels per CSS pixel, default 1), COLOURS (palette size when pngquant is on PATH,
# default 16, which keeps the text sharp at a quarter of the size; 0 keeps full colour).
# Exit codes: 0 written; 1 the browser could not draw it; 2 missing tool, bad arguments or stack.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'error: %s\n' "$1" >&2; exit 2; }

[ $# -eq 2 ] || die "usage: scripts/diagram-png.sh STACK OUT.png"
stack="$1"
out="$2"
python="${PYTHON:-.venv/bin/python}"
bundle="$PWD/diagram/node_modules/mermaid/dist/mermaid.min.js"
scale="${SCALE:-1}"
colours="${COLOURS:-16}"

[ -x "$python" ] || die "$python not found: create the virtualenv (README) or set PYTHON"
[ -f "$bundle" ] || die "mermaid is not installed: run \`npm ci --prefix diagram\`"
browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$browser" ] || die "chromium not found: \`apt-get install -y chromium\` or set CHROMIUM"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m tools.diagram "$stack" --out "$work/diagram.mmd" || exit 2

# The diagram goes into the page as a JSON string literal (`</` escaped so that no label can
# close the script element), and is drawn at its natural size (useMaxWidth off).
"$python" - "$work/diagram.mmd" "$bundle" >"$work/page.html" <<'PY'
import json
import sys
from pathlib import Path

source = Path(sys.argv[1]).read_text()
bundle = Path(sys.argv[2]).as_uri()
literal = json.dumps(source).replace("</", "<\\/")
print(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>drawing</title>
<style>html, body {{ margin: 0; background: #ffffff; }} #out {{ display: inline-block; padding: 16px; }}</style>
</head><body><div id="out"></div>
<script src="{bundle}"></script>
<script>
mermaid.initialize({{ startOnLoad: false, securityLevel: "strict", theme: "default",
                      flowchart: {{ useMaxWidth: false, htmlLabels: true }} }});
mermaid.render("environment", {literal}).then(({{ svg }}) => {{
  const out = document.getElementById("out");
  out.innerHTML = svg;
  const box = out.getBoundingClientRect();
  document.title = "size " + Math.ceil(box.width) + " " + Math.ceil(box.height);
}}).catch((error) => {{ document.title = "error " + error.message; }});
</script></body></html>""")
PY

chrome() {
  "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-extensions \
    --hide-scrollbars --user-data-dir="$work/profile" --virtual-time-budget=20000 "$@" \
    "file://$work/page.html" 2>"$work/chrome.log"
}

title="$(chrome --window-size=8000,8000 --dump-dom | sed -n 's:.*<title>\(.*\)</title>.*:\1:p')"
case "$title" in
  "size "*) read -r _ width height <<<"$title" ;;
  *) printf 'error: the browser did not draw the diagram: %s\n' "${title:-no title}" >&2; exit 1 ;;
esac
chrome --window-size="$width,$height" --force-device-scale-factor="$scale" \
  --screenshot="$work/shot.png" >/dev/null
[ -s "$work/shot.png" ] || { echo "error: no screenshot; see chromium's log:" >&2; cat "$work/chrome.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
if [ "$colours" != 0 ] && command -v pngquant >/dev/null 2>&1; then
  pngquant "$colours" --speed 1 --force --output "$out" "$work/shot.png"
else
  cp "$work/shot.png" "$out"
fi
echo "wrote $out (${width}x${height} CSS pixels at scale $scale)"
