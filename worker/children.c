/* The supervisor's task processes: starting them, the line protocol on their sockets, and
 * what happens when one exits.
 *
 * A task process is the task program (pulp-task, in the supervisor's directory), forked and
 * executed with a socket on fd 3. One spare process is kept connected to the database while a
 * slot is free, so that a task starts without waiting for the program to load and for a new
 * session. A delivery is accepted only after its
 * process reports its claim decision ("claimed" or "skipped"). A process that dies first gets
 * its delivery accepted too, because the row decides, not the message: the reaper or the
 * sweeper then takes care of the task. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pulp_log.h"
#include "worker.h"

#define SPARE_RETRY_INITIAL_MS 250
#define SPARE_RETRY_MAX_MS 5000
/* A new spare is forked only after a slot has been free without one for this long, because a
 * task process that ends its task usually comes back as the spare. A fork and a new database
 * session started at once would compete with the claim of the task just handed out. */
#define SPARE_DELAY_MS 100

int pulp_children_busy(const supervisor_t *sv)
{
    int busy = 0;

    for (size_t i = 0; i < sv->n_children; i++) {
        if (sv->children[i].state != CHILD_SPARE)
            busy++;
    }
    return busy;
}

static child_t *find_spare(supervisor_t *sv)
{
    for (size_t i = 0; i < sv->n_children; i++) {
        if (sv->children[i].state == CHILD_SPARE && !sv->children[i].dismissed)
            return &sv->children[i];
    }
    return NULL;
}

/* Title of a task process until it sets its own. Task processes write their title
 * ("pulp-worker: task <id>") over their argv, so it is padded to leave room for a task id. */
static char task_title[] = "pulp-worker: waiting for a task                                   ";

/* Runs in the new process: keeps only stdio and its socket, which becomes fd 3, and starts the
 * task program. The signals that the supervisor blocks stay blocked until the task program
 * has set its handlers, so that a SIGTERM sent to the process group cannot kill it first. */
static void become_task_process(supervisor_t *sv, int fd)
{
    char *argv[] = { task_title, NULL };

    if (fd != 3) {
        dup2(fd, 3);
        close(fd);
    } else {
        fcntl(3, F_SETFD, 0);
    }
    close_range(4, ~0U, 0);
    if (sv->gss_encryption_defaulted)
        unsetenv("PGGSSENCMODE");
    execv(sv->task_program, argv);
    pulp_log_error("could not start the task program %s: %s", sv->task_program,
                   strerror(errno));
    fflush(stderr);
    _exit(PULP_CHILD_EXIT_NOT_STARTED);
}

static child_t *spawn(supervisor_t *sv)
{
    int fds[2];
    pid_t pid;
    child_t *child;

    if (sv->n_children >= sv->max_children)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        pulp_log_error("could not create a socket pair for a task process: %s",
                       strerror(errno));
        return NULL;
    }
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        pulp_log_error("could not fork a task process: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        close(fds[0]);
        become_task_process(sv, fds[1]);
    }

    close(fds[1]);
    /* The socket buffer takes the settings at once: the process reads them once started. */
    if (pulp_task_settings_send(fds[0], sv->config) != 0)
        pulp_log_error("could not send the settings to task process %d", (int)pid);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    child = &sv->children[sv->n_children++];
    memset(child, 0, sizeof *child);
    child->pid = pid;
    child->fd = fds[0];
    child->state = CHILD_SPARE;
    pulp_log_debug("started task process %d", (int)pid);
    return child;
}

void pulp_children_ensure_spare(supervisor_t *sv)
{
    int64_t now = pulp_monotonic_ms();

    if (sv->stopping || !sv->db_ready || find_spare(sv) ||
        pulp_children_busy(sv) >= sv->config->concurrency) {
        sv->spare_needed_ms = 0;
        return;
    }
    if (sv->spare_needed_ms == 0)
        sv->spare_needed_ms = now;
    if (now < sv->spare_retry_ms || now - sv->spare_needed_ms < SPARE_DELAY_MS)
        return;
    if (spawn(sv))
        sv->spare_needed_ms = 0;
}

static int send_line(child_t *child, const char *line)
{
    size_t length = strlen(line);

    return send(child->fd, line, length, MSG_NOSIGNAL) == (ssize_t)length ? 0 : -1;
}

