# shellcheck shell=bash disable=SC2034
# The pulp-worker processes of scripts/stack. Sourced, not run.

WORKER_BIN="$BUILD_DIR/pulp-worker"
# Seconds that a worker gets to exit after SIGTERM: its running tasks get shutdown_grace
# (30 s by default) to finish, plus time to record their end.
WORKER_STOP_TIMEOUT=45

workers_setup() {
    WORKER_COUNT=${PULP_WORKER_COUNT:-${STATE_WORKER_COUNT:-2}}
    [[ $WORKER_COUNT =~ ^[1-9][0-9]*$ ]] ||
        die "PULP_WORKER_COUNT=\"$WORKER_COUNT\" is not a positive number"
    WORKER_HOST=$(uname -n)
    ORPHANS_FILE="$PID_DIR/worker-orphans.sid"
}

worker_names() {
    local n
    for ((n = 1; n <= WORKER_COUNT; n++)); do
        printf 'worker-%s\n' "$n"
    done
}

worker_pid() {
    local pid
    pid=$(read_pid "$PID_DIR/$1.pid")
    pid_matches "$pid" "$WORKER_BIN" && printf '%s' "$pid"
    return 0
}

worker_write_config() {
    (
        umask 077
        cat >"$WORKER_CONF.tmp" <<EOF
# pulp-worker configuration of the private stack, written by scripts/stack at each start.
database = $PG_CONNINFO
broker = $BROKER_URL
queue = pulp.tasks
storage_dir = $STORAGE_DIR
concurrency = 2
# Enables a task kind that only the test suite uses; production configurations leave it off.
diagnostic_tasks = on
EOF
    )
    mv -f "$WORKER_CONF.tmp" "$WORKER_CONF"
}

# Records the session of a dead worker whose task processes still run, so that stop ends
# them too. They are left running here, because each may still finish its task.
remember_orphans() {
    local sid
    sid=$(read_pid "$PID_DIR/$1.pid")
    if [ -n "$sid" ] && ! session_empty "$sid"; then
        printf '%s\n' "$sid" >>"$ORPHANS_FILE"
        warn "$1 (pid $sid) is gone but left task processes: $(session_members "$sid" | tr '\n' ' ')"
    fi
}

# Starts every worker that is not running. Each runs in its own session, so that stopping
# it can also reach task processes that outlive it.
workers_start() {
    local name pid started=()

    workers_setup
    [ -x "$WORKER_BIN" ] || die "$WORKER_BIN is missing: run make first"
    for name in $(worker_names); do
        pid=$(worker_pid "$name")
        if [ -n "$pid" ]; then
            info "$name is already running (pid $pid)"
            continue
        fi
        remember_orphans "$name"
        spawn "$LOG_DIR/$name.log" "$WORKER_BIN" --config "$WORKER_CONF" \
            --name "$name@$WORKER_HOST-$PORT_BASE"
        printf '%s\n' "$SPAWNED_PID" >"$PID_DIR/$name.pid"
        started+=("$name")
    done
    [ "${#started[@]}" -gt 0 ] || return 0

    # A worker with an invalid configuration exits at once. It keeps retrying an unreachable
    # database or broker instead.
    sleep 0.5
    for name in "${started[@]}"; do
        pid=$(read_pid "$PID_DIR/$name.pid")
        if ! pid_alive "$pid" || [ "$(ps -o stat= -p "$pid" | cut -c1)" = Z ]; then
            show_log_tail "$LOG_DIR/$name.log"
            die "$name exited right after starting (log: $LOG_DIR/$name.log)"
        fi
        info "$name started (pid $pid)"
    done
}

# Stops the named workers, or every worker in the pid directory, including any left from a
# run with more workers: SIGTERM, then SIGKILL after WORKER_STOP_TIMEOUT, then whatever
# remains in each worker's session.
workers_stop() {
    local file name pid files=() stopping=()

    if [ "$#" -gt 0 ]; then
        for name in "$@"; do
            files+=("$PID_DIR/$name.pid")
        done
    else
        for file in "$PID_DIR"/worker-*.pid; do
            [ -e "$file" ] && files+=("$file")
        done
    fi

    for file in "${files[@]}"; do
        name=$(basename "$file" .pid)
        pid=$(worker_pid "$name")
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            stopping+=("$name")
        fi
    done
    for file in "${files[@]}"; do
        [ -e "$file" ] || continue
        name=$(basename "$file" .pid)
        pid=$(worker_pid "$name")
        if [ -n "$pid" ] && ! wait_pid_exit "$pid" "$WORKER_STOP_TIMEOUT"; then
            warn "$name (pid $pid) did not stop in $WORKER_STOP_TIMEOUT s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_exit "$pid" 5 || die "$name (pid $pid) did not stop"
        fi
        # The worker's pid is also the session id of its task processes.
        pid=$(read_pid "$file")
        if [ -n "$pid" ] && ! session_empty "$pid"; then
            kill_session "$pid" TERM
            sleep 0.5
            kill_session "$pid" KILL
        fi
        rm -f "$file"
    done

    if [ "$#" -eq 0 ] && [ -f "$ORPHANS_FILE" ]; then
        for pid in $(sort -u "$ORPHANS_FILE"); do
            kill_session "$pid" TERM
        done
        sleep 0.5
        for pid in $(sort -u "$ORPHANS_FILE"); do
            kill_session "$pid" KILL
        done
        rm -f "$ORPHANS_FILE"
    fi
    for name in "${stopping[@]}"; do
        info "$name stopped"
    done
}
