/* Housekeeping: one worker of the deployment is the leader and runs the periodic jobs below.
 *
 * Every supervisor keeps a second database session that sends
 * pg_advisory_lock(hashtextextended('pulp:housekeeper', 0)) and waits for its result without
 * polling. PostgreSQL grants the lock to one waiting session the moment the leader's session
 * ends, so another worker takes over within a round trip after the leader dies, and waiting
 * costs no statement at all. The jobs run on the session that holds the lock. */
#include "supervisor.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_task.h"
#include "worker.h"

#define LEADER_RETRY_INITIAL_MS 250
#define LEADER_RETRY_MAX_MS 5000
#define MAX_HANDOFF 64
/* Waiting tasks that the sweeper re-sends per run, at most. */
#define SWEEP_LIMIT "500"

static const char leader_lock_sql[] =
    "SELECT pg_advisory_lock(hashtextextended('pulp:housekeeper', 0))";

/* A backend that waits for a lock reads nothing from its client. Without this check, the
 * session of a worker that exited or died keeps waiting, and keeps its connection slot, until
 * the lock is granted to it. PostgreSQL 14 added the setting, and an older server rejects it,
 * which changes nothing else. */
static const char connection_check_sql[] = "SET client_connection_check_interval = '5s'";

typedef struct leader_job {
    const char *name;
    int interval_ms;
    void (*run)(supervisor_t *sv, pulp_error_t *error);
} leader_job_t;

/* --- reaper --------------------------------------------------------------------------------- */

/* Running tasks whose liveness lock this session can take: no process holds them any more.
 * OFFSET 0 keeps the planner from calling pg_try_advisory_lock on rows that are not running.
 * worker_gone is true when the whole worker's session ended as well. */
static const char dead_tasks_sql[] =
    "SELECT r.task_id, r.worker_name,"
    " pg_try_advisory_lock(hashtextextended('worker:' || coalesce(r.worker_name, ''), 0))"
    "   AS worker_gone"
    " FROM (SELECT task_id, worker_name FROM tasks WHERE state = 'running' OFFSET 0) AS r"
    " WHERE pg_try_advisory_lock(" PULP_TASK_LIVENESS_KEY_SQL("r.task_id::text") ")";

static const char unlock_task_sql[] =
    "SELECT pg_advisory_unlock(" PULP_TASK_LIVENESS_KEY_SQL("$1") ")";

static const char unlock_worker_sql[] =
    "SELECT pg_advisory_unlock(hashtextextended('worker:' || $1, 0))";

static int was_suspect(const leader_t *leader, const char *task_id)
{
    for (size_t i = 0; i < leader->n_suspects; i++) {
        if (strcmp(leader->suspects[i], task_id) == 0)
            return 1;
    }
    return 0;
}

static void end_dead_task(supervisor_t *sv, const char *task_id, const char *message,
                          pulp_error_t *error)
{
    char handoff[MAX_HANDOFF][PULP_UUID_LENGTH + 1];
    size_t n_handoff = 0;

    if (pulp_worker_end_task(sv->leader.db, task_id, "error", message, error) != PULP_OK ||
        pulp_task_handoff(sv->leader.db, task_id, handoff, MAX_HANDOFF, &n_handoff, error) !=
            PULP_OK)
        return;
    for (size_t i = 0; i < n_handoff; i++)
        pulp_supervisor_send_task(sv, handoff[i]);
}

/* Decides about one dead task; returns 1 when it becomes a suspect for the next run. */
static int judge_dead_task(supervisor_t *sv, PGresult *rows, int row, pulp_error_t *error)
{
    const char *task_id = PQgetvalue(rows, row, 0);
    const char *worker = PQgetisnull(rows, row, 1) ? "" : PQgetvalue(rows, row, 1);
    int worker_gone = strcmp(PQgetvalue(rows, row, 2), "t") == 0;
    const char *params[1];
    char message[512];
    int suspect = 0;

    if (worker_gone) {
        snprintf(message, sizeof message, "worker %s is gone: its database session ended",
                 worker);
        end_dead_task(sv, task_id, message, error);
        params[0] = worker;
        pulp_db_command(sv->leader.db, NULL, unlock_worker_sql, 1, params);
    } else if (was_suspect(&sv->leader, task_id)) {
        snprintf(message, sizeof message, "worker process exited: worker %s did not report "
                 "how its task process ended", worker);
        end_dead_task(sv, task_id, message, error);
    } else {
        suspect = 1;
    }
    params[0] = task_id;
    pulp_db_command(sv->leader.db, NULL, unlock_task_sql, 1, params);
    return suspect;
}

