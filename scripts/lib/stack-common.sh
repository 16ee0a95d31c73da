# shellcheck shell=bash disable=SC2034
# Settings and helpers shared by scripts/stack and its component files. Sourced, not run.
#
# Sets CHECKOUT, RUN_DIR and the port variables, and provides messages, pid-file checks,
# port checks and bounded waits.

CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR="$CHECKOUT/build"

info() {
    printf 'stack: %s\n' "$*"
}

warn() {
    printf 'stack: warning: %s\n' "$*" >&2
}

die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

# Seconds since the epoch with microseconds, from bash's own clock.
now() {
    printf '%s' "$EPOCHREALTIME"
}

# Prints the seconds between two now() values with one decimal.
elapsed_since() {
    awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'
}

# Prints the last lines of a log file indented, to show with an error.
show_log_tail() {
    local file=$1 lines=${2:-20}

    [ -s "$file" ] || return 0
    printf 'stack: last lines of %s:\n' "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/    /' >&2
}

# --- run directory and recorded state -------------------------------------------------------

# Resolves $PULP_RUN_DIR (default run/ in the checkout) to an absolute path without
# creating it.
resolve_run_dir() {
    RUN_DIR=$(realpath -m -- "${PULP_RUN_DIR:-$CHECKOUT/run}")
    STATE_FILE="$RUN_DIR/stack.state"
    ENV_FILE="$RUN_DIR/stack.env"
    LOG_DIR="$RUN_DIR/log"
    PID_DIR="$RUN_DIR/pids"
    STORAGE_DIR="$RUN_DIR/storage"
    WORKER_CONF="$RUN_DIR/worker.conf"
    STACK_MARKER="PULP_STACK_RUN_DIR=$RUN_DIR"
}

# Reads the recorded state of the stack into STATE_* variables; leaves them empty when the
# stack was never started.
load_state() {
    local key value

    for key in PORT_BASE HTTP_PORT HTTPS_PORT PG_PORT AMQP_PORT EPMD_PORT DIST_PORT PG_AREA \
        PG_PASSWORD ADMIN_PASSWORD WORKER_COUNT HTTPD_MPM; do
        printf -v "STATE_$key" '%s' ''
    done
    [ -f "$STATE_FILE" ] || return 0

    while IFS='=' read -r key value; do
        case $key in
            PORT_BASE | HTTP_PORT | HTTPS_PORT | PG_PORT | AMQP_PORT | EPMD_PORT | DIST_PORT | \
                PG_AREA | PG_PASSWORD | ADMIN_PASSWORD | WORKER_COUNT | HTTPD_MPM)
                printf -v "STATE_$key" '%s' "$value"
                ;;
        esac
    done <"$STATE_FILE"
}

save_state() {
    local tmp="$STATE_FILE.tmp"

    (
        umask 077
        cat >"$tmp" <<EOF
PORT_BASE=$PORT_BASE
HTTP_PORT=$HTTP_PORT
HTTPS_PORT=$HTTPS_PORT
PG_PORT=$PG_PORT
AMQP_PORT=$AMQP_PORT
EPMD_PORT=$EPMD_PORT
DIST_PORT=$DIST_PORT
PG_AREA=$PG_AREA
PG_PASSWORD=$PG_PASSWORD
ADMIN_PASSWORD=$ADMIN_PASSWORD
WORKER_COUNT=$WORKER_COUNT
HTTPD_MPM=$HTTPD_MPM
EOF
    )
    mv -f "$tmp" "$STATE_FILE"
}

# Prints a random alphanumeric secret, safe inside a libpq conninfo and a shell word.
generate_secret() {
    local secret
    secret=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
    printf '%s' "${secret:0:24}"
}

# --- ports ----------------------------------------------------------------------------------