void pulp_children_assign(supervisor_t *sv, const char *task_id, uint64_t delivery)
{
    char line[PULP_UUID_LENGTH + 8];
    child_t *child = find_spare(sv);

    if (!child)
        child = spawn(sv);
    snprintf(line, sizeof line, "task %s\n", task_id);
    if (!child || send_line(child, line) != 0) {
        pulp_log_error("could not hand task %s to a task process; it is left to the sweeper",
                       task_id);
        pulp_amqp_settle(sv->amqp, delivery, PULP_AMQP_ACCEPT);
        return;
    }
    child->state = CHILD_ASSIGNED;
    snprintf(child->task_id, sizeof child->task_id, "%s", task_id);
    child->delivery = delivery;
    child->delivery_unsettled = 1;
    pulp_children_ensure_spare(sv);
}

static void settle(supervisor_t *sv, child_t *child)
{
    if (!child->delivery_unsettled)
        return;
    child->delivery_unsettled = 0;
    if (pulp_amqp_settle(sv->amqp, child->delivery, PULP_AMQP_ACCEPT) != 0)
        pulp_log_debug("the message of task %s came on a lost connection; the broker "
                       "redelivers it", child->task_id);
}

/* Takes back a task process that ended its task and waits for another. One spare is enough,
 * so a second one is dismissed. */
static void become_spare(supervisor_t *sv, child_t *child)
{
    int other_spare = find_spare(sv) != NULL;

    settle(sv, child);
    child->state = CHILD_SPARE;
    child->task_id[0] = '\0';
    child->finished = 0;
    child->kill_at_ms = 0;
    child->kill_reason = KILL_NONE;
    if (other_spare || sv->stopping) {
        child->dismissed = 1;
        shutdown(child->fd, SHUT_WR);
    }
    pulp_supervisor_update_credit(sv);
}

static void handle_line(supervisor_t *sv, child_t *child, const char *line)
{
    if (strcmp(line, "claimed") == 0) {
        child->state = CHILD_RUNNING;
        settle(sv, child);
    } else if (strncmp(line, "skipped", 7) == 0) {
        child->finished = 1;
        settle(sv, child);
    } else if (strncmp(line, "handoff ", 8) == 0 && pulp_uuid_is_valid(line + 8)) {
        pulp_supervisor_send_task(sv, line + 8);
    } else if (strncmp(line, "finished ", 9) == 0) {
        child->finished = 1;
    } else if (strcmp(line, "ready") == 0) {
        become_spare(sv, child);
    } else {
        pulp_log_warning("task process %d sent an unknown line \"%.64s\"", (int)child->pid, line);
    }
}

void pulp_children_read(supervisor_t *sv, child_t *child)
{
    for (;;) {
        ssize_t n = read(child->fd, child->buffer + child->used,
                         sizeof child->buffer - 1 - child->used);
        char *start;
        char *newline;

        if (n == 0)
            child->eof = 1;
        if (n <= 0)
            return;
        child->used += (size_t)n;
        child->buffer[child->used] = '\0';
        start = child->buffer;
        while ((newline = strchr(start, '\n'))) {
            *newline = '\0';
            handle_line(sv, child, start);
            start = newline + 1;
        }
        child->used -= (size_t)(start - child->buffer);
        memmove(child->buffer, start, child->used);
        if (child->used == sizeof child->buffer - 1)
            child->used = 0;
    }
}

/* Describes how a task process ended, for the error of its task. */
static const char *describe_exit(supervisor_t *sv, const child_t *child, int wait_status,
                                 char *message, size_t size)
{
    if (child->kill_reason == KILL_CANCEL) {
        snprintf(message, size, "the task was canceled and its process did not stop within "
                 "%d s, so it was killed", sv->config->cancel_grace);
        return "canceled";
    }
    if (child->kill_reason == KILL_SHUTDOWN)
        snprintf(message, size, "worker %s shut down before the task finished, so its "
                 "process was killed", sv->name);
    else if (WIFSIGNALED(wait_status))
        snprintf(message, size, "worker process exited: killed by signal %d",
                 WTERMSIG(wait_status));
    else if (WEXITSTATUS(wait_status) == PULP_CHILD_EXIT_DB_LOST)
        snprintf(message, size, "worker process exited: it lost its database connection");
    else if (WEXITSTATUS(wait_status) == PULP_CHILD_EXIT_NOT_STARTED)
        snprintf(message, size, "worker process exited: the task program %s could not start",
                 sv->task_program);
    else
        snprintf(message, size, "worker process exited with status %d",
                 WEXITSTATUS(wait_status));
    return "error";
}

