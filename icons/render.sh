#!/usr/bin/env bash
# Renders every icon from the one committed SVG. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"
attention=$(mktemp --suffix=.svg)
trap 'rm -f "$attention"' EXIT
sed 's/r="0" fill="#f59e0b"/r="40" fill="#f59e0b"/' latchkey.svg >"$attention"
rsvg-convert -w 32 -h 32 latchkey.svg -o 32x32.png
rsvg-convert -w 128 -h 128 latchkey.svg -o 128x128.png
rsvg-convert -w 256 -h 256 latchkey.svg -o 128x128@2x.png
rsvg-convert -w 512 -h 512 latchkey.svg -o icon.png
rsvg-convert -w 64 -h 64 latchkey.svg -o tray-ok.png
rsvg-convert -w 64 -h 64 "$attention" -o tray-attention.png
# The hicolor theme sizes the packages install (named after the app id, as AppStream wants).
for s in 16 22 24 32 48 64 128 256 512; do
  mkdir -p "hicolor/${s}x${s}/apps"
  rsvg-convert -w "$s" -h "$s" latchkey.svg -o "hicolor/${s}x${s}/apps/dev.latchkey.app.png"
done
python3 make_ico.py