is_port_number() {
    [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# Resolves the ports. An explicit PULP_*_PORT wins; otherwise a port recorded by an earlier
# start is kept unless PULP_PORT_BASE changed; otherwise it is derived from the base.
resolve_ports() {
    local base_changed=0

    PORT_BASE=${PULP_PORT_BASE:-${STATE_PORT_BASE:-24800}}
    is_port_number "$PORT_BASE" || die "PULP_PORT_BASE=\"$PORT_BASE\" is not a port number"
    if [ -n "$STATE_PORT_BASE" ] && [ "$PORT_BASE" != "$STATE_PORT_BASE" ]; then
        base_changed=1
    fi

    pick_port() {
        local explicit=$1 recorded=$2 offset=$3
        if [ -n "$explicit" ]; then
            printf '%s' "$explicit"
        elif [ -n "$recorded" ] && [ "$base_changed" -eq 0 ]; then
            printf '%s' "$recorded"
        else
            printf '%s' $((PORT_BASE + offset))
        fi
    }
    HTTP_PORT=$(pick_port "${PULP_HTTP_PORT:-}" "$STATE_HTTP_PORT" 0)
    PG_PORT=$(pick_port "${PULP_PG_PORT:-}" "$STATE_PG_PORT" 1)
    AMQP_PORT=$(pick_port "${PULP_AMQP_PORT:-}" "$STATE_AMQP_PORT" 2)
    EPMD_PORT=$(pick_port "${PULP_EPMD_PORT:-}" "$STATE_EPMD_PORT" 3)
    DIST_PORT=$(pick_port "${PULP_DIST_PORT:-}" "$STATE_DIST_PORT" 4)
    # rabbitmqctl opens its own distribution port in this range; its default range,
    # 35672-35682, lies inside the kernel's range for outgoing connections.
    CTL_DIST_PORT_MIN=$((PORT_BASE + 5))
    CTL_DIST_PORT_MAX=$((PORT_BASE + 14))
    # base+15 is the demo feed's (scripts/demo), so the HTTPS port comes after it.
    HTTPS_PORT=$(pick_port "${PULP_HTTPS_PORT:-}" "$STATE_HTTPS_PORT" 16)

    local name
    for name in HTTP_PORT HTTPS_PORT PG_PORT AMQP_PORT EPMD_PORT DIST_PORT CTL_DIST_PORT_MAX; do
        is_port_number "${!name}" || die "PULP_$name=\"${!name}\" is not a port number (1-65535)"
    done
    if [ "$CTL_DIST_PORT_MAX" -ge 32768 ]; then
        warn "ports up to $CTL_DIST_PORT_MAX reach the kernel's range for outgoing connections" \
            "(32768 and above), where they can be taken at random: choose PULP_PORT_BASE below 32750"
    fi
    local ports
    ports=$(printf '%s\n' "$HTTP_PORT" "$HTTPS_PORT" "$PG_PORT" "$AMQP_PORT" "$EPMD_PORT" \
        "$DIST_PORT")
    if [ "$(sort -u <<<"$ports" | wc -l)" -ne 6 ]; then
        die "the ports are not distinct: http $HTTP_PORT, https $HTTPS_PORT, postgresql $PG_PORT," \
            "amqp $AMQP_PORT, epmd $EPMD_PORT, erlang distribution $DIST_PORT"
    fi
}

# Prints the name and pid of the process listening on a TCP port (any address) as
# "NAME (pid PID)", or nothing.
port_listener() {
    ss -Htlnp "( sport = :$1 )" 2>/dev/null |
        sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n 1
}

port_in_use() {
    [ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]
}

# Fails when a port that a component is about to bind is already taken.
require_free_port() {
    local port=$1 variable=$2 component=$3 holder

    port_in_use "$port" || return 0
    holder=$(port_listener "$port")
    die "port $port ($variable, for $component) is already in use${holder:+ by $holder}:" \
        "set $variable or PULP_PORT_BASE to free ports (each stack uses PULP_PORT_BASE to +14" \
        "and +16)"
}

# --- processes ------------------------------------------------------------------------------

# Reads the first line of a pid file; prints nothing when there is none.
read_pid() {
    local file=$1 pid=

    if [ -r "$file" ]; then
        read -r pid <"$file" 2>/dev/null || true
    fi
    [[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
    return 0
}

# Succeeds when the process exists and its command line contains the given text, which
# protects against a recycled pid.
pid_matches() {
    local pid=$1 expected=$2 arguments=()

    [ -n "$pid" ] || return 1
    # mapfile splits at the NUL bytes without starting a process, which matters when
    # pids_with_cmdline calls this for every process of the machine.
    { mapfile -d '' -t arguments <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
    [[ " ${arguments[*]} " == *"$expected"* ]]
}

# Prints the pids of the processes whose command line contains the given text.
pids_with_cmdline() {
    local expected=$1 file pid

    for file in /proc/[0-9]*/cmdline; do
        pid=${file#/proc/}
        pid=${pid%/cmdline}
        pid_matches "$pid" "$expected" && printf '%s\n' "$pid"
    done
    return 0
}

pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# Waits up to a number of seconds for a process to exit; fails on time-out.
wait_pid_exit() {
    local pid=$1 timeout=$2 deadline

    deadline=$((SECONDS + timeout))
    while pid_alive "$pid"; do
        # A zombie child of this shell counts as gone.
        if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Prints the processes of a session that carry this stack's marker in their environment.
# The marker keeps a recycled session id from reaching processes of others.
session_members() {
    local sid=$1 pid

    [ -n "$sid" ] || return 0
    for pid in $(ps -o pid= -s "$sid" 2>/dev/null); do
        if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "$STACK_MARKER"; then
            printf '%s\n' "$pid"
        fi
    done
}

session_empty() {
    [ -z "$(session_members "$1")" ]
}

# Signals the remaining processes of a session that spawn started; used after its leader
# has exited, for children that the leader left behind.
kill_session() {
    local sid=$1 signal=${2:-TERM} pid

    for pid in $(session_members "$sid"); do
        kill "-$signal" "$pid" 2>/dev/null || true
    done
}

# Starts a command in the background in its own session, with STACK_MARKER in its
# environment and its output appended to a log file. So it outlives this script, ignores a
# Ctrl-C given to it and keeps none of the caller's pipes open.
# Usage: spawn LOG_FILE COMMAND... (sets SPAWNED_PID)
spawn() {
    local log=$1
    shift
    setsid env "$STACK_MARKER" "$@" </dev/null >>"$log" 2>&1 &
    SPAWNED_PID=$!
}
