#!/usr/bin/env bash
# Latchkey's two entry points on Debian 12 / Ubuntu:
#   ./dev.sh app    install what is missing, build, and open Latchkey
#   ./dev.sh test   install what is missing, then fmt + clippy + every test, headless
#   ./dev.sh bench [P1 … P6, P9 … P13]   release build, the bare Tauri baseline, then the benchmarks
#   ./dev.sh bench sizes       both packaged the same way: .deb/.rpm file and installed sizes
#   ./dev.sh package [release|dev]   .deb and .rpm in target/packages (cargo-deb, cargo-generate-rpm)
#   ./dev.sh windows [dev|release]   latchkey.exe, latchkey-desktop.exe and the per-user NSIS
#                    installer in target/packages, cross-built with mingw-w64
#   ./dev.sh macos   clippy -D warnings for both macOS targets (type-checked; a Mac builds them)
#   ./dev.sh wine CMD…   run a Windows program in the test Wine prefix (e.g. ./dev.sh wine target/x86_64-pc-windows-gnu/debug/latchkey.exe status)
#   ./dev.sh battery [links|crash]   the full forged-link and kill -9 batteries (headless)
#   ./dev.sh fuzz [SECONDS]   each cargo-fuzz target for SECONDS (default 600), nightly toolchain
#   ./dev.sh audit   cargo deny check advisories (needs the RustSec database from GitHub)
# Extra arguments after `test` go to `cargo test` (e.g. ./dev.sh test -p latchkey-e2e --test foundation).
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(libwebkit2gtk-4.1-dev build-essential curl wget file libssl-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libgtk-3-dev pkg-config
  libsecret-1-dev libdbus-1-dev gnome-keyring libsecret-tools dbus dbus-x11 xdg-utils desktop-file-utils)
# Packaging: dpkg-shlibdeps (dpkg-dev) computes the .deb's dependencies; the package tests
# validate with lintian, appstreamcli and rpm.
PACKAGE_PACKAGES=(dpkg-dev binutils gzip)
# debootstrap: the Debian 13 root the package is installed into (tests/distro/trixie.sh)
PACKAGE_CHECK_PACKAGES=(lintian appstream rpm debootstrap)
TEST_PACKAGES=(xvfb xauth webkit2gtk-driver imagemagick x11-utils xdotool at-spi2-core xclip librsvg2-bin dunst python3 python3-venv openssl
  tinyproxy libglib2.0-bin gsettings-desktop-schemas
  sway wl-clipboard)

# Windows from Linux: Rust's mingw-w64 target, Debian's mingw-w64 linker and resource compiler,
# NSIS for the installer, and Wine 8 to run the command line and the installer in the tests.
WINDOWS_TARGET=x86_64-pc-windows-gnu
WINDOWS_PACKAGES=(gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 nsis)
WINE_PACKAGES=(wine64)
WINE=/usr/lib/wine/wine64
MACOS_TARGETS=(x86_64-apple-darwin aarch64-apple-darwin)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ! command -v node >/dev/null 2>&1 && [ "${NEED_NODE:-0}" = 1 ]; then missing+=(nodejs npm); fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${#missing[@]} system packages: ${missing[*]}"
    sudo_cmd apt-get update -qq
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
  if ! command -v cargo >/dev/null 2>&1; then
    say "installing the Rust toolchain (rustup, minimal profile)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
}

ensure_targets() {
  local t
  for t in "$@"; do
    rustup target list --installed 2>/dev/null | grep -qx "$t" || { say "adding the Rust target $t"; rustup target add "$t"; }
  done
}

