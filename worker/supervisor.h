/* The supervisor: the long-lived process of pulp-worker. One thread runs one poll loop over
 * the broker connection, two database connections, a signalfd, and the sockets of its task
 * processes. The main database connection sends heartbeats and LISTENs for cancels; the
 * leader connection waits for or holds the housekeeping lock. */
#ifndef PULP_SUPERVISOR_H
#define PULP_SUPERVISOR_H

#include <libpq-fe.h>
#include <stdint.h>
#include <sys/types.h>

#include "amqp/pulp_amqp.h"
#include "pulp_backoff.h"
#include "pulp_uuid.h"
#include "pulp_worker_config.h"

typedef enum {
    /* Connected to the database, waiting for a task id. */
    CHILD_SPARE,
    /* Given a task id; its claim decision is not known yet. */
    CHILD_ASSIGNED,
    /* Claimed its task and runs it. */
    CHILD_RUNNING,
} child_state_t;

/* Why the supervisor killed a task process, which decides the task's final state. */
typedef enum {
    KILL_NONE,
    KILL_CANCEL,
    KILL_SHUTDOWN,
} kill_reason_t;

typedef struct child {
    pid_t pid;
    int fd;
    /* Set once the socket reported end of file: the process is exiting. */
    int eof;
    /* Set for a spare dismissed without a task: its socket is shut down, so it exits. */
    int dismissed;
    child_state_t state;
    char task_id[PULP_UUID_LENGTH + 1];
    uint64_t delivery;
    int delivery_unsettled;
    /* Set once the process reported that its task needs nothing more from the supervisor:
     * it finished, or was not started (another process runs it, or it must wait). */
    int finished;
    /* When set, the time at which a process still alive gets SIGKILL. */
    int64_t kill_at_ms;
    kill_reason_t kill_reason;
    char buffer[1024];
    size_t used;
} child_t;

/* A task whose process died and whose row may still be "running". */
typedef struct pending_reap {
    char task_id[PULP_UUID_LENGTH + 1];
    const char *state;
    char message[256];
    int64_t next_ms;
    int64_t give_up_ms;
} pending_reap_t;

#define MAX_PENDING_REAPS 256
#define MAX_LEADER_SUSPECTS 256

typedef enum {
    LEADER_DISCONNECTED,
    /* The lock request is sent; its result comes when the current leader's session ends. */
    LEADER_WAITING,
    LEADER_LEADING,
} leader_state_t;

typedef struct leader {
    PGconn *db;
    leader_state_t state;
    pulp_backoff_t backoff;
    int64_t retry_ms;
    int64_t *next_run_ms;
    /* Running tasks whose liveness lock was free at the last reaper run while their worker
     * was alive: reaped at the next run if still so, so that the worker's own supervisor,
     * which saw how the process died, gets the first chance. */
    char suspects[MAX_LEADER_SUSPECTS][PULP_UUID_LENGTH + 1];
    size_t n_suspects;
} leader_t;

typedef struct supervisor {
    const pulp_worker_config_t *config;
    const char *name;
    /* Path of the task program that task processes run. */
    char *task_program;
    /* Set when the supervisor set PGGSSENCMODE, which its task processes must not inherit. */
    int gss_encryption_defaulted;
    char hostname[256];
    pulp_amqp_t *amqp;
    int signal_fd;

    PGconn *db;
    int db_ready;
    int db_started;
    pulp_backoff_t db_backoff;
    int64_t db_retry_ms;
    int64_t heartbeat_ms;

    leader_t leader;

    child_t *children;
    size_t n_children;
    size_t max_children;
    pulp_backoff_t spare_backoff;
    int64_t spare_retry_ms;
    /* Since when a slot is free without a spare; 0 when none is needed. */
    int64_t spare_needed_ms;

    pending_reap_t reaps[MAX_PENDING_REAPS];
    size_t n_reaps;

    /* The receiver's credit, the last time a message arrived, and since when the credit has
     * been above zero: together they tell whether the queue is empty. */
    int credit;
    int64_t last_delivery_ms;
    int64_t credit_since_ms;

    int stopping;
    int64_t grace_end_ms;
    int aborting;
    int exit_status;
} supervisor_t;

/* supervisor.c */
int pulp_supervisor_run(const pulp_worker_config_t *config, const char *name);
/* Sends the dispatch message of a task; a broker that is down is only logged, since the
 * housekeeping sweeper re-sends messages of waiting tasks. */
void pulp_supervisor_send_task(supervisor_t *sv, const char *task_id);
/* Recomputes the receiver's credit: free task slots, none while stopping or without the
 * database. */
void pulp_supervisor_update_credit(supervisor_t *sv);

/* Returns 1 when the receiver has had credit and no message for a few seconds, which means
 * that the queue contains no message that this worker could take. */
int pulp_supervisor_queue_idle(const supervisor_t *sv);

/* children.c */
int pulp_children_busy(const supervisor_t *sv);
void pulp_children_assign(supervisor_t *sv, const char *task_id, uint64_t delivery);
void pulp_children_ensure_spare(supervisor_t *sv);
void pulp_children_read(supervisor_t *sv, child_t *child);
void pulp_children_collect(supervisor_t *sv);
void pulp_children_cancel(supervisor_t *sv, const char *task_id);
/* Asks every task process to stop for shutdown, and dismisses the spare. */
void pulp_children_abort_all(supervisor_t *sv);
void pulp_children_dismiss_spare(supervisor_t *sv);
void pulp_children_check_deadlines(supervisor_t *sv);
int64_t pulp_children_next_deadline(const supervisor_t *sv);

/* supervisor_db.c */
void pulp_supervisor_db_init(supervisor_t *sv);
void pulp_supervisor_db_process(supervisor_t *sv, short revents);
int pulp_supervisor_db_fd(const supervisor_t *sv);
int64_t pulp_supervisor_db_deadline(const supervisor_t *sv);
/* Queues ending the task of a dead process; tried at once and retried for a few seconds,
 * since PostgreSQL releases a dead session's locks a moment after the process dies. */
void pulp_supervisor_queue_reap(supervisor_t *sv, const char *task_id, const char *state,
                                const char *message);
void pulp_supervisor_db_close(supervisor_t *sv);

/* scheduler.c: the leader's job that dispatches due schedules. */
void pulp_scheduler_run(supervisor_t *sv, pulp_error_t *error);

/* leader.c */
void pulp_leader_init(leader_t *leader);
void pulp_leader_process(supervisor_t *sv, short revents);
int pulp_leader_fd(const supervisor_t *sv);
int64_t pulp_leader_deadline(const supervisor_t *sv);
void pulp_leader_close(leader_t *leader);

#endif
