#!/usr/bin/env bash
# report-screenshot: check an HTML report in headless Chromium (the same
# test CI runs) and save its screenshot.
#
#   bash scripts/report-screenshot.sh demo/report.html docs/report.png
set -euo pipefail
cd "$(dirname "$0")/.."
page=${1:?usage: report-screenshot.sh REPORT.html OUT.png}
out=${2:?usage: report-screenshot.sh REPORT.html OUT.png}
case $page in /*) ;; *) page=$PWD/$page ;; esac
case $out in /*) ;; *) out=$PWD/$out ;; esac
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${KDLAUNCH_CHROMIUM:-}" ]; then
	echo "report-screenshot: no chromium (apt-get install chromium, or set KDLAUNCH_CHROMIUM)" >&2
	exit 1
fi
${GO:-go} test -count=1 -run '^TestBrowser$' -v ./htmlreport -args -page="$page" -screenshot="$out"
echo "report-screenshot: $out"
