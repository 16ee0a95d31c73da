# shellcheck shell=bash disable=SC2034
# The private RabbitMQ node of scripts/stack, with the AMQP 1.0 plugin. Sourced, not run.
#
# The node is configured through environment variables only, so it reads nothing from
# /etc/rabbitmq or /var/lib/rabbitmq. The /usr/sbin wrappers switch to the rabbitmq user
# and its /var/lib directories, so the scripts in /usr/lib/rabbitmq/bin are called directly.

RABBITMQ_BIN_DIR=/usr/lib/rabbitmq/bin

rabbitmq_setup_paths() {
    RABBIT_DIR="$RUN_DIR/rabbitmq"
    RABBIT_LOG_DIR="$LOG_DIR/rabbitmq"
    RABBIT_PID_FILE="$PID_DIR/rabbitmq.pid"
    RABBIT_SID_FILE="$PID_DIR/rabbitmq.sid"
    RABBIT_NODENAME="pulp-$PORT_BASE@localhost"
    BROKER_URL="amqp://127.0.0.1:$AMQP_PORT"
    rabbitmq_set_env
}

# Sets RABBIT_ENV, the environment of the node and of rabbitmqctl. HOME contains the Erlang
# cookie, which the server and rabbitmqctl must share.
rabbitmq_set_env() {
    RABBIT_ENV=(
        HOME="$RABBIT_DIR/home"
        RABBITMQ_NODENAME="$RABBIT_NODENAME"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$AMQP_PORT"
        RABBITMQ_DIST_PORT="$DIST_PORT"
        RABBITMQ_CTL_DIST_PORT_MIN="$CTL_DIST_PORT_MIN"
        RABBITMQ_CTL_DIST_PORT_MAX="$CTL_DIST_PORT_MAX"
        ERL_EPMD_PORT="$EPMD_PORT"
        ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia"
        RABBITMQ_LOG_BASE="$RABBIT_LOG_DIR"
        RABBITMQ_PID_FILE="$RABBIT_PID_FILE"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        ERL_CRASH_DUMP="$RABBIT_LOG_DIR/erl_crash.dump"
    )
}

rabbitmq_write_config() {
    mkdir -p "$RABBIT_DIR/home" "$RABBIT_DIR/mnesia" "$RABBIT_LOG_DIR"
    # Read instead of /etc/rabbitmq/rabbitmq-env.conf, whose settings would apply otherwise.
    printf '# Empty: scripts/stack sets the node through environment variables.\n' \
        >"$RABBIT_DIR/rabbitmq-env.conf"
    printf '[rabbitmq_amqp1_0].\n' >"$RABBIT_DIR/enabled_plugins"
    cat >"$RABBIT_DIR/rabbitmq.conf" <<'EOF'
# Written by scripts/stack. The node listens on 127.0.0.1 only, so guest may connect.
loopback_users = none
amqp1_0.default_user = guest
amqp1_0.default_vhost = /
EOF
}

# Prints the pid of the running Erlang VM of the node, or nothing.
rabbitmq_pid() {
    local pid
    pid=$(read_pid "$RABBIT_PID_FILE")
    pid_matches "$pid" beam && printf '%s' "$pid"
    return 0
}

# Succeeds while the node's session has processes: the node is running or booting.
rabbitmq_session_alive() {
    local sid
    sid=$(read_pid "$RABBIT_SID_FILE")
    [ -n "$sid" ] && ! session_empty "$sid"
}

epmd_is_ours() {
    [[ $(port_listener "$EPMD_PORT") == 'epmd (pid '* ]]
}

rabbitmq_check_ports() {
    if [ -n "$(rabbitmq_pid)" ] || rabbitmq_session_alive; then
        return 0
    fi
    require_free_port "$AMQP_PORT" PULP_AMQP_PORT "the RabbitMQ node (AMQP)"
    require_free_port "$DIST_PORT" PULP_DIST_PORT "Erlang distribution"
    # An epmd left on this stack's port by an earlier node of this stack is reused.
    if port_in_use "$EPMD_PORT" && ! epmd_is_ours; then
        require_free_port "$EPMD_PORT" PULP_EPMD_PORT "epmd"
    fi
}

