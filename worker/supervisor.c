/* The supervisor's poll loop, its broker callbacks and its shutdown policy.
 *
 * Shutdown (SIGTERM or SIGINT): the receiver link is closed at once, so the broker hands
 * queued tasks to other workers. Running tasks get shutdown_grace seconds to finish. Then
 * their processes get SIGUSR2 and end their task as "error" with a message stating that the
 * worker shut down. A process still alive cancel_grace seconds later is killed, and the
 * supervisor ends its task the same way. A second SIGTERM skips the grace period. No task is
 * left "running": whatever the supervisor cannot end, the next leader's reaper ends. */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "pulp_log.h"
#include "worker.h"

/* Time given to the broker to close the connection cleanly at exit. */
#define CLOSE_TIMEOUT_MS 1000
/* A receiver with credit that got no message for this long has found the queue empty. */
#define QUEUE_IDLE_MS 3000

void pulp_supervisor_send_task(supervisor_t *sv, const char *task_id)
{
    char body[128];
    size_t length = pulp_amqp_task_message(task_id, body, sizeof body);
    uint64_t tag;

    if (pulp_amqp_send(sv->amqp, body, length, &tag) != 0)
        pulp_log_warning("could not send the dispatch message of task %s: not connected to the "
                         "broker at %s; the sweeper re-sends it", task_id,
                         pulp_amqp_peer(sv->amqp));
}

void pulp_supervisor_update_credit(supervisor_t *sv)
{
    int credit = 0;

    if (!sv->stopping && sv->db_ready)
        credit = sv->config->concurrency - pulp_children_busy(sv);
    if (credit > 0 && sv->credit <= 0)
        sv->credit_since_ms = pulp_monotonic_ms();
    sv->credit = credit;
    pulp_amqp_set_credit(sv->amqp, credit);
}

int pulp_supervisor_queue_idle(const supervisor_t *sv)
{
    int64_t since = sv->last_delivery_ms > sv->credit_since_ms ? sv->last_delivery_ms
                                                                : sv->credit_since_ms;

    return sv->credit > 0 && pulp_amqp_connected(sv->amqp) &&
           pulp_monotonic_ms() - since >= QUEUE_IDLE_MS;
}

/* --- broker callbacks ----------------------------------------------------------------------- */

static void on_message(void *baton, uint64_t delivery, const char *body, size_t length,
                       int redelivered)
{
    supervisor_t *sv = baton;
    char task_id[PULP_UUID_LENGTH + 1];

    if (pulp_amqp_task_message_parse(body, length, task_id) != 0) {
        pulp_log_warning("rejected a dispatch message without a valid task id: %.100s",
                         body);
        pulp_amqp_settle(sv->amqp, delivery, PULP_AMQP_REJECT);
        return;
    }
    if (sv->stopping) {
        pulp_amqp_settle(sv->amqp, delivery, PULP_AMQP_RELEASE);
        return;
    }
    sv->last_delivery_ms = pulp_monotonic_ms();
    pulp_log_debug("received task %s%s", task_id, redelivered ? " (redelivered)" : "");
    pulp_children_assign(sv, task_id, delivery);
}

static void on_connection(void *baton, int connected)
{
    supervisor_t *sv = baton;

    sv->credit = 0;
    if (connected)
        pulp_supervisor_update_credit(sv);
}

/* --- signals and shutdown ------------------------------------------------------------------- */

