#!/usr/bin/env bash
# Issue 28, item 5: does the .deb built on Debian 12 install and start on Debian 13 (trixie),
# where the 64-bit time transition renamed many libraries (libgtk-3-0t64 and others)?
#
#   tests/distro/trixie.sh PATH/TO/latchkey_*.deb
#
# Makes a Debian 13 root with debootstrap from Debian's own mirror (kept in
# target/distro/trixie between runs), installs the package there with apt (which must resolve
# every dependency from trixie), runs `latchkey --version`, and starts `latchkey-desktop`
# under this machine's X server (the test session's Xvfb) until its first window is mapped.
# Then it removes the package again. Needs root (chroot, mounts). Prints how long each step
# took. Run by `./dev.sh test` inside tests/session.sh (for DISPLAY).
set -euo pipefail

deb=$(realpath "$1")
root=${LATCHKEY_TRIXIE_ROOT:-$PWD/target/distro/trixie}
mirror=${LATCHKEY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf '\033[1m==> trixie: %s\033[0m\n' "$*" >&2; }
t0=$(date +%s)

[ "$(id -u)" -eq 0 ] || { echo "trixie.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
[ -n "${DISPLAY:-}" ] || { echo "trixie.sh: needs DISPLAY (run it inside tests/session.sh)" >&2; exit 1; }

# A run killed before its clean-up leaves its mounts: undo them first, so nothing below (or a
# later `rm -rf target`) ever reaches the host's /dev or X sockets through them.
for m in tmp/.X11-unix dev sys proc; do
  if mountpoint -q "$root/$m" 2>/dev/null; then umount -R "$root/$m" || umount -l "$root/$m"; fi
done
if [ ! -f "$root/.latchkey-ready" ]; then
  say "no cached root: debootstrap --variant=minbase trixie ($mirror)"
  rm -rf "$root"
  mkdir -p "$root"
  # dbus: a session bus for the desktop program; xdotool is not needed (the host looks).
  debootstrap --variant=minbase --include=dbus,ca-certificates trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -n 30 "$root.debootstrap.log" >&2; exit 1; }
  touch "$root/.latchkey-ready"
  cached=cold
else
  cached=warm
fi
t1=$(date +%s)
say "root ready ($cached, $((t1 - t0)) s): $(cat "$root/etc/debian_version")"

mounted=()
cleanup() {
  for m in "${mounted[@]}"; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {
  mkdir -p "$root$1"
  mount --rbind "$1" "$root$1"
  mount --make-rslave "$root$1"
  mounted=("$root$1" "${mounted[@]}")
}
mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && mounted+=("$root/proc")
bind /sys
bind /dev
bind /tmp/.X11-unix
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

cp "$deb" "$root/tmp/latchkey.deb"
say "apt-get install ./$(basename "$deb") (dependencies from trixie)"
in_root apt-get update -qq
if ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/latchkey.deb >"$root.install.log" 2>&1; then
  tail -n 40 "$root.install.log" >&2
  echo "trixie.sh: the package does not install on Debian 13 (log above)" >&2
  exit 1
fi
t2=$(date +%s)
grep -E "^Setting up lib(gtk-3-0|webkit2gtk-4.1-0|soup-3.0-0)" "$root.install.log" >&2 || true
say "installed in $((t2 - t1)) s; Depends: $(dpkg-deb -f "$deb" Depends)"

version=$(in_root latchkey --version)
say "latchkey --version: $version"
case "$version" in latchkey\ *) ;; *) echo "trixie.sh: unexpected version output: $version" >&2; exit 1 ;; esac

# Starts latchkey-desktop in the root, waits for its window, and checks it is still there
# (and the program still running) 5 s later: the tray starts after the first paint.
launch() {
  local what=$1 log="$root.desktop-$2.log" started window="" pid
  say "latchkey-desktop $what on $DISPLAY (a session bus of its own, no keyring: the window says so)"
  in_root sh -c 'rm -rf /tmp/lk && mkdir -p /tmp/lk && chmod 700 /tmp/lk'
  started=$(date +%s)
  # Its own process group, so stopping it never touches a latchkey-desktop outside the root.
  setsid chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DISPLAY="$DISPLAY" LATCHKEY_HOME=/tmp/lk XDG_RUNTIME_DIR=/tmp/lk \
    dbus-run-session -- timeout 60 latchkey-desktop >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    window=$(xdotool search --onlyvisible --name '^Latchkey$' 2>/dev/null | head -n1 || true)
    [ -n "$window" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  local ok=1
  if [ -z "$window" ]; then
    ok=0
  else
    sleep 5
    if ! kill -0 "$pid" 2>/dev/null || ! xdotool search --onlyvisible --name '^Latchkey$' >/dev/null 2>&1; then
      ok=0
    fi
  fi
  if [ "$ok" = 1 ] && command -v import >/dev/null; then
    mkdir -p target/e2e-shots
    timeout 10 import -window "$window" "target/e2e-shots/trixie-$2.png" 2>/dev/null || true
  fi
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$ok" != 1 ]; then
    tail -n 30 "$log" >&2
    echo "trixie.sh: latchkey-desktop $what did not keep a window open on Debian 13 (its log above)" >&2
    exit 1
  fi
  say "latchkey-desktop $what: window $window up after $(( $(date +%s) - started )) s, still running 5 s later"
}
launch "with its dependencies" first-window
# Without the tray library (forced out): no tray, but no abort either.
in_root dpkg --remove --force-depends libayatana-appindicator3-1 >/dev/null 2>&1
launch "without the tray library" no-tray-library
grep -q "no AppIndicator library" "$root.desktop-no-tray-library.log" \
  || { echo "trixie.sh: the missing tray library was not noticed" >&2; exit 1; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -f >/dev/null

in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq latchkey >/dev/null
if in_root test -e /usr/bin/latchkey; then
  echo "trixie.sh: removing the package left /usr/bin/latchkey" >&2
  exit 1
fi
say "removed again; Debian 13 check passed ($cached root) in $(( $(date +%s) - t0 )) s"
