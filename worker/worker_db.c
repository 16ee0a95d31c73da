/* Database work shared by the supervisor and the housekeeping leader: ending the tasks of
 * dead processes, and the error documents stored in a task's "error". */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_task.h"

static pulp_status_t step_error(PGconn *conn, const PGresult *result, pulp_error_t *error)
{
    const char *message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
    const char *sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    pulp_status_t status = pulp_db_connection_lost(conn) ? PULP_ERR_UNAVAILABLE
                                                         : pulp_db_status_from_sqlstate(sqlstate);
    size_t length;

    pulp_error_set(error, status, "%s", message && *message ? message : "database error");
    length = error ? strlen(error->message) : 0;
    if (length > 0 && error->message[length - 1] == '\n')
        error->message[length - 1] = '\0';
    return status;
}

pulp_status_t pulp_worker_pipeline(PGconn *conn, const pulp_db_step_t *steps, int n_steps,
                                   PGresult **results, pulp_error_t *error)
{
    pulp_status_t status = PULP_OK;
    int sent = 0;

    if (pulp_db_connection_lost(conn))
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "the database connection is lost");
    if (!PQenterPipelineMode(conn))
        return step_error(conn, NULL, error);
    while (sent < n_steps && PQsendQueryParams(conn, steps[sent].sql, steps[sent].n_params, NULL,
                                               steps[sent].params, NULL, NULL, 0))
        sent++;
    if (sent < n_steps)
        status = step_error(conn, NULL, error);
    if (!PQpipelineSync(conn) && status == PULP_OK)
        status = step_error(conn, NULL, error);

    for (int i = 0; i < n_steps; i++) {
        PGresult *result = i < sent ? PQgetResult(conn) : NULL;
        ExecStatusType state = PQresultStatus(result);

        if (status == PULP_OK && state != PGRES_COMMAND_OK && state != PGRES_TUPLES_OK)
            status = step_error(conn, result, error);
        if (results)
            results[i] = result;
        else
            PQclear(result);
        /* Each statement's results end with a NULL. */
        if (result)
            PQclear(PQgetResult(conn));
    }
    /* The PGRES_PIPELINE_SYNC result, then the end of the pipeline. */
    PQclear(PQgetResult(conn));
    PQexitPipelineMode(conn);
    return status;
}

char *pulp_worker_error_json(const char *code, const char *description)
{
    json_object *error = json_object_new_object();
    char *text;

    json_object_object_add(error, "code", json_object_new_string(code));
    json_object_object_add(error, "description", json_object_new_string(description));
    json_object_object_add(error, "data", json_object_new_object());
    json_object_object_add(error, "sub_errors", json_object_new_array());
    text = strdup(json_object_to_json_string_ext(error, JSON_C_TO_STRING_PLAIN));
    json_object_put(error);
    return text;
}

/* NULL when the task is not running (nothing to do), else whether its lock was free. */
static const char try_liveness_sql[] =
    "SELECT CASE WHEN state = 'running'"
    " THEN pg_try_advisory_lock(" PULP_TASK_LIVENESS_KEY_SQL("task_id::text") ") END"
    " FROM tasks WHERE task_id = $1";

static const char unlock_liveness_sql[] =
    "SELECT pg_advisory_unlock(" PULP_TASK_LIVENESS_KEY_SQL("$1") ")";

static const char end_task_sql[] =
    "WITH ended AS ("
    "    UPDATE tasks SET state = $2, error = $3::jsonb, finish_time = clock_timestamp()"
    "    WHERE task_id = $1 AND state = 'running' RETURNING schedule_id, state)"
    PULP_SCHEDULE_RECORD_END_SQL;

/* Returns 1 when the lock was taken, 0 when it is held or nothing is to be done (with *done
 * set accordingly), -1 on error. */
static int lock_dead_task(PGconn *conn, const char *task_id, int *done, pulp_error_t *error)
{
    const char *params[1] = { task_id };
    PGresult *result = pulp_db_query(conn, error, try_liveness_sql, 1, params);
    int running;
    int locked;

    if (!result)
        return -1;
    running = PQntuples(result) == 1 && !PQgetisnull(result, 0, 0);
    locked = running && strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    *done = !running || locked;
    PQclear(result);
    return locked;
}

pulp_status_t pulp_worker_end_task(PGconn *conn, const char *task_id, const char *state,
                                   const char *message, pulp_error_t *error)
{
    char *error_json = pulp_worker_error_json("PLP0000", message);
    const char *params[3] = { task_id, state, error_json };
    pulp_status_t status;

    if (!error_json)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    status = pulp_db_command(conn, error, end_task_sql, 3, params);
    if (status == PULP_OK)
        pulp_log_warning("task %s ended as %s: %s", task_id, state, message);
    free(error_json);
    return status;
}

pulp_status_t pulp_worker_reap_task(PGconn *conn, const char *task_id, const char *state,
                                    const char *message, int *done,
                                    char (*handoff)[PULP_UUID_LENGTH + 1], size_t max_handoff,
                                    size_t *n_handoff, pulp_error_t *error)
{
    const char *params[1] = { task_id };
    pulp_status_t status;
    int locked;

    *n_handoff = 0;
    locked = lock_dead_task(conn, task_id, done, error);
    if (locked <= 0)
        return locked < 0 ? error->status : PULP_OK;

    status = pulp_worker_end_task(conn, task_id, state, message, error);
    pulp_db_command(conn, NULL, unlock_liveness_sql, 1, params);
    if (status != PULP_OK)
        return status;
    return pulp_task_handoff(conn, task_id, handoff, max_handoff, n_handoff, error);
}