static void reap_dead_tasks(supervisor_t *sv, pulp_error_t *error)
{
    leader_t *leader = &sv->leader;
    PGresult *rows = pulp_db_query(leader->db, error, dead_tasks_sql, 0, NULL);
    char suspects[MAX_LEADER_SUSPECTS][PULP_UUID_LENGTH + 1];
    size_t n_suspects = 0;

    if (!rows)
        return;
    for (int row = 0; row < PQntuples(rows); row++) {
        if (judge_dead_task(sv, rows, row, error) && n_suspects < MAX_LEADER_SUSPECTS)
            snprintf(suspects[n_suspects++], PULP_UUID_LENGTH + 1, "%s",
                     PQgetvalue(rows, row, 0));
    }
    PQclear(rows);
    memcpy(leader->suspects, suspects, n_suspects * sizeof suspects[0]);
    leader->n_suspects = n_suspects;
}

/* --- sweeper -------------------------------------------------------------------------------- */

/* The sweeper re-sends the message of a waiting task that nothing blocks when the message is
 * most likely lost: the broker was down at dispatch, or a hand-off never arrived. A message
 * still queued behind a backlog is left alone, because each duplicate costs a claim:
 *
 * - when this worker's receiver has had free credit and no message for a while, the queue is
 *   empty, so every such task older than 5 s lost its message (the delay doubles after each
 *   re-send, up to 320 s);
 * - otherwise a task still waiting 10 s after a task dispatched later (higher seq) started was
 *   passed over by the queue, which is first in, first out; anything else waits 300 s,
 *   doubling up to 80 min. */
#define SWEEP_UPDATE_SQL(candidates)                                                            \
    "UPDATE tasks SET dispatched = now(), dispatch_count = dispatch_count + 1"                 \
    " WHERE task_id IN (" candidates ") AND state = 'waiting' RETURNING task_id"

static const char sweep_idle_sql[] = SWEEP_UPDATE_SQL(
    "SELECT t.task_id FROM tasks t WHERE t.state = 'waiting'"
    " AND t.dispatched < now() - interval '5 seconds'"
    " AND t.dispatched < now() - interval '5 seconds' * power(2, least(t.dispatch_count - 1, 6))"
    " AND NOT " PULP_TASK_BLOCKED_SQL
    " ORDER BY t.seq LIMIT " SWEEP_LIMIT);

static const char sweep_busy_sql[] = SWEEP_UPDATE_SQL(
    "(SELECT t.task_id FROM tasks t WHERE t.state = 'waiting' AND t.dispatch_count = 1"
    "  AND t.seq < (SELECT max(seq) FROM tasks WHERE start_time > now() - interval '10 seconds')"
    "  AND t.dispatched < now() - interval '10 seconds'"
    "  AND NOT " PULP_TASK_BLOCKED_SQL " ORDER BY t.seq LIMIT " SWEEP_LIMIT ")"
    " UNION "
    "(SELECT t.task_id FROM tasks t WHERE t.state = 'waiting'"
    "  AND t.dispatched < now() - interval '300 seconds'"
    "  AND t.dispatched < now() - interval '300 seconds'"
    "                             * power(2, least(t.dispatch_count - 1, 4))"
    "  AND NOT " PULP_TASK_BLOCKED_SQL " ORDER BY t.seq LIMIT " SWEEP_LIMIT ")");

static void sweep_waiting_tasks(supervisor_t *sv, pulp_error_t *error)
{
    PGresult *rows;
    const char *sql = pulp_supervisor_queue_idle(sv) ? sweep_idle_sql : sweep_busy_sql;

    if (!pulp_amqp_connected(sv->amqp))
        return;
    rows = pulp_db_query(sv->leader.db, error, sql, 0, NULL);
    if (!rows)
        return;
    if (PQntuples(rows) > 0)
        pulp_log_info("re-sending the dispatch messages of %d waiting tasks", PQntuples(rows));
    for (int row = 0; row < PQntuples(rows); row++)
        pulp_supervisor_send_task(sv, PQgetvalue(rows, row, 0));
    PQclear(rows);
}

