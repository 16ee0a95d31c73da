/* Declarations shared by the files of pulp-worker: logging, the task process (runner.c),
 * the supervisor's database work (worker_db.c) and housekeeping (leader.c). */
#ifndef PULP_WORKER_H
#define PULP_WORKER_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "pulp_error.h"
#include "pulp_uuid.h"
#include "pulp_worker_config.h"

/* Exit statuses of a task process, read by the supervisor. */
#define PULP_CHILD_EXIT_OK 0
#define PULP_CHILD_EXIT_DB_LOST 3
#define PULP_CHILD_EXIT_FAILED 4
/* The task program could not be started, or could not read its settings. */
#define PULP_CHILD_EXIT_NOT_STARTED 5

/* The task program's file name; the supervisor runs it from its own directory. */
#define PULP_TASK_PROGRAM "pulp-task"

/* Sends log lines to stderr as "<UTC time> <level> <worker name>[ task <id>]: <message>". */
void pulp_worker_log_init(const char *worker_name);
/* Adds the task id to every following line of this process; NULL removes it. */
void pulp_worker_log_set_task(const char *task_id);

/* Keeps the memory of the command line for pulp_proctitle_set; call at the start of main. */
void pulp_proctitle_init(int argc, char **argv);
/* Replaces the process title shown by ps, cut to the length of the original command line. */
void pulp_proctitle_set(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Sets the short name (at most 15 characters) that ps -o comm and pgrep match. */
void pulp_proctitle_set_name(const char *name);

/* Sends the settings of a new task process on fd, its socket (task_settings.c); returns 0, or
 * -1 when the socket failed or a setting contains a line break. */
int pulp_task_settings_send(int fd, const pulp_worker_config_t *config);
/* Reads the settings sent by pulp_task_settings_send into config. */
pulp_status_t pulp_task_settings_receive(int fd, pulp_worker_config_t *config,
                                         pulp_error_t *error);

/* Runs a task process: connects to the database, reads "task <id>" lines from fd (the
 * socket shared with the supervisor), claims and runs that task, and reports on fd. Returns
 * the process exit status. */
int pulp_runner_main(const pulp_worker_config_t *config, const char *worker_name, int fd);

/* One statement of a pipeline: its SQL and its parameters. */
typedef struct pulp_db_step {
    const char *sql;
    int n_params;
    const char *const *params;
} pulp_db_step_t;

/* Sends the statements in one round trip (libpq pipeline mode) and waits for all results.
 * results, when not NULL, receives one result per step (cleared by the caller; NULL for a
 * step that did not run). Fails at the first failing statement; the later ones are skipped
 * by the server. error may be NULL. */
pulp_status_t pulp_worker_pipeline(PGconn *conn, const pulp_db_step_t *steps, int n_steps,
                                   PGresult **results, pulp_error_t *error);

typedef enum {
    PULP_CLAIM_CLAIMED,
    /* Not started, and nothing to do: another process runs it, it already ended, or an
     * earlier task must end first (whose end sends its message again). */
    PULP_CLAIM_SKIPPED,
    PULP_CLAIM_FAILED,
} pulp_claim_outcome_t;

/* Claims a waiting task for this session (claim.c): takes its liveness lock and resource
 * locks and marks it running, or leaves it as it was. *row receives the task's row (state,
 * task_type, args, resources, shared_resources) unless the claim failed; the caller clears
 * it. reason receives why a task was skipped. */
pulp_claim_outcome_t pulp_worker_claim(PGconn *db, const char *task_id, const char *worker_name,
                                       PGresult **row, char *reason, size_t reason_size,
                                       pulp_error_t *error);

/* The statement that follows "WITH ended AS (UPDATE tasks ... RETURNING schedule_id, state)"
 * when a task ends: it records the end of a scheduled task on its schedule. A failure (error)
 * adds one to consecutive_failures and disables the schedule when the count reaches its
 * failure_threshold (null or 0: never), and a success (finished) resets the count. A canceled
 * task changes neither. */
#define PULP_SCHEDULE_RECORD_END_SQL                                                            \
    " UPDATE schedules s SET"                                                                  \
    " consecutive_failures = CASE WHEN e.state = 'finished' THEN 0"                            \
    "                             ELSE s.consecutive_failures + 1 END,"                        \
    " enabled = s.enabled AND NOT (e.state = 'error' AND coalesce(s.failure_threshold, 0) > 0" \
    "                              AND s.consecutive_failures + 1 >= s.failure_threshold)"     \
    " FROM ended e WHERE s.id = e.schedule_id AND e.state IN ('finished', 'error')"

/* Stores a running task's final state, result, error and last progress report (JSON texts or
 * NULL), then releases the task's locks. */
pulp_status_t pulp_worker_finish(PGconn *db, const char *task_id, const char *state,
                                 const char *result_json, const char *error_json,
                                 const char *progress_json, pulp_error_t *error);

/* Ends a running task as state (error or canceled) with message as its error description;
 * the caller holds the task's liveness lock. Does nothing when the task is not running. */
pulp_status_t pulp_worker_end_task(PGconn *conn, const char *task_id, const char *state,
                                   const char *message, pulp_error_t *error);

/* Marks a running task whose process died as ended, if its liveness lock is free: state
 * (error or canceled) with message as the error description. Sets *done to 1 when the row is
 * no longer running afterwards, 0 when its liveness lock is still held (try again later).
 * On success appends the tasks to dispatch next to handoff (at most max_handoff ids). */
pulp_status_t pulp_worker_reap_task(PGconn *conn, const char *task_id, const char *state,
                                    const char *message, int *done,
                                    char (*handoff)[PULP_UUID_LENGTH + 1], size_t max_handoff,
                                    size_t *n_handoff, pulp_error_t *error);

/* The task context of a task process (task_context.c). */
struct pulp_task_context;
struct pulp_task_context *pulp_task_context_new(PGconn *db, const char *task_id,
                                                json_object *args, const char *storage_dir,
                                                const char *worker_name, const char *queue);
void pulp_task_context_free(struct pulp_task_context *ctx);
/* The last progress report given by the task, as JSON text, or NULL. */
const char *pulp_task_context_progress(struct pulp_task_context *ctx);
/* Returns the number of tasks spawned so far and points *ids at their ids. */
size_t pulp_task_context_spawned(struct pulp_task_context *ctx,
                                 const char (**ids)[PULP_UUID_LENGTH + 1]);
/* Signal handler for SIGUSR1 (cancel requested) and SIGUSR2 (the worker shuts down): only
 * sets a flag that pulp_task_cancel_requested() reads. */
void pulp_task_context_on_signal(int signal_number);
/* Forgets a cancel signal meant for the previous task of this process. */
void pulp_task_context_reset_signals(void);
/* Returns 1 when SIGUSR2 asked the task to stop because the worker shuts down. */
int pulp_task_context_aborted(void);

/* Returns a new Pulp error document {code, description, data, sub_errors} for a task. */
char *pulp_worker_error_json(const char *code, const char *description);

#endif