# Starts the node in the background without waiting for it: it needs 7 to 10 s to boot,
# time in which the other components start. rabbitmq_wait waits for it.
rabbitmq_start() {
    rabbitmq_setup_paths
    if [ -n "$(rabbitmq_pid)" ] || rabbitmq_session_alive; then
        info "rabbitmq is already running"
        RABBIT_STARTED=0
        return 0
    fi
    rabbitmq_check_ports
    rabbitmq_write_config
    rm -f "$RABBIT_PID_FILE"
    spawn "$RABBIT_LOG_DIR/startup.log" env "${RABBIT_ENV[@]}" "$RABBITMQ_BIN_DIR/rabbitmq-server"
    printf '%s\n' "$SPAWNED_PID" >"$RABBIT_SID_FILE"
    RABBIT_STARTED=1
    RABBIT_START_TIME=$(now)
    info "rabbitmq is booting (node $RABBIT_NODENAME, port $AMQP_PORT)"
}

# Waits until the node accepts AMQP connections; fails if it exits or after 120 s.
rabbitmq_wait() {
    local deadline=$((SECONDS + 120))

    rabbitmq_setup_paths
    # A node that was running before this start and listens on its AMQP port is ready. The
    # check skips rabbitmqctl, whose Erlang VM needs about half a second to start.
    if [ "${RABBIT_STARTED:-0}" -eq 0 ] && [ -n "$(rabbitmq_pid)" ] &&
        [ "$(port_listener "$AMQP_PORT")" = "beam.smp (pid $(rabbitmq_pid))" ]; then
        return 0
    fi
    # rabbitmqctl wait would wait out its whole time-out for a pid file that a node which
    # failed to boot never writes, so wait for the pid file here while watching the session.
    while [ -z "$(rabbitmq_pid)" ]; do
        if ! rabbitmq_session_alive; then
            show_log_tail "$RABBIT_LOG_DIR/startup.log"
            die "RabbitMQ exited while booting (logs: $RABBIT_LOG_DIR/)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "RabbitMQ wrote no pid file in 120 s (logs: $RABBIT_LOG_DIR/)"
        fi
        sleep 0.2
    done
    if ! env "${RABBIT_ENV[@]}" timeout 130 "$RABBITMQ_BIN_DIR/rabbitmqctl" wait --timeout 120 \
        "$RABBIT_PID_FILE" >>"$RABBIT_LOG_DIR/rabbitmqctl.log" 2>&1; then
        show_log_tail "$RABBIT_LOG_DIR/rabbitmqctl.log"
        die "RabbitMQ did not become ready (logs: $RABBIT_LOG_DIR/)"
    fi
    if [ "${RABBIT_STARTED:-0}" -eq 1 ]; then
        info "rabbitmq ready after $(elapsed_since "$RABBIT_START_TIME") s (pid $(rabbitmq_pid))"
    fi
}

rabbitmq_stop() {
    local pid sid

    rabbitmq_setup_paths
    pid=$(rabbitmq_pid)
    sid=$(read_pid "$RABBIT_SID_FILE")
    if [ -n "$pid" ]; then
        if ! env "${RABBIT_ENV[@]}" timeout 90 "$RABBITMQ_BIN_DIR/rabbitmqctl" stop \
            "$RABBIT_PID_FILE" >>"$RABBIT_LOG_DIR/rabbitmqctl.log" 2>&1; then
            warn "rabbitmqctl stop failed; sending SIGTERM to the node (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
        fi
        if ! wait_pid_exit "$pid" 30; then
            warn "the RabbitMQ node (pid $pid) did not stop in 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_exit "$pid" 5 || true
        fi
    fi
    # A node that is still booting has no pid file yet, so its whole session is ended.
    if [ -n "$sid" ] && ! session_empty "$sid"; then
        kill_session "$sid" TERM
        sleep 1
        kill_session "$sid" KILL
    fi
    # epmd detaches from the node and outlives it.
    if port_in_use "$EPMD_PORT" && epmd_is_ours; then
        timeout 10 epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
    rm -f "$RABBIT_PID_FILE" "$RABBIT_SID_FILE"
    if [ -n "$pid$sid" ]; then
        info "rabbitmq stopped"
    fi
}
