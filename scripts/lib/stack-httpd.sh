# shellcheck shell=bash disable=SC2034
# The private httpd with mod_pulp of scripts/stack. Sourced, not run.

HTTPD_BIN=/usr/sbin/apache2
HTTPD_MPMS="event worker prefork"

httpd_setup_paths() {
    HTTPD_DIR="$RUN_DIR/httpd"
    HTTPD_CONF="$HTTPD_DIR/httpd.conf"
    HTTPD_PID_FILE="$PID_DIR/httpd.pid"
    HTTPD_MPM=${PULP_HTTPD_MPM:-${STATE_HTTPD_MPM:-event}}
    PULP_URL="http://127.0.0.1:$HTTP_PORT"
    PULP_HTTPS_URL="https://127.0.0.1:$HTTPS_PORT"
    TLS_DIR="$RUN_DIR/tls"
    TLS_CERT="$TLS_DIR/httpd.crt"
    TLS_KEY="$TLS_DIR/httpd.key"
    if [[ " $HTTPD_MPMS " != *" $HTTPD_MPM "* ]]; then
        die "PULP_HTTPD_MPM=\"$HTTPD_MPM\" is not an httpd MPM: use event, worker or prefork"
    fi
}

# Prints httpd's module directory as configure recorded it (apxs -q LIBEXECDIR).
httpd_module_dir() {
    local dir
    dir=$(sed -n 's/^HTTPD_MODULEDIR *= *//p' "$BUILD_DIR/config.mk" 2>/dev/null)
    printf '%s' "${dir:-/usr/lib/apache2/modules}"
}

# Writes httpd.conf from etc/httpd-stack.conf.in, replacing the @...@ placeholders.
httpd_write_config() {
    local template="$CHECKOUT/etc/httpd-stack.conf.in" text name value

    text=$(<"$template")
    for name in HTTPD_DIR PID_DIR LOG_DIR STORAGE_DIR HTTP_PORT HTTPS_PORT TLS_CERT TLS_KEY \
        HTTPD_MPM MOD_PULP HTTPD_MODULE_DIR PULP_DATABASE PULP_BROKER; do
        case $name in
            MOD_PULP) value="$BUILD_DIR/mod_pulp.so" ;;
            HTTPD_MODULE_DIR) value=$(httpd_module_dir) ;;
            PULP_DATABASE) value=$PG_CONNINFO ;;
            PULP_BROKER) value=$BROKER_URL ;;
            *) value=${!name} ;;
        esac
        # The quotes keep "&" in the value literal (bash 5.2 patsub_replacement).
        text=${text//"@$name@"/"$value"}
    done
    if [[ $text =~ @[A-Z_]+@ ]]; then
        die "$template has an unknown placeholder: ${BASH_REMATCH[0]}"
    fi
    mkdir -p "$HTTPD_DIR/runtime"
    # Mode 0600, because the file contains the database password.
    (umask 077 && printf '%s\n' "$text" >"$HTTPD_CONF.tmp")
    mv -f "$HTTPD_CONF.tmp" "$HTTPD_CONF"
}

# Makes the self-signed certificate of the HTTPS port at the first start. Later starts keep
# it, so that clients which trust it go on doing so.
httpd_ensure_certificate() {
    local output

    [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ] && return 0
    command -v openssl >/dev/null || die "openssl is missing: run scripts/install-deps"
    mkdir -p "$TLS_DIR"
    # The key is written with mode 0600; the certificate is public.
    if ! output=$(umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
        -keyout "$TLS_KEY.tmp" -out "$TLS_CERT.tmp" 2>&1 </dev/null); then
        printf '%s\n' "$output" >&2
        die "openssl could not make the certificate $TLS_CERT"
    fi
    chmod 0644 "$TLS_CERT.tmp"
    mv -f "$TLS_KEY.tmp" "$TLS_KEY"
    mv -f "$TLS_CERT.tmp" "$TLS_CERT"
    info "made the self-signed certificate $TLS_CERT for $PULP_HTTPS_URL"
}

# Prints the MPM that the written httpd.conf loads.
httpd_configured_mpm() {
    sed -n 's/^LoadModule mpm_\([a-z]*\)_module .*/\1/p' "$HTTPD_CONF" 2>/dev/null
}

httpd_pid() {
    local pid
    pid=$(read_pid "$HTTPD_PID_FILE")
    pid_matches "$pid" "$HTTPD_CONF" && printf '%s' "$pid"
    return 0
}

# Prints "ok" when GET /pulp/api/v2/status/ returns 200 with a database connection, else
# the reason.
api_health() {
    local body code

    body=$(curl -sS --max-time 5 -w '\n%{http_code}' "$PULP_URL/pulp/api/v2/status/" 2>&1) ||
        { printf 'no answer: %s' "${body##*$'\n'}"; return 0; }
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$code" != 200 ]; then
        printf 'HTTP status %s' "$code"
        return 0
    fi
    /usr/bin/python3 -c '
import json, sys
try:
    status = json.load(sys.stdin)
except ValueError as error:
    print("invalid JSON: %s" % error)
    sys.exit()
if status.get("database_connection", {}).get("connected") is True:
    print("ok")
else:
    print("database_connection.connected is not true")
' <<<"$body"
}