/* --- workers and old tasks ------------------------------------------------------------------ */

static const char missing_workers_sql[] =
    "UPDATE workers SET missing = true"
    " WHERE NOT missing AND last_heartbeat < now() - interval '30 seconds' RETURNING name";

/* A worker killed without its clean exit leaves its row, and the default names contain the
 * pid, so rows of missing workers are deleted after a day, which leaves time to look into
 * the cause. Their tasks do not depend on the row: the reaper judges tasks by their locks. */
static const char forget_workers_sql[] =
    "DELETE FROM workers WHERE missing AND last_heartbeat < now() - interval '1 day'"
    " RETURNING name";

static void check_missing_workers(supervisor_t *sv, pulp_error_t *error)
{
    PGresult *rows = pulp_db_query(sv->leader.db, error, missing_workers_sql, 0, NULL);

    if (!rows)
        return;
    for (int row = 0; row < PQntuples(rows); row++)
        pulp_log_warning("worker %s is missing: no heartbeat for 30 s", PQgetvalue(rows, row, 0));
    PQclear(rows);

    rows = pulp_db_query(sv->leader.db, error, forget_workers_sql, 0, NULL);
    if (!rows)
        return;
    for (int row = 0; row < PQntuples(rows); row++)
        pulp_log_info("deleted the row of worker %s: missing for more than a day",
                      PQgetvalue(rows, row, 0));
    PQclear(rows);
}

static const char purge_sql[] =
    "DELETE FROM tasks WHERE task_id IN ("
    "    SELECT task_id FROM tasks"
    "    WHERE state IN ('finished', 'error', 'canceled', 'skipped')"
    "    AND finish_time < now() - make_interval(secs => $1::double precision)"
    "    LIMIT 10000)";

static void purge_completed_tasks(supervisor_t *sv, pulp_error_t *error)
{
    char age[32];
    const char *params[1] = { age };
    PGresult *result;

    snprintf(age, sizeof age, "%ld", sv->config->completed_task_max_age);
    result = pulp_db_query(sv->leader.db, error, purge_sql, 1, params);
    if (!result)
        return;
    if (atoi(PQcmdTuples(result)) > 0)
        pulp_log_info("deleted %s tasks completed more than %s s ago", PQcmdTuples(result), age);
    PQclear(result);
}

/* The leader's jobs and how often each runs. Add a job with one line here. */
static const leader_job_t leader_jobs[] = {
    { "reaper", 1000, reap_dead_tasks },
    { "scheduler", 1000, pulp_scheduler_run },
    { "sweeper", 2000, sweep_waiting_tasks },
    { "missing workers", 10000, check_missing_workers },
    { "completed tasks purge", 600000, purge_completed_tasks },
};

#define N_LEADER_JOBS (sizeof leader_jobs / sizeof leader_jobs[0])

/* --- the leader session --------------------------------------------------------------------- */

void pulp_leader_init(leader_t *leader)
{
    memset(leader, 0, sizeof *leader);
    leader->next_run_ms = calloc(N_LEADER_JOBS, sizeof *leader->next_run_ms);
    pulp_backoff_init(&leader->backoff, LEADER_RETRY_INITIAL_MS, LEADER_RETRY_MAX_MS);
}

void pulp_leader_close(leader_t *leader)
{
    PQfinish(leader->db);
    leader->db = NULL;
    leader->state = LEADER_DISCONNECTED;
    free(leader->next_run_ms);
    leader->next_run_ms = NULL;
}

static void lose_session(leader_t *leader, const char *reason)
{
    int delay = pulp_backoff_next(&leader->backoff);

    if (leader->state == LEADER_LEADING)
        pulp_log_warning("no longer the housekeeping leader: %s", reason);
    else
        pulp_log_warning("could not wait for the housekeeping lock: %s; retrying in %d ms",
                         reason, delay);
    PQfinish(leader->db);
    leader->db = NULL;
    leader->state = LEADER_DISCONNECTED;
    leader->retry_ms = pulp_monotonic_ms() + delay;
    leader->n_suspects = 0;
}