# Builds both Windows programs (cargo profile $1) and the installer into target/packages/.
build_windows() {
  local profile=$1 dir stage=target/windows-stage version
  dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
  say "building latchkey.exe and latchkey-desktop.exe ($profile, $WINDOWS_TARGET)"
  cargo build --target "$WINDOWS_TARGET" --profile "$profile" -p latchkey --bins --quiet
  rm -rf "$stage" && mkdir -p "$stage" target/packages
  for b in latchkey latchkey-desktop; do
    x86_64-w64-mingw32-strip --strip-unneeded -o "$stage/$b.exe" "target/$WINDOWS_TARGET/$dir/$b.exe"
  done
  # The mingw build links the WebView2 loader dynamically (webview2-com-sys ships Microsoft's
  # redistributable DLL): it goes next to the programs.
  cp "target/$WINDOWS_TARGET/$dir/WebView2Loader.dll" "$stage/"
  say "makensis: the per-user installer"
  makensis -V2 -DVERSION="$version" -DSRCDIR="$PWD/$stage" -DICON="$PWD/icons/icon.ico" \
    -DOUTFILE="$PWD/target/packages/Latchkey-$version-setup.exe" src-tauri/packaging/windows/installer.nsi
  ls -l "$stage"/*.exe "target/packages/Latchkey-$version-setup.exe"
}

# clippy -D warnings for both macOS targets. Linting links nothing, so the one Objective-C
# build script (objc2-exception-helper) gets a stand-in compiler (tests/cross/macos-cc).
lint_macos() {
  local t
  ensure_targets "${MACOS_TARGETS[@]}"
  for t in "${MACOS_TARGETS[@]}"; do
    say "cargo clippy --target $t (both programs, -D warnings)"
    if [ "$(uname -s)" = Darwin ]; then
      cargo clippy --target "$t" -p latchkey --bins --quiet -- -D warnings
    else
      env "CC_${t//-/_}=$PWD/tests/cross/macos-cc" cargo clippy --target "$t" -p latchkey --bins --quiet -- -D warnings
    fi
  done
}

# The test Wine prefix in target/wine-prefix: made once, with the ProcessPrng shim Wine 8 needs
# to start any Rust program (tests/cross/wine/processprng.c; test scaffolding, never shipped).
wine_env() {
  export WINEPREFIX="$PWD/target/wine-prefix" WINEDEBUG=-all WINEARCH=win64
  # No Mono or Gecko install prompts; the shim wins over any builtin of the same name.
  export WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n"
}
ensure_wine_prefix() {
  wine_env
  local shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  if [ ! -f "$shim" ] || [ tests/cross/wine/processprng.c -nt "$shim" ]; then
    say "making the Wine test prefix ($WINEPREFIX) with the ProcessPrng shim for Wine 8"
    rm -rf "$WINEPREFIX"
    DISPLAY='' "$WINE" wineboot --init >/dev/null 2>&1 || true
    /usr/lib/wine/wineserver -w
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" tests/cross/wine/processprng.c -ladvapi32
  fi
}

ensure_idp() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    echo "dev.sh: the test IdP needs Node.js 20 or newer (found ${major}); install it from your distribution or nodejs.org, then rerun." >&2
    exit 1
  fi
  if [ ! -d tests/idp/node_modules/oidc-provider ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; then
    say "installing the test IdP (npm ci in tests/idp)"
    (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The second test authorization server (django-oauth-toolkit) in its own virtualenv.
ensure_idp2() {
  local venv=tests/idp2/.venv
  if [ ! -x "$venv/bin/python" ] || [ tests/idp2/requirements.txt -nt "$venv/.installed" ]; then
    say "installing the second test IdP (django-oauth-toolkit, pip in tests/idp2/.venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/idp2/requirements.txt
    touch "$venv/.installed"
  fi
}

# Real clients the helper tests drive (the Python kubernetes client), pinned.
ensure_pytools() {
  local venv=tests/tools/.venv
  if [ ! -x "$venv/bin/python" ] || [ tests/tools/requirements.txt -nt "$venv/.installed" ]; then
    say "installing the test tools (Python kubernetes client, pip in tests/tools/.venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/tools/requirements.txt
    touch "$venv/.installed"
  fi
}

# Packagers from crates.io, pinned: they build offline from the registry.
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
# A full test run needs about 5.5 GiB under target/ (debug builds of both crates for Linux and
# Windows, the macOS lint, the test binaries, the packages, the Wine prefix). Says so up front
# rather than failing half an hour in with ENOSPC.
check_disk() {
  local need_kib=$((6 * 1024 * 1024)) free_kib
  mkdir -p target
  free_kib=$(df -Pk target | awk 'NR==2 {print $4}')
  if [ "${free_kib:-0}" -lt "$need_kib" ]; then
    say "only $((free_kib / 1024)) MiB free under $PWD/target; a full test run needs about 6 GiB."
    say "Free some space (for example: cargo clean, or remove old clones' target folders), then run again."
    [ -d target/debug ] || exit 1
    say "target/debug exists, so a partial rebuild may still fit: going on."
  fi
}

ensure_packagers() {
  if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    say "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
  fi
  if ! cargo generate-rpm --version 2>/dev/null | grep -q "$CARGO_GENERATE_RPM_VERSION"; then
    say "installing cargo-generate-rpm $CARGO_GENERATE_RPM_VERSION"
    cargo install cargo-generate-rpm --version "$CARGO_GENERATE_RPM_VERSION" --locked --quiet
  fi
}

# Builds both Linux packages from the binaries of cargo profile $1 (release, or dev to reuse
# the test build) into target/packages/. Everything the packages hold is staged first under
# target/packaging/: stripped programs, man pages from the clap definition, completions.
build_packages() {
  local profile=$1 dir stage=target/packaging out=target/packages
  dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
  say "building latchkey and latchkey-desktop ($profile)"
  if [ "$profile" = dev ]; then
    # The same build the end-to-end suites use: with -p latchkey alone, cargo would unify fewer
    # features and compile the library and its dependencies a second time.
    cargo build --workspace --bins --quiet
  else
    cargo build --profile "$profile" -p latchkey --bins --quiet
  fi
  rm -rf "$stage"
  rm -f "$out"/*.deb "$out"/*.rpm
  mkdir -p "$stage/bin" "$stage/man" "$stage/completions" "$out"
  for b in latchkey latchkey-desktop; do
    strip --strip-unneeded -o "$stage/bin/$b" "target/$dir/$b"
  done
  # The man pages come from the clap definition through a build-time tool (latchkey-man), so
  # the shipped programs carry no generator; it is built in the dev profile for any package.
  cargo build -p latchkey-e2e --bin latchkey-man --quiet
  target/debug/latchkey-man "$stage/man"
  cp src-tauri/packaging/linux/latchkey-desktop.1 "$stage/man/"
  gzip -9n "$stage"/man/*.1
  "$stage/bin/latchkey" completions bash >"$stage/completions/latchkey.bash"
  "$stage/bin/latchkey" completions zsh >"$stage/completions/_latchkey"
  "$stage/bin/latchkey" completions fish >"$stage/completions/latchkey.fish"
  local fast=()
  [ "$profile" = dev ] && fast=(--fast)
  say "cargo deb"
  cargo deb -p latchkey --no-build --no-strip --quiet "${fast[@]}" --output "$out/"
  say "cargo generate-rpm"
  cargo generate-rpm -p src-tauri --output "$out/"
  ls -l "$out"
}

cmd=${1:-help}
shift || true
case "$cmd" in
  app)
    ensure_apt "${APT_PACKAGES[@]}"
    ensure_rust
    say "building Latchkey (release)"
    cargo build --release -p latchkey
    exec ./target/release/latchkey "$@"
    ;;
  test)
    NEED_NODE=1 ensure_apt "${APT_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}" "${PACKAGE_CHECK_PACKAGES[@]}" \
      "${WINDOWS_PACKAGES[@]}" "${WINE_PACKAGES[@]}"
    ensure_rust
    ensure_targets "$WINDOWS_TARGET"
    ensure_idp
    ensure_idp2
    ensure_pytools
    ensure_packagers
    check_disk
    start=$(date +%s)
    say "cargo fmt --check"
    cargo fmt --all -- --check
    say "cargo clippy --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    command -v cargo-deny >/dev/null 2>&1 || { say "installing cargo-deny (dependency licence and source audit)"; cargo install cargo-deny --locked --quiet; }
    say "cargo deny check licenses bans sources (the committed Cargo.lock)"
    cargo deny --log-level error check licenses bans sources
    say "building the binaries the end-to-end suites launch"
    cargo build --workspace --bins --quiet
    say "packaging the debug binaries (the package tests install and check them)"
    build_packages dev
    say "Windows: clippy -D warnings, both programs and the installer (the Wine suite runs them)"
    cargo clippy --target "$WINDOWS_TARGET" -p latchkey --all-targets --quiet -- -D warnings
    build_windows dev
    lint_macos
    say "Debian 13: the .deb installed with apt into a debootstrap root (kept in target/distro/trixie), both programs started"
    sudo_cmd tests/session.sh tests/distro/trixie.sh target/packages/latchkey_*_amd64.deb
    ensure_wine_prefix
    say "the library's unit tests built for Windows, run under Wine"
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE" WINEPATH="Z:${PWD//\//\\}\\target\\$WINDOWS_TARGET\\debug" \
      cargo test --target "$WINDOWS_TARGET" -p latchkey --lib --quiet
    export LATCHKEY_WINDOWS_BIN="$PWD/target/$WINDOWS_TARGET/debug" \
      LATCHKEY_WINDOWS_INSTALLER="$PWD/target/packages/Latchkey-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)-setup.exe"
    say "cargo test --workspace (inside a headless session: Xvfb, D-Bus, gnome-keyring; Wine for the Windows suite)"
    tests/session.sh cargo test --workspace "$@"
    /usr/lib/wine/wineserver -k 2>/dev/null || true
    say "all checks passed in $(( $(date +%s) - start )) s"
    ;;
  bench)
    NEED_NODE=1 ensure_apt "${APT_PACKAGES[@]}" "${TEST_PACKAGES[@]}" gh curl
    ensure_rust
    ensure_idp
    say "building Latchkey and the benchmark driver (release, with the test hooks the driver uses)"
    # After `./dev.sh package release` (no test hooks) cargo finds the hooked build it made
    # earlier up to date and leaves the package's programs in target/release: the entry
    # points are touched so both programs are linked again with the hooks.
    touch src-tauri/src/main.rs src-tauri/src/desktop_main.rs
    cargo build --release -p latchkey --bins --features test-hooks
    cargo build --release -p latchkey-e2e --bins
    bare=$(mktemp -d)
    cp -r bench/bare/. "$bare/"
    cp -r icons "$bare/icons"
    cp Cargo.lock "$bare/Cargo.lock"
    say "building the baseline: a bare Tauri 2 app with the same plugins (release, $bare)"
    CARGO_TARGET_DIR="$PWD/target" cargo build --release --manifest-path "$bare/Cargo.toml"
    if [ "${1:-}" = sizes ]; then
      ensure_apt "${PACKAGE_PACKAGES[@]}" rpm
      ensure_packagers
      build_packages release
      say "packaging the baseline the same way"
      mkdir -p "$bare/stage"
      strip --strip-unneeded -o "$bare/stage/bare-app" target/release/bare-app
      printf '[Desktop Entry]\nType=Application\nName=Bare\nExec=bare-app %%u\nIcon=bare-app\nTerminal=false\n' >"$bare/stage/bare-app.desktop"
      echo "MIT" >"$bare/stage/LICENSE"
      rm -rf target/packages-bare && mkdir -p target/packages-bare
      CARGO_TARGET_DIR="$PWD/target" cargo deb --manifest-path "$bare/Cargo.toml" --no-build --no-strip --quiet --output target/packages-bare/
      (cd "$bare" && CARGO_TARGET_DIR="$OLDPWD/target" cargo generate-rpm --output "$OLDPWD/target/packages-bare/")
      say "package sizes (KiB): file, installed"
      for f in target/packages/*.deb target/packages-bare/*.deb; do
        printf '%s\t%s\t%s\n' "$f" "$(( $(stat -c %s "$f") / 1024 ))" "$(dpkg-deb -f "$f" Installed-Size)"
      done
      for f in target/packages/*.rpm target/packages-bare/*.rpm; do
        printf '%s\t%s\t%s\n' "$f" "$(( $(stat -c %s "$f") / 1024 ))" "$(( $(rpm -qp --qf '%{SIZE}' "$f") / 1024 ))"
      done
      exit 0
    fi
    if [ ! -d bench/mcp/node_modules/mcp-remote ] || [ bench/mcp/package-lock.json -nt bench/mcp/node_modules/.package-lock.json ]; then
      say "installing the MCP benchmark's clients (npm ci in bench/mcp: the MCP SDK and mcp-remote, P11-P13)"
      (cd bench/mcp && npm ci --no-audit --no-fund --loglevel=error)
    fi
    say "running the benchmarks inside the headless session"
    BENCH_BARE_APP="$PWD/target/release/bare-app" tests/session.sh target/release/latchkey-bench "$@"
    ;;
  package)
    ensure_apt "${APT_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}"
    ensure_rust
    ensure_packagers
    build_packages "${1:-release}"
    ;;
  windows)
    ensure_apt "${WINDOWS_PACKAGES[@]}"
    ensure_rust
    ensure_targets "$WINDOWS_TARGET"
    build_windows "${1:-release}"
    ;;
  macos)
    ensure_rust
    lint_macos
    ;;
  wine)
    ensure_apt "${WINDOWS_PACKAGES[@]}" "${WINE_PACKAGES[@]}"
    ensure_wine_prefix
    exec "$WINE" "$@"
    ;;
  battery)
    NEED_NODE=1 ensure_apt "${APT_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    ensure_rust
    ensure_idp
    cargo build --workspace --bins --quiet
    tests/session.sh target/debug/latchkey-battery "$@"
    ;;
  fuzz)
    ensure_rust
    secs=${1:-600}
    rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    for t in callback discovery token_response; do
      say "fuzzing $t for $secs s"
      cargo +nightly fuzz run --fuzz-dir tests/fuzz "$t" -- -max_total_time="$secs" -print_final_stats=1 2>&1 | tail -n 25
    done
    ;;
  audit)
    ensure_rust
    command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked
    if ! curl -fsS -m 10 -o /dev/null https://github.com/rustsec/advisory-db; then
      echo "dev.sh audit: skipped: the RustSec advisory database (github.com/rustsec/advisory-db) cannot be reached from here. Run it on a machine with internet access." >&2
      exit 0
    fi
    cargo deny check advisories
    ;;
  *)
    echo "usage: ./dev.sh app | test [cargo test args] | bench [P1 … P6 P9] | package [release|dev] | windows [dev|release] | macos | wine CMD… | battery [links|crash] | fuzz [SECONDS] | audit" >&2
    exit 1
    ;;
esac