# Waits up to 30 s for the API to report a database connection.
httpd_wait_ready() {
    local pid=$1 deadline=$((SECONDS + 30)) health

    while true; do
        health=$(api_health)
        [ "$health" = ok ] && return 0
        if ! pid_alive "$pid"; then
            show_log_tail "$LOG_DIR/httpd-error.log"
            die "httpd exited after starting (error log: $LOG_DIR/httpd-error.log)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log_tail "$LOG_DIR/httpd-error.log"
            die "the API at $PULP_URL/pulp/api/v2/status/ is not healthy after 30 s ($health);" \
                "see $LOG_DIR/httpd-error.log"
        fi
        sleep 0.2
    done
}

httpd_check_ports() {
    [ -z "$(httpd_pid)" ] || return 0
    httpd_stop_orphans
    require_free_port "$HTTP_PORT" PULP_HTTP_PORT httpd
    require_free_port "$HTTPS_PORT" PULP_HTTPS_PORT httpd
}

# Ends the children of an httpd parent that was killed: they keep serving, and holding the
# port, until they get a signal. They are found by this stack's configuration path.
httpd_stop_orphans() {
    local orphans pid

    orphans=$(pids_with_cmdline "-f $HTTPD_CONF ")
    [ -n "$orphans" ] || return 0
    warn "stopping httpd processes left by a killed httpd: $(tr '\n' ' ' <<<"$orphans")"
    # Children of the event and worker MPMs leave SIGTERM to their parent, so they get
    # SIGKILL when they have not exited after 2 s.
    for pid in $orphans; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 2
    for pid in $orphans; do
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_exit "$pid" 5 || true
    done
}

httpd_start() {
    local pid output

    httpd_setup_paths
    pid=$(httpd_pid)
    if [ -n "$pid" ]; then
        info "httpd is already running (pid $pid, $PULP_URL)"
        if [ "$(httpd_configured_mpm)" != "$HTTPD_MPM" ]; then
            warn "httpd runs with the $(httpd_configured_mpm) MPM: PULP_HTTPD_MPM=$HTTPD_MPM" \
                "applies after scripts/stack stop httpd"
        fi
        if ! grep -qxF "Listen 127.0.0.1:$HTTPS_PORT" "$HTTPD_CONF"; then
            warn "httpd does not listen on the HTTPS port $HTTPS_PORT: it will after" \
                "scripts/stack stop httpd"
        fi
        return 0
    fi
    httpd_check_ports
    [ -f "$BUILD_DIR/mod_pulp.so" ] || die "$BUILD_DIR/mod_pulp.so is missing: run make first"
    mkdir -p "$STORAGE_DIR/published/yum/http/repos" "$STORAGE_DIR/published/yum/https/repos" \
        "$STORAGE_DIR/published/iso/http/isos" "$STORAGE_DIR/published/puppet/http/repos" \
        "$STORAGE_DIR/content"
    httpd_ensure_certificate
    httpd_write_config

    # httpd detaches by itself. Once it has read the configuration it writes to the error
    # log, so only earlier messages, such as a module that fails to load, appear here.
    if ! output=$(timeout 60 "$HTTPD_BIN" -f "$HTTPD_CONF" -k start 2>&1 </dev/null); then
        printf '%s\n' "$output" >&2
        show_log_tail "$LOG_DIR/httpd-error.log" 10
        die "httpd failed to start with $HTTPD_CONF: see the message above and" \
            "$LOG_DIR/httpd-error.log (is build/mod_pulp.so built and loadable?)"
    fi
    [ -z "$output" ] || printf '%s\n' "$output" >>"$LOG_DIR/httpd-error.log"

    local deadline=$((SECONDS + 10))
    until pid=$(httpd_pid) && [ -n "$pid" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log_tail "$LOG_DIR/httpd-error.log"
            die "httpd wrote no pid file to $HTTPD_PID_FILE in 10 s (error log:" \
                "$LOG_DIR/httpd-error.log)"
        fi
        sleep 0.1
    done
    httpd_wait_ready "$pid"
    info "httpd started (pid $pid, MPM $HTTPD_MPM, $PULP_URL and $PULP_HTTPS_URL)"
}

httpd_stop() {
    local pid

    httpd_setup_paths
    pid=$(httpd_pid)
    [ -n "$pid" ] || return 0
    timeout 30 "$HTTPD_BIN" -f "$HTTPD_CONF" -k stop >/dev/null 2>&1 ||
        kill -TERM "$pid" 2>/dev/null || true
    if ! wait_pid_exit "$pid" 20; then
        warn "httpd (pid $pid) did not stop in 20 s; sending SIGKILL to it and its children"
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_exit "$pid" 5 || die "httpd (pid $pid) did not stop"
    fi
    rm -f "$HTTPD_PID_FILE"
    info "httpd stopped"
}
