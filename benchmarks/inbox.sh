#!/usr/bin/env bash
# The inbox at scale (benchmarks/README.md, issue 13 item 4): publishes the app, seeds a SQLite file with 100,000 pending
# tasks, and measures in Debian's chromium the first render, page change, sort and search, the server's memory per open
# inbox circuit (dotnet-gcdump), and resume latency at a steady rate without and with 200 open inbox pages. Writes
# benchmarks/reports/inbox-scale-<date>.md and .json. Not part of the test command (a run takes ~10 minutes).
# Arguments go to the harness: --pending N (100000), --circuits N (200), --rate N (50/s started and 50/s answered), --seconds N (10), --samples N (20), --out DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/approval-studio-inbox.XXXXXX)
# The browser shares the cores with the server: its processes run at the lowest priority, renewed every second because
# chromium starts a renderer per page at its own niceness (seen at 0 and 5: twenty renderers then starved the server).
# (A renderer that ends between pgrep and renice makes renice fail: under set -e that ended this loop, and with it the
# renicing, part way through a run.)
# Playwright starts chromium in a session of its own, and with the kernel's autogroup scheduling
# (/proc/sys/kernel/sched_autogroup_enabled) a session's group gets a fair share of the CPU whatever its processes' nice
# values: the group itself is set to nice 19 too (/proc/<pid>/autogroup).
( while sleep 1; do
    pids=$(pgrep -d ' ' chromium || true)
    if [ -n "$pids" ]; then
      renice -n 19 -p $pids >/dev/null 2>&1 || true
      for pid in $pids; do { echo 19 > "/proc/$pid/autogroup"; } 2>/dev/null || true; done
    fi
  done ) &
renicer=$!
trap 'kill $renicer 2>/dev/null || true; rm -rf "$work"' EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null; then
  echo "== installing: chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-gcdump >/dev/null || dotnet tool install -g dotnet-gcdump --version '10.0.*' >/dev/null

# Published: the browser needs the static assets, which a build folder serves in Development only.
dotnet publish src/ApprovalStudio.Web -c Release -nologo -v q -o "$work/app"
dotnet build benchmarks/ApprovalStudio.Load -c Release -nologo -v q
dotnet run -c Release --no-build --project benchmarks/ApprovalStudio.Load -- --inbox --app "$work/app/ApprovalStudio.Web.dll" "$@"
