#!/usr/bin/env bash
# bench-report: time `kdlaunch report` on a generated kd log (1 GB by
# default) against `grep -c Breakpoint` on the same file, in the same run,
# and print the ratio (ours/grep; the goal is 2x or less) and the peak
# memory of the report; then the same for a generated leak log (allocation,
# return and free records, docs/leaks.md) against `grep -c KDLK1`. The logs
# go to ${TMPDIR:-/tmp} and are deleted.
#
#   SIZE=1GB RUNS=3 ARCH=x64 LEAKS=1 bash scripts/bench-report.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-1GB}
RUNS=${RUNS:-3}
ARCH=${ARCH:-x64}
LEAKS=${LEAKS:-1}
GO=${GO:-go}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Fresh binaries of this tree, in the temporary directory (bin/ is left
# as make built it).
kdlaunch=$tmp/kdlaunch
$GO build -o "$kdlaunch" .
$GO build -o "$tmp/genlog" ./cmd/genlog
$GO build -o "$tmp/timecmd" cmd/genlog/timecmd.go
if ! "$kdlaunch" report --help >/dev/null 2>&1; then
	echo "bench-report: kdlaunch has no report command" >&2
	exit 1
fi

log=$tmp/kd.log
"$tmp/genlog" -size "$SIZE" -arch "$ARCH" -o "$log"
bytes=$(wc -c <"$log")
cat "$log" >/dev/null # into the page cache, as for grep

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
echo "bench-report: $(nproc) CPUs (${cpu:-unknown}), $RUNS runs each, best time kept"

best_grep='' best_rep='' best_html='' peak=0 hits='' total=''
for i in $(seq "$RUNS"); do
	# grep's output goes to a file: grep stops at the first match when
	# its output is /dev/null.
	read -r g _ < <("$tmp/timecmd" -out "$tmp/grep.out" -- grep -c Breakpoint "$log")
	read -r r kb < <("$tmp/timecmd" -out "$tmp/report.json" -- "$kdlaunch" report --format json "$log")
	hits=$(cat "$tmp/grep.out")
	total=$(sed -n 's/^  "stacks_total": \([0-9]*\),$/\1/p' "$tmp/report.json")
	read -r h _ < <("$tmp/timecmd" -out /dev/null -- "$kdlaunch" report --format html -o "$tmp/report.html" "$log")
	echo "  run $i: grep -c Breakpoint ${g}s, report ${r}s, --format html ${h}s, peak RSS $((kb / 1024)) MB"
	best_html=$(awk -v a="$h" -v b="${best_html:-$h}" 'BEGIN{print (a<b)?a:b}')
	best_grep=$(awk -v a="$g" -v b="${best_grep:-$g}" 'BEGIN{print (a<b)?a:b}')
	best_rep=$(awk -v a="$r" -v b="${best_rep:-$r}" 'BEGIN{print (a<b)?a:b}')
	((kb > peak)) && peak=$kb
done
if [ "$hits" != "$total" ]; then
	echo "bench-report: grep counted $hits hits but the report $total stacks" >&2
	exit 1
fi
awk -v bytes="$bytes" -v r="$best_rep" -v g="$best_grep" -v kb="$peak" -v n="$total" 'BEGIN {
	printf "report: %.2f GB in %.2f s (%.0f MB/s), %d stacks; grep -c Breakpoint: %.2f s; ratio %.2fx (goal <= 2x); peak RSS %d MB\n",
		bytes / 2^30, r, bytes / 2^20 / r, n, g, r / g, kb / 1024
}'
awk -v h="$best_html" -v r="$best_rep" -v size="$(wc -c <"$tmp/report.html")" 'BEGIN {
	printf "report --format html: %.2f s against --format json %.2f s on the same log: ratio %.2fx (goal <= 2x); page %d KB\n",
		h, r, h / r, size / 1024
}'

# The same comparison where the page is largest: 10,000 distinct stacks.
many=$tmp/many.log
"$tmp/genlog" -hits 50000 -stacks 10000 -arch "$ARCH" -o "$many"
best_json='' best_html=''
for i in $(seq "$RUNS"); do
	read -r j _ < <("$tmp/timecmd" -out /dev/null -- "$kdlaunch" report --format json -o "$tmp/many.json" "$many")
	read -r h _ < <("$tmp/timecmd" -out /dev/null -- "$kdlaunch" report --format html -o "$tmp/many.html" "$many")
	best_json=$(awk -v a="$j" -v b="${best_json:-$j}" 'BEGIN{print (a<b)?a:b}')
	best_html=$(awk -v a="$h" -v b="${best_html:-$h}" 'BEGIN{print (a<b)?a:b}')
done
awk -v h="$best_html" -v j="$best_json" -v size="$(wc -c <"$tmp/many.html")" -v u="$(sed -n 's/^  "unique_stacks": \([0-9]*\),$/\1/p' "$tmp/many.json")" 'BEGIN {
	printf "report --format html, %d distinct stacks: %.2f s against --format json %.2f s: ratio %.2fx (goal <= 2x); page %d KB (goal < 2048)\n",
		u, h, j, h / j, size / 1024
}'

[ "$LEAKS" = 1 ] || exit 0

# The leak log: the report pairs every allocation with its return and free
# by address, so its memory is the outstanding set, not the log.
rm -f "$log"
"$tmp/genlog" -leak -size "$SIZE" -arch "$ARCH" -stacks 6 -early-frees 100 -truth "$tmp/truth.json" -o "$log"
bytes=$(wc -c <"$log")
cat "$log" >/dev/null
allocs=$(sed -n 's/^  "Allocs": \([0-9]*\),$/\1/p' "$tmp/truth.json")
best_grep='' best_rep='' peak=0 got=''
for i in $(seq "$RUNS"); do
	read -r g _ < <("$tmp/timecmd" -out "$tmp/grep.out" -- grep -c KDLK1 "$log")
	read -r r kb < <("$tmp/timecmd" -out "$tmp/report.json" -- "$kdlaunch" report --format json "$log")
	got=$(sed -n 's/^  "alloc_count": \([0-9]*\),$/\1/p' "$tmp/report.json")
	out=$(sed -n 's/^  "outstanding_count": \([0-9]*\),$/\1/p' "$tmp/report.json")
	echo "  leak run $i: grep -c KDLK1 ${g}s, report ${r}s, peak RSS $((kb / 1024)) MB"
	best_grep=$(awk -v a="$g" -v b="${best_grep:-$g}" 'BEGIN{print (a<b)?a:b}')
	best_rep=$(awk -v a="$r" -v b="${best_rep:-$r}" 'BEGIN{print (a<b)?a:b}')
	((kb > peak)) && peak=$kb
done
if [ "$allocs" != "$got" ]; then
	echo "bench-report: the leak log has $allocs allocations but the report counted $got" >&2
	exit 1
fi
awk -v bytes="$bytes" -v r="$best_rep" -v g="$best_grep" -v kb="$peak" -v n="$got" -v o="$out" 'BEGIN {
	printf "leak report: %.2f GB in %.2f s (%.0f MB/s), %d allocations, %d outstanding; grep -c KDLK1: %.2f s; ratio %.2fx (goal <= 2x); peak RSS %d MB\n",
		bytes / 2^30, r, bytes / 2^20 / r, n, o, g, r / g, kb / 1024
}'