static void request_lock(supervisor_t *sv)
{
    leader_t *leader = &sv->leader;
    pulp_error_t error = PULP_ERROR_INIT;
    char application_name[64];

    snprintf(application_name, sizeof application_name, "pulp-worker %s housekeeping", sv->name);
    leader->db = pulp_db_connect(sv->config->database, application_name, &error);
    if (!leader->db) {
        lose_session(leader, error.message);
        pulp_error_clear(&error);
        return;
    }
    pulp_db_command(leader->db, NULL, connection_check_sql, 0, NULL);
    if (!PQsendQueryParams(leader->db, leader_lock_sql, 0, NULL, NULL, NULL, NULL, 0)) {
        lose_session(leader, PQerrorMessage(leader->db));
        return;
    }
    leader->state = LEADER_WAITING;
}

/* Reads the result of the lock request once it arrived. */
static void check_lock(supervisor_t *sv)
{
    leader_t *leader = &sv->leader;
    PGresult *result;
    int granted;

    if (!PQconsumeInput(leader->db)) {
        lose_session(leader, PQerrorMessage(leader->db));
        return;
    }
    if (PQisBusy(leader->db))
        return;
    result = PQgetResult(leader->db);
    granted = PQresultStatus(result) == PGRES_TUPLES_OK;
    if (!granted)
        lose_session(leader, PQresultErrorMessage(result));
    PQclear(result);
    if (!granted)
        return;
    while ((result = PQgetResult(leader->db)))
        PQclear(result);

    leader->state = LEADER_LEADING;
    pulp_backoff_reset(&leader->backoff);
    memset(leader->next_run_ms, 0, N_LEADER_JOBS * sizeof *leader->next_run_ms);
    pulp_log_info("became leader: running housekeeping for the deployment");
}

static void run_due_jobs(supervisor_t *sv)
{
    leader_t *leader = &sv->leader;
    int64_t now = pulp_monotonic_ms();

    for (size_t i = 0; i < N_LEADER_JOBS && leader->state == LEADER_LEADING; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        if (now < leader->next_run_ms[i])
            continue;
        leader->next_run_ms[i] = now + leader_jobs[i].interval_ms;
        leader_jobs[i].run(sv, &error);
        if (pulp_db_connection_lost(leader->db))
            lose_session(leader, error.message[0] ? error.message : "connection lost");
        else if (error.status != PULP_OK)
            pulp_log_error("housekeeping job \"%s\" failed: %s", leader_jobs[i].name,
                           error.message);
        pulp_error_clear(&error);
    }
}

/* Ends the housekeeping session when the worker starts to stop. Its running tasks may keep
 * it alive for a while, and another worker takes over the housekeeping meanwhile. */
static void step_down(leader_t *leader)
{
    if (leader->state == LEADER_LEADING)
        pulp_log_info("stopping: leaving the housekeeping to another worker");
    PQfinish(leader->db);
    leader->db = NULL;
    leader->state = LEADER_DISCONNECTED;
    leader->n_suspects = 0;
}

void pulp_leader_process(supervisor_t *sv, short revents)
{
    leader_t *leader = &sv->leader;

    if (sv->stopping) {
        if (leader->db)
            step_down(leader);
        return;
    }
    if (leader->state == LEADER_DISCONNECTED) {
        if (pulp_monotonic_ms() >= leader->retry_ms)
            request_lock(sv);
        return;
    }
    if (leader->state == LEADER_WAITING) {
        if (revents & (POLLIN | POLLERR | POLLHUP))
            check_lock(sv);
        return;
    }
    if ((revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(leader->db)) {
        lose_session(leader, PQerrorMessage(leader->db));
        return;
    }
    run_due_jobs(sv);
}

int pulp_leader_fd(const supervisor_t *sv)
{
    return sv->leader.db ? PQsocket(sv->leader.db) : -1;
}

int64_t pulp_leader_deadline(const supervisor_t *sv)
{
    const leader_t *leader = &sv->leader;
    int64_t deadline = INT64_MAX;

    if (sv->stopping)
        return INT64_MAX;
    if (leader->state == LEADER_DISCONNECTED)
        return leader->retry_ms;
    if (leader->state == LEADER_WAITING)
        return INT64_MAX;
    for (size_t i = 0; i < N_LEADER_JOBS; i++) {
        if (leader->next_run_ms[i] < deadline)
            deadline = leader->next_run_ms[i];
    }
    return deadline;
}
