#!/usr/bin/env bash
# cross.sh: static, version-stamped kdlaunch binaries for every supported
# platform, into dist/ (dist/kdlaunch-<goos>-<goarch>[.exe]).
#
#   scripts/cross.sh                  all targets
#   scripts/cross.sh windows/amd64    just these
#   VERSION=1.2.3 scripts/cross.sh    override the stamp (default: git describe)
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(windows/amd64 windows/arm64 linux/amd64 linux/arm64 darwin/arm64)

mkdir -p dist
for t in "${targets[@]}"; do
	goos=${t%/*} goarch=${t#*/}
	out="dist/kdlaunch-$goos-$goarch"
	[ "$goos" = windows ] && out="$out.exe"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$out" .
	printf '%s\t%s\n' "$out" "$version"
done
