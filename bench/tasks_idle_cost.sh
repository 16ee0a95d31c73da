#!/bin/bash
# Idle cost of many workers: the statements per second that BENCH_WORKERS (default 200) idle
# pulp-worker processes send to PostgreSQL in all (heartbeats, and the housekeeping of the
# one leader; the others wait for the leader lock without a statement), and the resident
# memory of their supervisors.
#
# References, measured in the same run: the statements per second of the same database with
# no worker running, and the resident memory of an idle `sleep` process. The budget of the
# design is 20 statements/s for 200 idle workers and 10 MB per supervisor.
#
# The workers use a PostgreSQL cluster of their own (BENCH_PG_PORT, default 25451; 200
# workers need about 600 sessions), which logs every statement so that they can be counted,
# and the RabbitMQ of the stack in $PULP_RUN_DIR on a queue of their own.
#
# Usage: bench/tasks_idle_cost.sh   (needs a stack started by scripts/stack for its broker)
# Settings: BENCH_WORKERS (200), BENCH_SECONDS (60), BENCH_WARMUP (20), BENCH_PG_PORT (25451).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
checkout=$PWD
run_dir=${PULP_RUN_DIR:-$PWD/run}
if [ ! -f "$run_dir/stack.env" ]; then
    echo "bench/tasks_idle_cost.sh: no stack in $run_dir: run scripts/stack start" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$run_dir/stack.env"

workers=${BENCH_WORKERS:-200}
seconds=${BENCH_SECONDS:-60}
warmup=${BENCH_WARMUP:-20}
pg_port=${BENCH_PG_PORT:-25451}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work_dir=$(mktemp -d /var/tmp/bench-idle-XXXXXX)
chmod 755 "$work_dir"
conninfo="host=127.0.0.1 port=$pg_port dbname=pulp user=postgres"
worker_pids=()

cleanup() {
    if [ "${#worker_pids[@]}" -gt 0 ]; then
        kill -TERM "${worker_pids[@]}" 2>/dev/null || true
        sleep 2
        kill -KILL "${worker_pids[@]}" 2>/dev/null || true
    fi
    if [ -f "$work_dir/pg/data/postmaster.pid" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work_dir/pg/data" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

start_postgresql() {
    mkdir -p "$work_dir/pg"
    chown postgres "$work_dir/pg"
    runuser -u postgres -- "$pg_bin/initdb" -D "$work_dir/pg/data" -A trust -U postgres >/dev/null
    # pg_ctl runs the server through a shell command line: the options must stay on one line.
    local options="-k $work_dir/pg -p $pg_port -c listen_addresses=127.0.0.1"
    options+=" -c max_connections=1000 -c fsync=off -c synchronous_commit=off"
    options+=" -c log_statement=all"
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work_dir/pg/data" -l "$work_dir/pg/server.log" \
        -w -o "$options" start >/dev/null
    psql "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" -qc "CREATE DATABASE pulp"
    "$checkout/build/pulp-manage-db" --database "$conninfo" >/dev/null
}

# Prints the number of statements logged since line $1 of the server log.
statements_since() {
    tail -n +"$1" "$work_dir/pg/server.log" | grep -cE 'LOG:  (statement|execute)' || true
}

log_lines() {
    wc -l <"$work_dir/pg/server.log"
}

# Measures the statement rate over BENCH_SECONDS; prints statements per second.
measure_rate() {
    local start
    start=$(($(log_lines) + 1))
    sleep "$seconds"
    awk -v n="$(statements_since "$start")" -v s="$seconds" 'BEGIN { printf "%.2f", n / s }'
}

rss_kib() {
    awk '/^VmRSS/ { print $2 }' "/proc/$1/status"
}

# Proportional set size: private pages plus this process's share of shared ones.
pss_kib() {
    awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}

start_postgresql
baseline=$(measure_rate)

cat >"$work_dir/worker.conf" <<EOF
database = $conninfo
broker = $PULP_BROKER
queue = pulp.bench.idle
storage_dir = $work_dir/storage
concurrency = 1
EOF
for ((n = 1; n <= workers; n++)); do
    "$checkout/build/pulp-worker" --config "$work_dir/worker.conf" --name "idle-$n" \
        2>>"$work_dir/workers.log" &
    worker_pids+=("$!")
done

deadline=$((SECONDS + 120))
while [ "$(psql "$conninfo" -Atqc "SELECT count(*) FROM workers")" -lt "$workers" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "bench/tasks_idle_cost.sh: not all $workers workers registered in 120 s" >&2
        exit 1
    fi
    sleep 1
done
sleep "$warmup"
rate=$(measure_rate)

sleep 600 &
sleeper=$!
sleep 0.2
reference_rss=$(rss_kib "$sleeper")
kill "$sleeper"
read -r mean_rss max_rss < <(for pid in "${worker_pids[@]}"; do rss_kib "$pid"; done |
    awk '{ sum += $1; if ($1 > max) max = $1 } END { printf "%.0f %d\n", sum / NR, max }')
mean_pss=$(for pid in "${worker_pids[@]}"; do pss_kib "$pid"; done |
    awk '{ sum += $1 } END { printf "%.0f", sum / NR }')
leaders=$(grep -c "became leader" "$work_dir/workers.log" || true)

printf 'idle workers: %d (concurrency 1), %d became leader, measured over %d s\n' "$workers" \
    "$leaders" "$seconds"
printf 'statements/s with the workers: %s (%s per worker)\n' "$rate" \
    "$(awk -v r="$rate" -v w="$workers" 'BEGIN { printf "%.3f", r / w }')"
printf 'reference, statements/s without workers: %s\n' "$baseline"
awk -v r="$rate" 'BEGIN { printf "ratio to the budget of 20/s: %.3f\n", r / 20 }'
printf 'supervisor RSS: mean %d KiB, max %d KiB; PSS: mean %d KiB\n' "$mean_rss" "$max_rss" \
    "$mean_pss"
printf 'reference RSS of an idle sleep process: %d KiB\n' "$reference_rss"
awk -v a="$mean_rss" -v b="$reference_rss" \
    'BEGIN { printf "ratio supervisor/sleep RSS: %.2f\n", a / b }'
