#!/bin/bash
# REST API overhead: requests per second and latency of two API calls, each against the same
# httpd serving a static file of the same size (the reference, measured in the same run).
#
#   GET /pulp/api/v2/repositories/     with 100 repositories
#   GET /pulp/api/v2/tasks/<id>/       one task report
#
# Usage: bench/api.sh            (uses the stack of $PULP_RUN_DIR, default run/ in the checkout;
#                                 start one with scripts/stack start first)
# Settings: BENCH_CONNECTIONS (default 32), BENCH_THREADS (2), BENCH_SECONDS (10).
# Needs wrk (Debian package wrk). Sends traffic to the stack's loopback address only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
run_dir=${PULP_RUN_DIR:-$PWD/run}
if [ ! -f "$run_dir/stack.env" ]; then
    echo "bench/api.sh: no stack in $run_dir: run scripts/stack start (or set PULP_RUN_DIR)" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$run_dir/stack.env"
command -v wrk >/dev/null || { echo "bench/api.sh: wrk not found: apt-get install wrk" >&2; exit 1; }

connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
seconds=${BENCH_SECONDS:-10}
api="$PULP_URL/pulp/api/v2"
auth="$PULP_USER:$PULP_PASSWORD"
authorization="Authorization: Basic $(printf '%s' "$auth" | base64 -w0)"
static_dir="$PULP_STORAGE_DIR/published/yum/http/repos/bench-api-static"
static_url="$PULP_URL/pulp/repos/bench-api-static"

# Creates bench-api-00 to bench-api-99 where missing, each with a yum importer and
# distributor, so that the list carries the shape of real repositories.
create_repositories() {
    local existing
    existing=$(curl -sf -u "$auth" "$api/repositories/" | { grep -o '"id": "bench-api-[0-9]*"' ||
               true; } | wc -l)
    for i in $(seq -w 0 99); do
        [ "$existing" -ge 100 ] && break
        curl -s -o /dev/null -u "$auth" -X POST "$api/repositories/" -d "{
            \"id\": \"bench-api-$i\", \"display_name\": \"Benchmark $i\",
            \"notes\": {\"purpose\": \"benchmark\"},
            \"importer_type_id\": \"yum_importer\",
            \"importer_config\": {\"feed\": \"http://127.0.0.1:9/bench/$i/\"},
            \"distributors\": [{\"distributor_type_id\": \"yum_distributor\",
                \"distributor_id\": \"yum\", \"distributor_config\": {
                \"relative_url\": \"bench-api/$i\", \"http\": true, \"https\": false}}]}"
    done
}

# Returns the id of a task: a finished importer update of bench-api-00.
make_task() {
    curl -sf -u "$auth" -X PUT "$api/repositories/bench-api-00/importers/yum_importer/" \
        -d '{"importer_config": {"max_downloads": 5}}' | grep -o '"task_id":"[^"]*"' |
        cut -d'"' -f4
}

# Writes a static file as large as the API's response at url; prints the file's URL.
static_twin() {
    local name=$1 url=$2 size
    size=$(curl -sf -u "$auth" "$url" | wc -c)
    mkdir -p "$static_dir"
    head -c "$size" /dev/zero | tr '\0' 'x' >"$static_dir/$name.json"
    chmod -R a+rX "$static_dir"
    echo "$static_url/$name.json"
}

# Runs wrk on url; prints "requests_per_second p50_ms p99_ms". A 2 s run first lets httpd
# start its children and open their database connections, which the figures leave out.
measure() {
    local url=$1 output
    wrk -t"$threads" -c"$connections" -d2s -H "$authorization" "$url" >/dev/null
    output=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -H "$authorization" \
             "$url")
    if grep -q "Non-2xx" <<<"$output"; then
        echo "bench/api.sh: $url returned errors:" >&2
        echo "$output" >&2
        exit 1
    fi
    awk '
        function ms(value) {
            if (value ~ /us$/) return substr(value, 1, length(value) - 2) / 1000
            if (value ~ /ms$/) return substr(value, 1, length(value) - 2) + 0
            if (value ~ /s$/) return substr(value, 1, length(value) - 1) * 1000
            return value + 0
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' <<<"$output"
}

report() {
    local label=$1 api_url=$2 static_url=$3 api_figures static_figures
    read -r -a api_figures <<<"$(measure "$api_url")"
    read -r -a static_figures <<<"$(measure "$static_url")"
    printf '%-28s %10s req/s  p50 %7s ms  p99 %7s ms\n' "$label" "${api_figures[@]}"
    printf '%-28s %10s req/s  p50 %7s ms  p99 %7s ms\n' "  static file, same size" \
        "${static_figures[@]}"
    awk -v a="${api_figures[0]}" -v s="${static_figures[0]}" \
        'BEGIN { printf "  ratio API/static: %.2f (target >= 0.5)\n", a / s }'
}

create_repositories
task_id=$(make_task)
list_static=$(static_twin repositories "$api/repositories/")
task_static=$(static_twin task "$api/tasks/$task_id/")

echo "bench/api.sh: wrk $threads threads, $connections connections, ${seconds} s per run, $(nproc) cores"
echo "  GET /repositories/ answer: $(curl -sf -u "$auth" "$api/repositories/" | wc -c) bytes" \
     "($(curl -sf -u "$auth" "$api/repositories/" | grep -Eo '"_ns" ?: "repos"' | wc -l) repositories)"
report "GET /repositories/" "$api/repositories/" "$list_static"
report "GET /tasks/<id>/" "$api/tasks/$task_id/" "$task_static"
