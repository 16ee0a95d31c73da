#!/bin/bash
# Task throughput: no-op tasks completed per second by the stack's workers (two, with two
# task slots each, in the stack of scripts/stack), against the raw loop of
# bench/raw_task_loop.c run in the same run on the same database and broker: one SQL
# transaction, one durable AMQP send confirmed by the broker and one receive per round, the
# least work a task system of this design does per task.
#
# The workers are stopped while BENCH_TASKS no-op tasks are dispatched through the API, then
# started; the figure is the number of tasks over the time from the first task's start to the
# last task's end, both as recorded by PostgreSQL.
#
# Usage: bench/tasks_throughput.sh  (uses the stack of $PULP_RUN_DIR, default run/)
# Settings: BENCH_TASKS (default 3000), BENCH_RAW_ROUNDS (2000).
# Needs ab (apache2-utils), psql and gcc. Sends traffic to the stack's loopback address only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
run_dir=${PULP_RUN_DIR:-$PWD/run}
if [ ! -f "$run_dir/stack.env" ]; then
    echo "bench/tasks_throughput.sh: no stack in $run_dir: run scripts/stack start" >&2
    exit 1
fi
# shellcheck disable=SC1091
. "$run_dir/stack.env"

tasks=${BENCH_TASKS:-3000}
raw_rounds=${BENCH_RAW_ROUNDS:-2000}
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"; PULP_RUN_DIR=$run_dir scripts/stack start >/dev/null' EXIT

# Builds the raw loop from the same sources as the worker's AMQP client.
build_raw_loop() {
    gcc -std=gnu11 -O2 -D_GNU_SOURCE -I. -Icommon \
        $(pkg-config --cflags libpq json-c libqpid-proton) -o "$work_dir/raw_task_loop" \
        bench/raw_task_loop.c amqp/pulp_amqp.c common/pulp_backoff.c common/pulp_log.c \
        common/pulp_uuid.c common/pulp_error.c common/pulp_db.c \
        $(pkg-config --libs libpq json-c libqpid-proton)
}

sql() {
    psql "$PULP_DATABASE" -Atq -c "$1"
}

build_raw_loop
raw=$("$work_dir/raw_task_loop" "$PULP_DATABASE" "$PULP_BROKER" pulp.bench.raw "$raw_rounds" \
      2>/dev/null)
raw_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$raw")

PULP_RUN_DIR=$run_dir scripts/stack stop workers >/dev/null
first_seq=$(sql "SELECT coalesce(max(seq), 0) FROM tasks")
printf '{"action": "noop"}' >"$work_dir/body.json"
ab -q -n "$tasks" -c 8 -p "$work_dir/body.json" -T application/json \
    -A "$PULP_USER:$PULP_PASSWORD" "$PULP_URL/pulp/api/v2/diagnostics/tasks/" >"$work_dir/ab.txt"
if grep -q "Non-2xx responses" "$work_dir/ab.txt"; then
    echo "bench/tasks_throughput.sh: the API refused some dispatches:" >&2
    cat "$work_dir/ab.txt" >&2
    exit 1
fi

PULP_RUN_DIR=$run_dir scripts/stack start >/dev/null
deadline=$((SECONDS + 600))
unfinished="SELECT count(*) FROM tasks WHERE seq > $first_seq AND state IN ('waiting', 'running')"
while [ "$(sql "$unfinished")" -gt 0 ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "bench/tasks_throughput.sh: tasks are still waiting after 600 s" >&2
        exit 1
    fi
    sleep 0.5
done

read -r done failed seconds < <(sql "SELECT count(*) FILTER (WHERE state = 'finished'),
        count(*) FILTER (WHERE state <> 'finished'),
        extract(epoch FROM max(finish_time) - min(start_time))
    FROM tasks WHERE seq > $first_seq" | tr '|' ' ')
rate=$(awk -v n="$done" -v s="$seconds" 'BEGIN { printf "%.1f", n / s }')

printf 'tasks: %d finished, %d not finished, in %.2f s\n' "$done" "$failed" "$seconds"
printf 'throughput (2 workers x 2 slots): %s tasks/s\n' "$rate"
printf 'reference raw loop (%s): %s rounds/s\n' "$raw" "$raw_rate"
awk -v a="$rate" -v b="$raw_rate" 'BEGIN { printf "ratio throughput/raw loop: %.3f\n", a / b }'
