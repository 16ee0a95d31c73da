/* The task process: a forked child of the supervisor that runs one task at a time.
 *
 * It opens its own database session before it gets a task, so a task starts without the
 * cost of a connection. Then, for the task id the supervisor writes on the shared socket:
 *
 * 1. in one transaction it locks the row (FOR UPDATE SKIP LOCKED), takes the task's liveness
 *    lock, checks that the task is waiting and that no unfinished task with a lower seq
 *    conflicts with it, takes the resource locks and marks it running (claim.c). A task is
 *    "running" only while its process holds the liveness lock, which is how the reapers
 *    tell a dead task from a live one. The supervisor accepts the message only after this
 *    transaction ends, whatever it decided;
 * 2. it runs the task kind, writes the final state, result and error in one statement,
 *    releases its locks, and reports the waiting tasks that may start now (the hand-off).
 *
 * Then it reports "ready" and waits for the next task id, unless it ran many tasks already or
 * a task left it larger than it started: a process is reused to save a fork and a database
 * session per task, not to keep what a task allocated.
 *
 * Lines written to the supervisor: "claimed", "skipped <reason>", "handoff <task id>",
 * "finished <state>", "ready". */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_task.h"
#include "task_kinds.h"

/* Hand-off messages sent at the end of one task, at most. */
#define MAX_HANDOFF 64
/* A task process ends after this many tasks, or once its resident memory grew by more than
 * MAX_GROWTH_KIB since it connected, so that what tasks keep is returned by exiting. */
#define MAX_TASKS_PER_PROCESS 1000
#define MAX_GROWTH_KIB 8192

typedef struct runner {
    const pulp_worker_config_t *config;
    const char *worker_name;
    int fd;
    PGconn *db;
    char task_id[PULP_UUID_LENGTH + 1];
    PGresult *row;
    /* Resident memory once connected, before any task. */
    long baseline_kib;
} runner_t;

/* --- talking to the supervisor -------------------------------------------------------------- */

