/* The database side of a task process: claiming a task and storing its outcome.
 *
 * Each step sends its statements in one libpq pipeline, whatever their number. A claim costs
 * two round trips (check, then lock and mark running) and the end of a task one, which
 * matters because the latency between a dispatch and the task's start is mostly round trips. */
#include "worker.h"

#include <stdio.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_task.h"

/* Locks the row and reads what the claim decides on. The liveness lock is tried in the same
 * statement: a task is "running" only while its process holds that lock, and it is taken
 * before the transaction that marks the task running commits. */
static const char claim_check_sql[] =
    "SELECT t.state, t.task_type, t.args, t.resources, t.shared_resources,"
    " " PULP_TASK_BLOCKED_SQL " AS blocked,"
    " pg_try_advisory_lock(" PULP_TASK_LIVENESS_KEY_SQL("t.task_id::text") ") AS live"
    " FROM tasks t WHERE t.task_id = $1 FOR UPDATE OF t SKIP LOCKED";

/* Resource locks, exclusive or shared, in key order so that no two processes wait for each
 * other. A resource named in both lists is locked exclusively. They use a key space of their
 * own ('run:'), apart from the short transaction locks of dispatch, so that a dispatch never
 * waits for a running task. The check above ensures that only a task that just ended can
 * still hold one of them, so the wait is short. */
static const char resource_lock_sql[] =
    "SELECT count(CASE WHEN exclusive THEN pg_advisory_lock(key)::text"
    "                  ELSE pg_advisory_lock_shared(key)::text END)"
    " FROM (SELECT key, bool_or(exclusive) AS exclusive FROM ("
    "         SELECT hashtextextended('run:' || r, 0) AS key, true AS exclusive"
    "         FROM unnest($1::text[]) AS r"
    "         UNION ALL"
    "         SELECT hashtextextended('run:' || r, 0), false FROM unnest($2::text[]) AS r"
    "       ) AS wanted GROUP BY key ORDER BY key) AS keys";

static const char mark_running_sql[] =
    "UPDATE tasks SET state = 'running', worker_name = $2, start_time = clock_timestamp()"
    " WHERE task_id = $1";

static const char finish_sql[] =
    "WITH ended AS ("
    "    UPDATE tasks SET state = $2, result = $3::jsonb, error = $4::jsonb,"
    "    progress_report = coalesce($5::jsonb, progress_report),"
    "    finish_time = clock_timestamp()"
    "    WHERE task_id = $1 AND state = 'running' RETURNING schedule_id, state)"
    PULP_SCHEDULE_RECORD_END_SQL;

/* Checks the locked row; returns PULP_CLAIM_CLAIMED when the task may start now. */
static pulp_claim_outcome_t check_row(const PGresult *row, char *reason, size_t reason_size)
{
    const char *state;

    if (PQntuples(row) == 0) {
        snprintf(reason, reason_size, "the task does not exist or its row is locked");
        return PULP_CLAIM_SKIPPED;
    }
    state = pulp_db_value(row, 0, "state");
    if (strcmp(state, "waiting") != 0) {
        snprintf(reason, reason_size, "the task is already %s", state);
        return PULP_CLAIM_SKIPPED;
    }
    if (strcmp(pulp_db_value(row, 0, "live"), "t") != 0) {
        snprintf(reason, reason_size, "another process holds the task");
        return PULP_CLAIM_SKIPPED;
    }
    if (strcmp(pulp_db_value(row, 0, "blocked"), "t") == 0) {
        snprintf(reason, reason_size, "an earlier task holds one of its resources");
        return PULP_CLAIM_SKIPPED;
    }
    return PULP_CLAIM_CLAIMED;
}

/* Ends the claim's transaction and drops any lock it took; errors change nothing here. */
static void release_claim(PGconn *db)
{
    static const pulp_db_step_t steps[] = {
        { "ROLLBACK", 0, NULL },
        { "SELECT pg_advisory_unlock_all()", 0, NULL },
    };

    pulp_worker_pipeline(db, steps, 2, NULL, NULL);
}

static int has_resources(const PGresult *row)
{
    return strcmp(pulp_db_value(row, 0, "resources"), "{}") != 0 ||
           strcmp(pulp_db_value(row, 0, "shared_resources"), "{}") != 0;
}

/* Takes the resource locks and marks the task running, in the open transaction. */
static pulp_status_t mark_running(PGconn *db, const char *task_id, const char *worker_name,
                                  const PGresult *row, pulp_error_t *error)
{
    const char *lock_params[2] = { pulp_db_value(row, 0, "resources"),
                                   pulp_db_value(row, 0, "shared_resources") };
    const char *run_params[2] = { task_id, worker_name };
    pulp_db_step_t steps[3];
    int n_steps = 0;

    if (has_resources(row))
        steps[n_steps++] = (pulp_db_step_t){ resource_lock_sql, 2, lock_params };
    steps[n_steps++] = (pulp_db_step_t){ mark_running_sql, 2, run_params };
    steps[n_steps++] = (pulp_db_step_t){ "COMMIT", 0, NULL };
    return pulp_worker_pipeline(db, steps, n_steps, NULL, error);
}

pulp_claim_outcome_t pulp_worker_claim(PGconn *db, const char *task_id, const char *worker_name,
                                       PGresult **row, char *reason, size_t reason_size,
                                       pulp_error_t *error)
{
    const char *id_params[1] = { task_id };
    pulp_db_step_t steps[2] = {
        { "BEGIN", 0, NULL },
        { claim_check_sql, 1, id_params },
    };
    PGresult *results[2] = { NULL, NULL };
    pulp_claim_outcome_t outcome;

    *row = NULL;
    if (pulp_worker_pipeline(db, steps, 2, results, error) != PULP_OK) {
        PQclear(results[1]);
        release_claim(db);
        return PULP_CLAIM_FAILED;
    }
    *row = results[1];
    outcome = check_row(*row, reason, reason_size);
    if (outcome == PULP_CLAIM_CLAIMED &&
        mark_running(db, task_id, worker_name, *row, error) != PULP_OK)
        outcome = PULP_CLAIM_FAILED;
    if (outcome != PULP_CLAIM_CLAIMED)
        release_claim(db);
    return outcome;
}

pulp_status_t pulp_worker_finish(PGconn *db, const char *task_id, const char *state,
                                 const char *result_json, const char *error_json,
                                 const char *progress_json, pulp_error_t *error)
{
    const char *params[5] = { task_id, state, result_json, error_json, progress_json };
    /* The locks are released only if the outcome was stored. */
    pulp_db_step_t steps[2] = {
        { finish_sql, 5, params },
        { "SELECT pg_advisory_unlock_all()", 0, NULL },
    };

    pulp_db_rollback(db);
    return pulp_worker_pipeline(db, steps, 2, NULL, error);
}
