#!/bin/sh
# SigV4-signed MCP tools/list (wrk) through mcpgate versus nginx `return 200`, same machine, same
# run; prints req/s, p50/p99 latency and the ratio (budget >= 0.8, p99 < 2 ms). Starts its own mcpgate and
# nginx on free loopback ports and removes everything afterwards.
#   MCPGATE_BIN=build/dev/mcpgate bench/mcp_tools_list.sh
# Tunables (environment): DURATION, CONNECTIONS, THREADS, TOOLS (see bench/mcp_tools_list.mjs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for t in wrk nginx node; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "needs $t (apt-get install wrk nginx-light)" >&2; exit 2; }
done
PATH="$PATH:/usr/sbin"
export PATH
[ -d "$root/tests/e2e/node_modules" ] || { echo "run npm ci in tests/e2e first" >&2; exit 2; }
: "${MCPGATE_BIN:=$root/build/dev/mcpgate}"
export MCPGATE_BIN
exec node "$here/mcp_tools_list.mjs"
