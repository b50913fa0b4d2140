#!/usr/bin/env bash
# The output pump against the fake kd flooding hits over a pty, as a ratio to
# a plain reader (what cat does) draining the same kind of stream in the same
# run. Goal: at least 0.8x, i.e. kdlaunch never makes kd wait on its output.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test -run '^$' -bench 'BenchmarkPumpVsCat|BenchmarkPumpLines' -benchtime "${BENCHTIME:-3x}" ./launcher/)
echo "$out" | grep -E '^(cpu|Benchmark)'
echo "$out" | awk '/BenchmarkPumpVsCat/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "cat-MB/s") c = $i; if ($(i+1) == "pump-MB/s") p = $i; if ($(i+1) == "ratio") r = $i }
  printf "pump: fake kd flooding over a pty: pump %.1f MB/s, cat-like reader %.1f MB/s, ratio %.2fx (goal >= 0.8x)\n", p, c, r }'