static void report(runner_t *runner, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void report(runner_t *runner, const char *format, ...)
{
    char line[512];
    va_list args;
    int length;

    va_start(args, format);
    length = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (length < 0)
        return;
    if ((size_t)length > sizeof line - 2)
        length = sizeof line - 2;
    /* Error messages from libpq span lines; the supervisor reads one line per report. */
    for (int i = 0; i < length; i++) {
        if (line[i] == '\n' || line[i] == '\t' || line[i] == '\r')
            line[i] = ' ';
    }
    line[length++] = '\n';
    /* One write per line, so the supervisor never reads a line cut by another. */
    while (write(runner->fd, line, (size_t)length) < 0 && errno == EINTR)
        continue;
}

/* Reads the "task <id>" line; returns 0, or -1 when the supervisor closed the socket. */
static int read_task_id(runner_t *runner)
{
    char line[64];
    size_t used = 0;

    while (used < sizeof line - 1) {
        ssize_t n = read(runner->fd, line + used, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (line[used] == '\n')
            break;
        used++;
    }
    line[used] = '\0';
    if (strncmp(line, "task ", 5) != 0 || !pulp_uuid_is_valid(line + 5))
        return -1;
    memcpy(runner->task_id, line + 5, PULP_UUID_LENGTH);
    runner->task_id[PULP_UUID_LENGTH] = '\0';
    return 0;
}

/* Returns the resident memory of this process in KiB, or 0 when unknown. */
static long resident_kib(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    long size = 0;
    long resident = 0;

    if (!statm)
        return 0;
    if (fscanf(statm, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(statm);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Opens a new session after the one opened before the task arrived was lost (the server
 * restarted meanwhile); no lock was held on it yet. Returns 1 on success. */
static int reconnect(runner_t *runner)
{
    pulp_error_t error = PULP_ERROR_INIT;

    PQclear(runner->row);
    runner->row = NULL;
    PQfinish(runner->db);
    runner->db = pulp_db_connect(runner->config->database, "pulp-worker task", &error);
    if (!runner->db)
        pulp_log_error("%s", error.message);
    pulp_error_clear(&error);
    return runner->db != NULL;
}

/* Claims the task. When the session was lost while waiting for it (the server restarted),
 * tries once more on a new session, which is safe because the old one held no lock yet. */
static pulp_claim_outcome_t claim(runner_t *runner, char *reason, size_t reason_size,
                                  pulp_error_t *error)
{
    pulp_claim_outcome_t outcome = pulp_worker_claim(runner->db, runner->task_id,
                                                     runner->worker_name, &runner->row, reason,
                                                     reason_size, error);

    if (outcome == PULP_CLAIM_FAILED && pulp_db_connection_lost(runner->db) && reconnect(runner))
        outcome = pulp_worker_claim(runner->db, runner->task_id, runner->worker_name,
                                    &runner->row, reason, reason_size, error);
    return outcome;
}

/* --- running -------------------------------------------------------------------------------- */

static json_object *parse_args(const char *text)
{
    json_object *args = text ? json_tokener_parse(text) : NULL;

    return args ? args : json_object_new_object();
}

static pulp_status_t run_kind(runner_t *runner, pulp_task_context_t *ctx, json_object **result,
                              pulp_error_t *error)
{
    const char *task_type = pulp_db_value(runner->row, 0, "task_type");
    const pulp_task_kind_t *kind = pulp_task_kind_find(task_type);

    if (!kind)
        return pulp_error_set(error, PULP_ERR_NOT_IMPLEMENTED,
                              "worker %s cannot run tasks of type \"%s\"", runner->worker_name,
                              task_type);
    if (kind == &pulp_task_kind_diagnostic && !runner->config->diagnostic_tasks)
        return pulp_error_set(error, PULP_ERR_NOT_IMPLEMENTED,
                              "diagnostic tasks are disabled on worker %s", runner->worker_name);
    return kind->run(ctx, result, error);
}

static const char *final_state(pulp_status_t status, PGconn *db)
{
    if (status == PULP_OK)
        return "finished";
    if (status == PULP_ERR_CANCELED && !pulp_task_context_aborted() &&
        !pulp_db_connection_lost(db))
        return "canceled";
    return "error";
}

/* Says in the task's error why a task stopped when the worker, not the task, decided it. */
static void explain_stop(runner_t *runner, pulp_error_t *error)
{
    char cause[sizeof error->message];

    snprintf(cause, sizeof cause, "%s", error->message);
    if (pulp_task_context_aborted())
        pulp_error_set(error, PULP_ERR_INTERNAL, "worker %s shut down before the task finished: %s",
                       runner->worker_name, cause);
    else if (pulp_db_connection_lost(runner->db))
        pulp_error_set(error, PULP_ERR_INTERNAL,
                       "the task stopped because its database session ended: %s", cause);
}

/* Writes the final state and releases the task's locks. Returns -1 on failure, and then the
 * process must exit so that its session ends and releases the locks. */
static int store_outcome(runner_t *runner, pulp_task_context_t *ctx, const char *state,
                         json_object *result, const pulp_error_t *task_error)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char *error_json = NULL;
    const char *params[5];
    int rc = 0;

    if (strcmp(state, "error") == 0)
        error_json = pulp_worker_error_json(pulp_status_code(task_error->status),
                                            task_error->message);
    params[0] = runner->task_id;
    params[1] = state;
    params[2] = result ? json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN) : NULL;
    params[3] = error_json;
    params[4] = pulp_task_context_progress(ctx);

    if (pulp_worker_finish(runner->db, params[0], params[1], params[2], params[3], params[4],
                           &error) != PULP_OK) {
        pulp_log_error("could not store the outcome of the task (%s): %s", state, error.message);
        rc = -1;
    }
    pulp_error_clear(&error);
    free(error_json);
    return rc;
}

/* Reports the tasks that may start now that this one released its locks. */
static void hand_off(runner_t *runner, pulp_task_context_t *ctx)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char ids[MAX_HANDOFF][PULP_UUID_LENGTH + 1];
    const char (*spawned)[PULP_UUID_LENGTH + 1];
    size_t n_spawned = pulp_task_context_spawned(ctx, &spawned);
    size_t n_ids = 0;

    if (pulp_task_handoff_for(runner->db, pulp_db_value(runner->row, 0, "resources"),
                              pulp_db_value(runner->row, 0, "shared_resources"), ids, MAX_HANDOFF,
                              &n_ids, &error) != PULP_OK)
        pulp_log_warning("could not find the tasks to start next: %s", error.message);
    for (size_t i = 0; i < n_ids; i++)
        report(runner, "handoff %s", ids[i]);
    /* A spawned task blocked by another resource is not among the hand-off ids; its message
     * is sent anyway, and its claim decides. */
    for (size_t i = 0; i < n_spawned; i++)
        report(runner, "handoff %s", spawned[i]);
    pulp_error_clear(&error);
}

/* Logs the final state of the task, with the reason of a failure at error level. */
static void log_outcome(const char *state, pulp_status_t status, const pulp_error_t *error)
{
    if (status == PULP_OK)
        pulp_log_info("%s", state);
    else if (strcmp(state, "error") == 0)
        pulp_log_error("%s: %s", state, error->message);
    else
        pulp_log_info("%s: %s", state, error->message);
}

static int run_claimed(runner_t *runner)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *args = parse_args(pulp_db_value(runner->row, 0, "args"));
    pulp_task_context_t *ctx = pulp_task_context_new(runner->db, runner->task_id, args,
                                                     runner->config->storage_dir,
                                                     runner->worker_name,
                                                     runner->config->queue);
    json_object *result = NULL;
    pulp_status_t status;
    const char *state;
    int exit_status = PULP_CHILD_EXIT_OK;

    pulp_log_info("started %s", pulp_db_value(runner->row, 0, "task_type"));
    status = ctx ? run_kind(runner, ctx, &result, &error)
                 : pulp_error_set(&error, PULP_ERR_INTERNAL, "out of memory");
    if (status != PULP_OK)
        explain_stop(runner, &error);
    state = final_state(status, runner->db);

    if (ctx && store_outcome(runner, ctx, state, result, &error) == 0) {
        hand_off(runner, ctx);
        report(runner, "finished %s", state);
        log_outcome(state, status, &error);
    } else {
        exit_status = pulp_db_connection_lost(runner->db) ? PULP_CHILD_EXIT_DB_LOST
                                                          : PULP_CHILD_EXIT_FAILED;
    }

    json_object_put(result);
    json_object_put(args);
    pulp_task_context_free(ctx);
    pulp_error_clear(&error);
    return exit_status;
}

/* --- process setup -------------------------------------------------------------------------- */

/* The supervisor decides when a task stops: SIGUSR1 cancels, SIGUSR2 aborts for shutdown.
 * SIGTERM and SIGINT sent to the whole process group (a terminal's Ctrl-C, a service manager
 * that signals every process) are ignored, so they reach the tasks only through the
 * supervisor's shutdown policy. */
static void setup_signals(void)
{
    struct sigaction action = { 0 };
    sigset_t all;

    action.sa_handler = pulp_task_context_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGUSR2, &action, NULL);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
}