static void child_exited(supervisor_t *sv, child_t *child, int wait_status)
{
    char message[256];
    const char *state;

    pulp_children_read(sv, child);
    close(child->fd);
    settle(sv, child);

    if (child->state != CHILD_SPARE && !child->finished) {
        state = describe_exit(sv, child, wait_status, message, sizeof message);
        pulp_log_warning("the process of task %s (pid %d) ended before the task did: %s",
                         child->task_id, (int)child->pid, message);
        pulp_supervisor_queue_reap(sv, child->task_id, state, message);
    }
    if (child->state == CHILD_SPARE && WIFEXITED(wait_status) &&
        (WEXITSTATUS(wait_status) == PULP_CHILD_EXIT_DB_LOST ||
         WEXITSTATUS(wait_status) == PULP_CHILD_EXIT_NOT_STARTED))
        sv->spare_retry_ms = pulp_monotonic_ms() + pulp_backoff_next(&sv->spare_backoff);
    else if (child->state != CHILD_SPARE)
        pulp_backoff_reset(&sv->spare_backoff);

    *child = sv->children[--sv->n_children];
}

void pulp_children_collect(supervisor_t *sv)
{
    int wait_status;
    pid_t pid;

    while ((pid = waitpid(-1, &wait_status, WNOHANG)) > 0) {
        for (size_t i = 0; i < sv->n_children; i++) {
            if (sv->children[i].pid == pid) {
                child_exited(sv, &sv->children[i], wait_status);
                break;
            }
        }
    }
    pulp_supervisor_update_credit(sv);
    pulp_children_ensure_spare(sv);
}

static void stop_child(supervisor_t *sv, child_t *child, int signal_number, kill_reason_t reason)
{
    if (child->kill_at_ms)
        return;
    kill(child->pid, signal_number);
    child->kill_reason = reason;
    child->kill_at_ms = pulp_monotonic_ms() + (int64_t)sv->config->cancel_grace * 1000;
}

void pulp_children_cancel(supervisor_t *sv, const char *task_id)
{
    for (size_t i = 0; i < sv->n_children; i++) {
        child_t *child = &sv->children[i];

        if (child->state == CHILD_SPARE || strcmp(child->task_id, task_id) != 0)
            continue;
        pulp_log_info("canceling task %s: signaling its process %d", task_id, (int)child->pid);
        stop_child(sv, child, SIGUSR1, KILL_CANCEL);
    }
}

void pulp_children_dismiss_spare(supervisor_t *sv)
{
    child_t *spare = find_spare(sv);

    if (!spare)
        return;
    spare->dismissed = 1;
    shutdown(spare->fd, SHUT_WR);
}

void pulp_children_abort_all(supervisor_t *sv)
{
    for (size_t i = 0; i < sv->n_children; i++) {
        child_t *child = &sv->children[i];

        if (child->state == CHILD_SPARE)
            continue;
        pulp_log_warning("stopping task %s for shutdown", child->task_id);
        stop_child(sv, child, SIGUSR2, KILL_SHUTDOWN);
    }
    pulp_children_dismiss_spare(sv);
}

void pulp_children_check_deadlines(supervisor_t *sv)
{
    int64_t now = pulp_monotonic_ms();

    for (size_t i = 0; i < sv->n_children; i++) {
        child_t *child = &sv->children[i];

        if (!child->kill_at_ms || now < child->kill_at_ms)
            continue;
        pulp_log_warning("killing the process of task %s (pid %d): it did not stop within %d s",
                         child->task_id, (int)child->pid, sv->config->cancel_grace);
        kill(child->pid, SIGKILL);
        child->kill_at_ms = INT64_MAX;
    }
}

int64_t pulp_children_next_deadline(const supervisor_t *sv)
{
    int64_t deadline = INT64_MAX;

    for (size_t i = 0; i < sv->n_children; i++) {
        int64_t at = sv->children[i].kill_at_ms;

        if (at && at != INT64_MAX && at < deadline)
            deadline = at;
    }
    if (!sv->stopping && sv->spare_needed_ms) {
        int64_t at = sv->spare_needed_ms + SPARE_DELAY_MS;

        if (sv->spare_retry_ms > at)
            at = sv->spare_retry_ms;
        if (at < deadline)
            deadline = at;
    }
    return deadline;
}