static int open_signal_fd(void)
{
    sigset_t signals;

    sigemptyset(&signals);
    sigaddset(&signals, SIGCHLD);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void start_abort(supervisor_t *sv)
{
    sv->aborting = 1;
    pulp_children_abort_all(sv);
}

static void start_shutdown(supervisor_t *sv, int signal_number)
{
    if (sv->stopping) {
        if (!sv->aborting) {
            pulp_log_warning("received %s again: stopping running tasks now",
                             strsignal(signal_number));
            start_abort(sv);
        }
        return;
    }
    sv->stopping = 1;
    sv->grace_end_ms = pulp_monotonic_ms() + (int64_t)sv->config->shutdown_grace * 1000;
    pulp_log_info("received %s: shutting down; %d running tasks get %d s to finish",
                  strsignal(signal_number), pulp_children_busy(sv), sv->config->shutdown_grace);
    pulp_amqp_stop_receiving(sv->amqp);
    pulp_children_dismiss_spare(sv);
}

static void read_signals(supervisor_t *sv)
{
    struct signalfd_siginfo info;

    while (read(sv->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD)
            continue;
        if (info.ssi_signo == SIGHUP) {
            pulp_log_info("received SIGHUP: ignored (restart the worker to change settings)");
            continue;
        }
        start_shutdown(sv, (int)info.ssi_signo);
    }
    pulp_children_collect(sv);
}

/* --- the loop ------------------------------------------------------------------------------- */

enum { FD_SIGNAL, FD_AMQP, FD_DB, FD_LEADER, FD_CHILDREN };

static int add_fd(struct pollfd *fds, int index, int fd, short events)
{
    fds[index].fd = fd;
    fds[index].events = fd >= 0 ? events : 0;
    fds[index].revents = 0;
    return index + 1;
}

static int64_t next_deadline(supervisor_t *sv)
{
    int64_t now = pulp_monotonic_ms();
    int64_t deadline = INT64_MAX;
    int amqp_timeout = pulp_amqp_timeout_ms(sv->amqp);
    int64_t candidates[4];

    candidates[0] = amqp_timeout >= 0 ? now + amqp_timeout : INT64_MAX;
    candidates[1] = pulp_supervisor_db_deadline(sv);
    candidates[2] = pulp_leader_deadline(sv);
    candidates[3] = pulp_children_next_deadline(sv);
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (candidates[i] < deadline)
            deadline = candidates[i];
    }
    if (sv->stopping && !sv->aborting && sv->grace_end_ms < deadline)
        deadline = sv->grace_end_ms;
    return deadline;
}

static int poll_timeout(supervisor_t *sv)
{
    int64_t deadline = next_deadline(sv);
    int64_t now = pulp_monotonic_ms();

    if (deadline == INT64_MAX)
        return 60000;
    if (deadline <= now)
        return 0;
    return deadline - now > 60000 ? 60000 : (int)(deadline - now);
}

static void run_once(supervisor_t *sv, struct pollfd *fds)
{
    int n_fds = FD_CHILDREN;
    size_t n_children = sv->n_children;
    pid_t pids[n_children + 1];

    add_fd(fds, FD_SIGNAL, sv->signal_fd, POLLIN);
    add_fd(fds, FD_AMQP, pulp_amqp_fd(sv->amqp), pulp_amqp_events(sv->amqp));
    add_fd(fds, FD_DB, pulp_supervisor_db_fd(sv), POLLIN);
    add_fd(fds, FD_LEADER, pulp_leader_fd(sv), POLLIN);
    for (size_t i = 0; i < n_children; i++) {
        pids[i] = sv->children[i].pid;
        n_fds = add_fd(fds, n_fds, sv->children[i].eof ? -1 : sv->children[i].fd, POLLIN);
    }

    if (poll(fds, (nfds_t)n_fds, poll_timeout(sv)) < 0 && errno != EINTR) {
        pulp_log_error("poll failed: %s", strerror(errno));
        return;
    }

    /* Children first: their claim decisions settle deliveries on the current connection. */
    for (size_t i = 0; i < n_children; i++) {
        if (!fds[FD_CHILDREN + i].revents)
            continue;
        for (size_t j = 0; j < sv->n_children; j++) {
            if (sv->children[j].pid == pids[i])
                pulp_children_read(sv, &sv->children[j]);
        }
    }
    if (fds[FD_SIGNAL].revents)
        read_signals(sv);
    pulp_amqp_process(sv->amqp, fds[FD_AMQP].revents);
    pulp_supervisor_db_process(sv, fds[FD_DB].revents);
    pulp_leader_process(sv, fds[FD_LEADER].revents);
    pulp_children_check_deadlines(sv);
    pulp_children_ensure_spare(sv);
}

static void check_shutdown(supervisor_t *sv)
{
    if (!sv->stopping || sv->aborting || pulp_children_busy(sv) == 0)
        return;
    if (pulp_monotonic_ms() < sv->grace_end_ms)
        return;
    pulp_log_warning("the shutdown grace period of %d s is over: stopping %d running tasks",
                     sv->config->shutdown_grace, pulp_children_busy(sv));
    start_abort(sv);
}

static void close_broker(supervisor_t *sv)
{
    int64_t deadline = pulp_monotonic_ms() + CLOSE_TIMEOUT_MS;

    while (!pulp_amqp_close(sv->amqp) && pulp_monotonic_ms() < deadline) {
        struct pollfd fd = { pulp_amqp_fd(sv->amqp), pulp_amqp_events(sv->amqp), 0 };

        if (fd.fd < 0)
            break;
        poll(&fd, 1, 50);
        pulp_amqp_process(sv->amqp, fd.revents);
    }
}

