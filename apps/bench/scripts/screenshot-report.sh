#!/usr/bin/env bash
# Renders a report page in headless Chromium (Debian's `chromium`) and saves a PNG screenshot.
# Usage: screenshot-report.sh <index.html> <out.png> [width,height]
set -euo pipefail
html=$(realpath "$1")
out=$(realpath -m "$2")
size=${3:-1280,1800}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "screenshot-report: chromium is not installed (apt-get install chromium)" >&2
  exit 3
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
  --screenshot="$out" "file://$html" >/dev/null 2>&1
test -s "$out"
echo "$out"
