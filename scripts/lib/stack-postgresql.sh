# shellcheck shell=bash disable=SC2034
# The private PostgreSQL cluster of scripts/stack. Sourced, not run.
#
# The cluster lives in PG_AREA: PG_AREA/data is the data directory and PG_AREA/socket the
# Unix socket directory, both owned by the cluster's OS user with mode 0700. initdb and
# pg_ctl refuse to run as root, so as root they run as the postgres user; as another user
# they run as that user.

PG_DB_NAME=pulp
PG_DB_USER=pulp

pg_setup_paths() {
    PG_BIN_DIR=${PULP_PG_BINDIR:-$(find_pg_bin_dir)}
    [ -x "$PG_BIN_DIR/pg_ctl" ] ||
        die "PostgreSQL's pg_ctl not found in \"$PG_BIN_DIR\": run scripts/install-deps" \
            "or set PULP_PG_BINDIR"
    if [ "$(id -u)" -eq 0 ]; then
        PG_OS_USER=postgres
    else
        PG_OS_USER=$(id -un)
    fi
    PG_DATA="$PG_AREA/data"
    PG_SOCKET_DIR="$PG_AREA/socket"
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB_NAME user=$PG_DB_USER password=$PG_PASSWORD"
}

# Prints the bin directory of the newest PostgreSQL installed under /usr/lib/postgresql.
find_pg_bin_dir() {
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    printf '%s' "$dir"
}

# Chooses where the cluster lives: PG_AREA=<run dir>/postgresql when the cluster's OS user
# can enter the run directory and the socket path fits the 107-byte limit of Unix socket
# names, else /var/tmp/pulp-stack-<hash of the run dir>. A clone under /root needs the
# second place because /root is mode 0700.
pg_choose_area() {
    local area="$RUN_DIR/postgresql" hash

    if [ -n "$STATE_PG_AREA" ]; then
        PG_AREA=$STATE_PG_AREA
        return 0
    fi
    if ! pg_user_can_enter "$RUN_DIR" || [ ${#area} -gt 80 ]; then
        hash=$(printf '%s' "$RUN_DIR" | sha256sum | cut -c1-16)
        area="/var/tmp/pulp-stack-$hash"
        info "PostgreSQL's data goes to $area, because the postgres user cannot enter" \
            "$RUN_DIR or its path is too long for a socket name"
    fi
    PG_AREA=$area
}

pg_user_can_enter() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- test -x "$1" 2>/dev/null
    else
        test -x "$1"
    fi
}

# Runs a PostgreSQL program as the cluster's OS user, from / so that a working directory
# that user cannot enter does not matter.
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_pid() {
    local pid
    pid=$(read_pid "$PG_DATA/postmaster.pid")
    pid_matches "$pid" postgres && printf '%s' "$pid"
    return 0
}

pg_running() {
    [ -n "$(pg_pid)" ]
}

# Creates the cluster on first start. A data directory without PG_VERSION is what a failed
# initdb leaves behind, so it is removed and made again.
pg_init() {
    mkdir -p "$PG_AREA"
    if [ "$PG_AREA" != "$RUN_DIR/postgresql" ]; then
        printf '%s\n' "$RUN_DIR" >"$PG_AREA/run-dir"
    fi
    chown "$PG_OS_USER:" "$PG_AREA"
    chmod 0700 "$PG_AREA"
    install -d -o "$PG_OS_USER" -m 0700 "$PG_SOCKET_DIR"
    [ -f "$PG_DATA/PG_VERSION" ] && return 0

    rm -rf "$PG_DATA"
    install -d -o "$PG_OS_USER" -m 0700 "$PG_DATA"
    info "creating the PostgreSQL cluster in $PG_DATA"
    if ! as_pg_user "$PG_BIN_DIR/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions \
        >>"$LOG_DIR/postgresql-initdb.log" 2>&1; then
        show_log_tail "$LOG_DIR/postgresql-initdb.log"
        die "initdb failed for $PG_DATA (log: $LOG_DIR/postgresql-initdb.log)"
    fi
    # The socket directory is mode 0700, so the trusted local connections above are open
    # only to the cluster's OS user and root.
    cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# Settings of the private development and test stack (scripts/stack).
# fsync, synchronous_commit and full_page_writes are off to make tests faster: a crash of
# the machine can lose or corrupt this database. Never use them where the data matters.
fsync = off
synchronous_commit = off
full_page_writes = off
# Room for every httpd thread and worker process of the stack, each with its own session.
max_connections = 300
# Rewritten by scripts/stack at each start: the listen address, port and socket directory.
include_if_exists = 'pulp-stack.conf'
EOF
}

pg_check_ports() {
    pg_running || require_free_port "$PG_PORT" PULP_PG_PORT postgresql
}

pg_start() {
    pg_setup_paths
    if pg_running; then
        info "postgresql is already running (pid $(pg_pid))"
        return 0
    fi
    pg_check_ports
    pg_init

    cat >"$PG_DATA/pulp-stack.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
EOF
    chown "$PG_OS_USER:" "$PG_DATA/pulp-stack.conf"

    # pg_ctl gets the log as an already open file, because the cluster's OS user may not
    # be able to enter the run directory.
    if ! as_pg_user "$PG_BIN_DIR/pg_ctl" start -D "$PG_DATA" -w -t 60 \
        >>"$LOG_DIR/postgresql.log" 2>&1 </dev/null; then
        show_log_tail "$LOG_DIR/postgresql.log"
        die "PostgreSQL did not start on port $PG_PORT (log: $LOG_DIR/postgresql.log)"
    fi
    info "postgresql started (pid $(pg_pid), port $PG_PORT)"
}

# Creates the pulp role and database, or resets the role's password to the recorded one.
pg_ensure_database() {
    local output

    if ! output=$(timeout 60 "$PG_BIN_DIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" \
        -U postgres -d postgres 2>&1 <<EOF
\\set password '$PG_PASSWORD'
SELECT 'CREATE ROLE $PG_DB_USER LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_DB_USER') \\gexec
ALTER ROLE $PG_DB_USER PASSWORD :'password';
SELECT 'CREATE DATABASE $PG_DB_NAME OWNER $PG_DB_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB_NAME') \\gexec
EOF
    ); then
        printf '%s\n' "$output" >&2
        die "could not create the database \"$PG_DB_NAME\" and its role in the cluster on port $PG_PORT"
    fi
}

pg_stop() {
    pg_setup_paths
    if ! pg_running; then
        return 0
    fi
    local pid
    pid=$(pg_pid)
    if ! as_pg_user "$PG_BIN_DIR/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 \
        >>"$LOG_DIR/postgresql.log" 2>&1 </dev/null; then
        warn "pg_ctl stop failed or timed out; sending SIGQUIT to postgres (pid $pid)"
        kill -QUIT "$pid" 2>/dev/null || true
        wait_pid_exit "$pid" 10 || die "PostgreSQL (pid $pid) did not stop"
    fi
    info "postgresql stopped"
}