/* libpq tries GSSAPI encryption by default (gssencmode=prefer), and its check for a Kerberos
 * credential cache initialises the Kerberos libraries, about 0.6 MB of resident memory in
 * each process (MIT Kerberos 1.20). The supervisor's sessions carry task ids and heartbeats,
 * nothing secret, so they do without it unless the connection string (which overrides the
 * environment) or PGGSSENCMODE requests it. Task processes get libpq's default back. */
static void default_gss_encryption_off(supervisor_t *sv)
{
    if (getenv("PGGSSENCMODE"))
        return;
    setenv("PGGSSENCMODE", "disable", 1);
    sv->gss_encryption_defaulted = 1;
}

/* Finds the task program in the directory of the supervisor's own executable. */
static char *find_task_program(pulp_error_t *error)
{
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;
    char *path = NULL;

    if (length <= 0) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not read /proc/self/exe: %s",
                       strerror(errno));
        return NULL;
    }
    self[length] = '\0';
    slash = strrchr(self, '/');
    if (slash)
        slash[1] = '\0';
    if (asprintf(&path, "%s%s", slash ? self : "", PULP_TASK_PROGRAM) < 0)
        return NULL;
    if (access(path, X_OK) != 0) {
        pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "could not find the task program "
                       "\"%s\": %s; it is installed beside pulp-worker", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

static int init_supervisor(supervisor_t *sv, const pulp_worker_config_t *config,
                           const char *name)
{
    pulp_amqp_callbacks_t callbacks = { on_message, NULL, on_connection };
    pulp_amqp_options_t options = { config->broker, config->queue, name, 1 };
    pulp_error_t error = PULP_ERROR_INIT;

    sv->config = config;
    sv->name = name;
    default_gss_encryption_off(sv);
    gethostname(sv->hostname, sizeof sv->hostname - 1);
    /* Busy processes, one spare, and room for dismissed processes that have not exited yet. */
    sv->max_children = 2 * (size_t)config->concurrency + 1;
    sv->children = calloc(sv->max_children, sizeof *sv->children);
    pulp_backoff_init(&sv->spare_backoff, 250, 5000);
    pulp_supervisor_db_init(sv);
    pulp_leader_init(&sv->leader);
    sv->signal_fd = open_signal_fd();
    sv->task_program = find_task_program(&error);
    if (sv->task_program)
        sv->amqp = pulp_amqp_new(&options, &callbacks, sv, &error);
    if (!sv->amqp || !sv->children || sv->signal_fd < 0 || !sv->leader.next_run_ms) {
        pulp_log_error("could not start the worker: %s",
                       error.message[0] ? error.message : strerror(errno));
        pulp_error_clear(&error);
        return -1;
    }
    return 0;
}

static void destroy_supervisor(supervisor_t *sv)
{
    if (sv->amqp) {
        close_broker(sv);
        pulp_amqp_free(sv->amqp);
    }
    pulp_leader_close(&sv->leader);
    pulp_supervisor_db_close(sv);
    if (sv->signal_fd >= 0)
        close(sv->signal_fd);
    free(sv->children);
    free(sv->task_program);
}

/* The supervisor's state is allocated zeroed rather than on the stack: most of it (the
 * pending reaps, the leader's suspects) is rarely used, and untouched zero pages cost no
 * resident memory, where a zeroed stack variable would. */
int pulp_supervisor_run(const pulp_worker_config_t *config, const char *name)
{
    supervisor_t *sv = calloc(1, sizeof *sv);
    struct pollfd *fds = NULL;
    int status = 1;

    if (!sv) {
        pulp_log_error("could not start the worker: out of memory");
        return 1;
    }
    if (init_supervisor(sv, config, name) != 0)
        goto end;
    fds = calloc(FD_CHILDREN + sv->max_children, sizeof *fds);
    if (!fds)
        goto end;
    pulp_log_info("started: concurrency %d, queue \"%s\" on %s%s", config->concurrency,
                  config->queue, pulp_amqp_peer(sv->amqp),
                  config->diagnostic_tasks ? ", diagnostic tasks on" : "");

    while (!sv->stopping || sv->n_children > 0 || sv->n_reaps > 0) {
        run_once(sv, fds);
        check_shutdown(sv);
        if (sv->stopping && sv->n_children == 0 && !sv->db_ready)
            break;
    }
    pulp_log_info("stopped");
    status = sv->exit_status;

end:
    free(fds);
    destroy_supervisor(sv);
    free(sv);
    return status;
}
