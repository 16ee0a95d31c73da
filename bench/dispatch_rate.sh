#!/bin/bash
# Dispatch rate through the API: 202 responses per second for
# POST /pulp/api/v2/diagnostics/tasks/ (a no-op diagnostic task: authentication, one INSERT with its advisory locks, one durable
# AMQP message confirmed by the broker), against the same httpd serving a static file of the
# same size at the same concurrency (the reference, measured in the same run).
#
# The workers are stopped during the measurement, so that the figure is the dispatch path
# alone, and started again afterwards to run the tasks it queued.
#
# Usage: bench/dispatch_rate.sh    (uses the stack of $PULP_RUN_DIR, default run/ in the checkout;
#                                   it needs PulpDiagnosticTasks On, as scripts/stack sets it)
# Settings: BENCH_CONNECTIONS (default 8), BENCH_THREADS (2), BENCH_SECONDS (10).
# Needs wrk. Sends traffic to the stack's loopback address only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
run_dir=${PULP_RUN_DIR:-$PWD/run}
if [ ! -f "$run_dir/stack.env" ]; then
    echo "bench/dispatch_rate.sh: no stack in $run_dir: run scripts/stack start" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$run_dir/stack.env"
command -v wrk >/dev/null || {
    echo "bench/dispatch_rate.sh: wrk not found: apt-get install wrk" >&2
    exit 1
}

connections=${BENCH_CONNECTIONS:-8}
threads=${BENCH_THREADS:-2}
seconds=${BENCH_SECONDS:-10}
api="$PULP_URL/pulp/api/v2"
authorization="Authorization: Basic $(printf '%s:%s' "$PULP_USER" "$PULP_PASSWORD" | base64 -w0)"
work_dir=$(mktemp -d)
static_dir="$PULP_STORAGE_DIR/published/yum/http/repos/bench-dispatch-static"
trap 'rm -rf "$work_dir" "$static_dir"; PULP_RUN_DIR=$run_dir scripts/stack start >/dev/null' EXIT

cat >"$work_dir/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"action": "noop"}'
wrk.headers["Content-Type"] = "application/json"
EOF

# Runs wrk; prints "requests_per_second p50_ms p99_ms" and fails on any non-2xx response.
measure() {
    local output
    output=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "$@")
    if grep -q "Non-2xx" <<<"$output"; then
        echo "bench/dispatch_rate.sh: errors during the run:" >&2
        echo "$output" >&2
        exit 1
    fi
    awk '/Requests\/sec/ { rate = $2 }
         /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
         function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                          return v * 1000 }
         END { printf "%s %.2f %.2f\n", rate, ms(p50), ms(p99) }' <<<"$output"
}

PULP_RUN_DIR=$run_dir scripts/stack stop workers >/dev/null
response=$(curl -sf -H "$authorization" -X POST -d '{"action": "noop"}' "$api/diagnostics/tasks/")
mkdir -p "$static_dir"
printf '%s' "$response" >"$static_dir/call-report.json"
chmod -R a+rX "$static_dir"

# A short first run lets httpd start its children and their database and broker connections.
wrk -t"$threads" -c"$connections" -d2s -s "$work_dir/post.lua" -H "$authorization" \
    "$api/diagnostics/tasks/" >/dev/null
read -r dispatch_rate dispatch_p50 dispatch_p99 < <(measure -s "$work_dir/post.lua" \
    -H "$authorization" "$api/diagnostics/tasks/")
read -r static_rate static_p50 static_p99 < <(measure \
    "$PULP_URL/pulp/repos/bench-dispatch-static/call-report.json")

printf 'dispatch (POST diagnostics/tasks/, %d connections): %s/s, p50 %s ms, p99 %s ms\n' \
    "$connections" "$dispatch_rate" "$dispatch_p50" "$dispatch_p99"
printf 'reference (static file of %d bytes):              %s/s, p50 %s ms, p99 %s ms\n' \
    "${#response}" "$static_rate" "$static_p50" "$static_p99"
awk -v a="$dispatch_rate" -v b="$static_rate" \
    'BEGIN { printf "ratio dispatch/static: %.3f\n", a / b }'
