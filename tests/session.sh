#!/usr/bin/env bash
# Runs a command inside a throwaway headless desktop session:
#   - fresh HOME, XDG_* dirs and LATCHKEY_HOME under one temp dir (never your real keyring),
#   - Xvfb on a free display,
#   - a private D-Bus session bus,
#   - gnome-keyring-daemon with an unlocked "login" collection (password: pw), in the foreground
#     (its log in $LATCHKEY_SESSION_ROOT/keyring.log, printed when CMD fails). Its known crash
#     under many short-lived clients is worked around in the client: see
#     third_party/dbus-secret-service/PATCHES.md.
# Usage: tests/session.sh CMD [ARGS...]      e.g. tests/session.sh cargo test -p latchkey-e2e --test foundation
# Everything it started is stopped when CMD ends; CMD's exit code is passed through.
set -euo pipefail

root=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-session.XXXXXX")
xvfb_pid=""
cleanup() {
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$root" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Keep the Rust toolchain and npm cache reachable after HOME moves.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export npm_config_cache="${npm_config_cache:-$HOME/.npm}"
mkdir -p "$root/home" "$root/config" "$root/data" "$root/cache" "$root/state" "$root/runtime" "$root/latchkey"
chmod 700 "$root/runtime"
export HOME="$root/home" XDG_CONFIG_HOME="$root/config" XDG_DATA_HOME="$root/data" \
  XDG_CACHE_HOME="$root/cache" XDG_STATE_HOME="$root/state" XDG_RUNTIME_DIR="$root/runtime" \
  LATCHKEY_HOME="$root/latchkey" LATCHKEY_SESSION_ROOT="$root"
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK

# A free display number: the lowest without a lock file.
display=""
for n in $(seq 90 199); do
  if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display=$n; break; fi
done
[ -n "$display" ] || { echo "session.sh: no free X display between :90 and :199" >&2; exit 1; }
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$root/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.05; done
[ -e "/tmp/.X11-unix/X$display" ] || { echo "session.sh: Xvfb did not start:" >&2; cat "$root/xvfb.log" >&2; exit 1; }
export DISPLAY=":$display"
export XDG_CURRENT_DESKTOP="${XDG_CURRENT_DESKTOP:-GNOME}"
export NO_AT_BRIDGE=1

# The inner script unlocks a keyring in the private bus, then replaces itself with CMD.
exec 3>&1
set +e
dbus-run-session -- bash -c '
  set -e
  (printf pw | gnome-keyring-daemon --replace --foreground --unlock --components=secrets >"$LATCHKEY_SESSION_ROOT/keyring.out" 2>"$LATCHKEY_SESSION_ROOT/keyring.log" &)
  for _ in $(seq 1 50); do [ -S "$XDG_RUNTIME_DIR/keyring/control" ] && break; sleep 0.1; done
  export GNOME_KEYRING_CONTROL="$XDG_RUNTIME_DIR/keyring"
  # The first write creates and unlocks the default "login" collection.
  for _ in $(seq 1 50); do
    if printf probe | secret-tool store --label=latchkey-session-probe purpose latchkey-session-probe 2>/dev/null; then break; fi
    sleep 0.1
  done
  secret-tool clear purpose latchkey-session-probe 2>/dev/null || true
  exec "$@"
' latchkey-session "$@"
rc=$?
# A failing run shows what the keyring daemon said: its crashes explain most store errors.
if [ "$rc" -ne 0 ] && [ -s "$root/keyring.log" ]; then
  echo "session.sh: the command failed (exit $rc); gnome-keyring-daemon's log:" >&2
  tail -n 40 "$root/keyring.log" >&2
fi
exit $rc
