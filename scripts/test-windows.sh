#!/usr/bin/env bash
# test-windows.sh: build kdlaunch.exe, fakekd.exe and the Windows test
# binaries, and run the Windows integration tests under Wine (go test -v
# output). On a fresh Debian/Ubuntu machine it installs what it needs
# (wine64, gcc-mingw-w64-x86-64). Idempotent: a second run reuses the Wine
# prefix, the shim DLL and Go's build cache.
#
# Environment:
#   KDLAUNCH_WINE_DIR   work directory (default ${TMPDIR:-/tmp}/kdlaunch-wine-$UID)
#   WINTEST_RUN         -test.run pattern for both test binaries (default: all)
#   WINTEST_TIMEOUT     -test.timeout (default 5m)
#
# Why a shim DLL: Go 1.22+ Windows binaries import ProcessPrng from
# bcryptprimitives.dll, which Wine 8.0 (Debian bookworm) lacks; every Go
# .exe then dies with "bcryptprimitives.dll not found". scripts/wine/
# processprng.c implements it on RtlGenRandom and goes into the private
# prefix's system32 (test machinery only, never shipped).
set -euo pipefail

start=$(date +%s)
cd "$(dirname "$0")/.."
root=$(pwd)

work=${KDLAUNCH_WINE_DIR:-${TMPDIR:-/tmp}/kdlaunch-wine-$(id -u)}
# A space in the binaries' directory: kd paths with spaces are part of what
# the tests prove.
bindir="$work/bin dir"
mkdir -p "$bindir"

say() { printf '%s\n' "$*" >&2; }
phase() { say "test-windows: $1 ($(($(date +%s) - ${2:-$start}))s)"; }
die() { say "test-windows: $*"; exit 1; }

# --- tools -----------------------------------------------------------------
find_wine() {
	local w
	for w in wine64 wine /usr/lib/wine/wine64 /usr/lib64/wine/wine64 /opt/wine-stable/bin/wine64; do
		if command -v "$w" >/dev/null 2>&1; then
			command -v "$w"
			return 0
		fi
	done
	return 1
}

need=()
find_wine >/dev/null || need+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
if ((${#need[@]})); then
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need ${need[*]} and am not root (no sudo): apt-get install ${need[*]}"
		sudo=(sudo -n)
	fi
	command -v apt-get >/dev/null 2>&1 || die "need ${need[*]}; no apt-get here: install them by hand"
	say "test-windows: installing ${need[*]} (apt-get, quiet)..."
	t0=$(date +%s)
	aptlog="$work/apt.log"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >>"$aptlog" 2>&1; }
	if ! apt_install; then
		say "test-windows: install failed; apt-get update and retry"
		"${sudo[@]}" apt-get update -q >>"$aptlog" 2>&1 || true
		apt_install || { tail -n 30 "$aptlog" >&2; die "apt-get install ${need[*]} failed (log: $aptlog)"; }
	fi
	phase "installed ${need[*]}" "$t0"
fi
wine=$(find_wine) || die "wine not found after install"
wineserver=$(command -v wineserver 2>/dev/null || echo "$(dirname "$wine")/wineserver")
winever=$("$wine" --version 2>/dev/null | sed -n 's/^wine-\([0-9.]*\).*/\1/p')

# --- private Wine prefix ---------------------------------------------------
export WINEPREFIX="$work/prefix"
export WINEARCH=win64
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono/Gecko install prompts
unset DISPLAY WAYLAND_DISPLAY               # headless: no windows
trap '"$wineserver" -k >/dev/null 2>&1 || true' EXIT

if [ ! -f "$WINEPREFIX/system.reg" ]; then
	say "test-windows: creating Wine prefix $WINEPREFIX"
	t0=$(date +%s)
	"$wine" wineboot -i </dev/null >"$work/wineboot.log" 2>&1 || {
		cat "$work/wineboot.log" >&2
		die "wineboot failed"
	}
	phase "Wine prefix ready" "$t0"
fi

# Wine 8.0 tells a Go program it runs on Windows 7 (build 7601) unless the
# prefix says otherwise; kdlaunch only uses a pseudo console from build 17763
# on, and Wine's (CreatePseudoConsole, conhost) is there: claim Windows 10 so
# that the pseudo console path runs too.
if ! grep -q '"Version"="win10"' "$WINEPREFIX/user.reg" 2>/dev/null; then
	"$wine" reg add 'HKCU\Software\Wine' /v Version /d win10 /f </dev/null >>"$work/wineboot.log" 2>&1 ||
		die "could not set the Wine prefix's Windows version (log: $work/wineboot.log)"
	"$wineserver" -w >/dev/null 2>&1 || true # user.reg is written when the server exits
fi

dll="$work/bcryptprimitives.dll"
src="$root/scripts/wine/processprng.c"
def="$root/scripts/wine/processprng.def"
if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ] || [ "$def" -nt "$dll" ]; then
	x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -o "$dll" "$src" "$def" -ladvapi32
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
cmp -s "$dll" "$sys32/bcryptprimitives.dll" || cp "$dll" "$sys32/bcryptprimitives.dll"

# --- Windows binaries --------------------------------------------------------
t0=$(date +%s)
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0
go build -trimpath -o "$bindir/kdlaunch.exe" .
go build -trimpath -o "$bindir/fakekd.exe" ./cmd/fakekd
go test -c -trimpath -o "$bindir/launcher.test.exe" ./launcher/
go test -c -trimpath -o "$bindir/wintest.test.exe" ./internal/wintest/
unset GOOS GOARCH
phase "built kdlaunch.exe, fakekd.exe, launcher.test.exe, wintest.test.exe" "$t0"

winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
export KDLAUNCH_WINTEST_KDLAUNCH="$(winpath "$bindir/kdlaunch.exe")"
export KDLAUNCH_WINTEST_FAKEKD="$(winpath "$bindir/fakekd.exe")"

printf '== Windows tests under Wine %s (%s), kdlaunch.exe + fakekd.exe ==\n' "${winever:-?}" "$(basename "$wine")"

# --- run -------------------------------------------------------------------
# Each test binary runs in its own directory (tests chdir and write files).
rc=0
args=(-test.v -test.timeout "${WINTEST_TIMEOUT:-5m}")
[ -n "${WINTEST_RUN:-}" ] && args+=(-test.run "$WINTEST_RUN")
for t in launcher wintest; do
	printf '== %s.test.exe ==\n' "$t"
	rundir="$work/run-$t"
	rm -rf "$rundir" && mkdir -p "$rundir"
	# No terminal for wine (stdin /dev/null, output through a pipe), as in
	# CI: Wine then gives the process no console, and the tests allocate a
	# private one (see internal/wintest EnsureConsole).
	set +e
	(cd "$rundir" && "$wine" "$(winpath "$bindir/$t.test.exe")" "${args[@]}" </dev/null 2>&1 | cat)
	trc=$? # pipefail: wine's status
	set -e
	if [ "$trc" != 0 ]; then
		printf -- '--- %s.test.exe failed (exit %s)\n' "$t" "$trc"
		[ "$rc" != 0 ] || rc=$trc
	fi
done

printf '== Wine tests %s in %ss ==\n' "$([ "$rc" = 0 ] && echo passed || echo FAILED)" "$(($(date +%s) - start))"
exit "$rc"