/* Returns 1 when this process may take another task: it did not run too many yet, the last
 * task left its memory as it found it (only exiting returns what a task kept), and its
 * session could be reset. DISCARD ALL drops whatever the task left in the session (settings,
 * temporary tables, prepared statements, locks); it cannot run in a pipeline. */
static int reusable(runner_t *runner, int tasks_run)
{
    return tasks_run < MAX_TASKS_PER_PROCESS && !pulp_task_context_aborted() &&
           !pulp_db_connection_lost(runner->db) &&
           resident_kib() <= runner->baseline_kib + MAX_GROWTH_KIB &&
           pulp_db_discard_session(runner->db, NULL) == PULP_OK;
}

/* Claims and runs one task; returns the exit status the process should end with, or -1 to
 * go on with the next task. */
static int handle_task(runner_t *runner)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char reason[256] = "";
    pulp_claim_outcome_t outcome;
    int exit_status = -1;

    pulp_task_context_reset_signals();
    pulp_worker_log_set_task(runner->task_id);
    pulp_proctitle_set("pulp-worker: task %s", runner->task_id);

    outcome = claim(runner, reason, sizeof reason, &error);
    if (outcome == PULP_CLAIM_CLAIMED) {
        report(runner, "claimed");
        exit_status = run_claimed(runner);
        if (exit_status == PULP_CHILD_EXIT_OK)
            exit_status = -1;
    } else if (outcome == PULP_CLAIM_SKIPPED) {
        pulp_log_debug("not started: %s", reason);
        report(runner, "skipped %s", reason);
    } else {
        pulp_log_error("could not claim the task: %s", error.message);
        report(runner, "skipped %s", error.message);
        exit_status = pulp_db_connection_lost(runner->db) ? PULP_CHILD_EXIT_DB_LOST
                                                          : PULP_CHILD_EXIT_FAILED;
    }

    PQclear(runner->row);
    runner->row = NULL;
    pulp_worker_log_set_task(NULL);
    pulp_proctitle_set("pulp-worker: waiting for a task");
    pulp_error_clear(&error);
    return exit_status;
}

int pulp_runner_main(const pulp_worker_config_t *config, const char *worker_name, int fd)
{
    runner_t runner = { .config = config, .worker_name = worker_name, .fd = fd };
    pulp_error_t error = PULP_ERROR_INIT;
    int exit_status = PULP_CHILD_EXIT_OK;

    setup_signals();
    pulp_proctitle_set_name("pulp-task");
    pulp_proctitle_set("pulp-worker: waiting for a task");
    runner.db = pulp_db_connect(config->database, "pulp-worker task", &error);
    if (!runner.db) {
        pulp_log_error("%s", error.message);
        pulp_error_clear(&error);
        return PULP_CHILD_EXIT_DB_LOST;
    }
    runner.baseline_kib = resident_kib();

    for (int tasks_run = 1; read_task_id(&runner) == 0; tasks_run++) {
        exit_status = handle_task(&runner);
        if (exit_status >= 0)
            break;
        exit_status = PULP_CHILD_EXIT_OK;
        if (!reusable(&runner, tasks_run))
            break;
        report(&runner, "ready");
    }

    PQfinish(runner.db);
    return exit_status;
}
