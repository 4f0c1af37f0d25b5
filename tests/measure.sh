#!/usr/bin/env bash
# Quick, rerunnable measurements (not tests): run inside tests/session.sh after building.
#   tests/session.sh tests/measure.sh [target/debug|target/release]
# P1: `latchkey token` on a fresh token vs `secret-tool lookup` of the same item (median of 20).
# M1: summed PSS of the app and its WebKit children, window shown vs hidden to the tray.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug}/latchkey"
export LATCHKEY_HOME="$(mktemp -d)"
idp_out=$(mktemp)
(cd tests/idp && IDP_CONFIG='{"pats":["tskdp_measure_0001"]}' node server.js >"$idp_out" 2>/dev/null) &
idp=$!
trap 'kill $idp 2>/dev/null; pkill -f "$LATCHKEY_HOME" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$idp_out" ] && break; sleep 0.1; done
issuer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$idp_out")
id=$(printf tskdp_measure_0001 | LATCHKEY_TASKADE_BASE="$issuer" "$BIN" add-token taskade 2>/dev/null)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
for _ in $(seq 3); do "$BIN" token "$id" >/dev/null; secret-tool lookup service latchkey username "account:$id" >/dev/null; done
lk=$(for _ in $(seq 20); do time_ms "$BIN" token "$id"; done | median)
st=$(for _ in $(seq 20); do time_ms secret-tool lookup service latchkey username "account:$id"; done | median)
echo "P1 latchkey token: median ${lk} us; secret-tool lookup: median ${st} us; ratio $(python3 -c "print(round($lk/$st, 2))")"

pss() { # summed PSS (kB) of a pid and its descendants
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    [ -r "/proc/$p/smaps_rollup" ] && total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
  done
  echo "$total"
}
"$BIN" >/dev/null 2>&1 & shown=$!
sleep 8; shown_kb=$(pss $shown); kill $shown; wait $shown 2>/dev/null || true
"$BIN" --minimized >/dev/null 2>&1 & hidden=$!
sleep 8; hidden_kb=$(pss $hidden); kill $hidden; wait $hidden 2>/dev/null || true
echo "M1 PSS window shown: $((shown_kb / 1024)) MiB; hidden to tray: $((hidden_kb / 1024)) MiB"
