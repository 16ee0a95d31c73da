#include "pulp_task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"

/* One statement, so one round trip: the aggregate consumes every lock row, in key order,
 * before nextval() is evaluated for the single row that is inserted. The transaction-level
 * locks are released by the statement's own commit. */
static const char insert_sql[] =
    "INSERT INTO tasks (task_id, seq, task_type, tags, resources, shared_resources, args,"
    "                   schedule_id, queue)"
    " SELECT $1::uuid, nextval('task_seq'), $2, $3::text[], $4::text[], $5::text[],"
    "        $6::jsonb, $7::uuid, $8"
    " FROM (SELECT count(*) FROM ("
    "         SELECT pg_advisory_xact_lock(key) FROM ("
    "             SELECT DISTINCT hashtextextended(resource, 0) AS key"
    "             FROM unnest($4::text[] || $5::text[]) AS resource"
    "             ORDER BY key) AS keys) AS locked) AS all_locked";

pulp_status_t pulp_task_insert(PGconn *conn, const pulp_task_spec_t *spec,
                               char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    char *tags = NULL;
    char *resources = NULL;
    char *shared = NULL;
    const char *args;
    pulp_status_t status;

    if (pulp_uuid_generate(task_id) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not generate a task id");

    tags = pulp_db_text_array(spec->tags, spec->n_tags);
    resources = pulp_db_text_array(spec->resources, spec->n_resources);
    shared = pulp_db_text_array(spec->shared_resources, spec->n_shared_resources);
    if (!tags || !resources || !shared) {
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }

    args = spec->args ? json_object_to_json_string_ext(spec->args, JSON_C_TO_STRING_PLAIN)
                      : "{}";
    {
        const char *params[] = {
            task_id, spec->task_type, tags, resources, shared, args, spec->schedule_id,
            spec->queue,
        };

        PGresult *result = pulp_db_query_prepared(conn, error, insert_sql, 8, params);

        status = result ? PULP_OK : error->status;
        PQclear(result);
    }

end:
    free(tags);
    free(resources);
    free(shared);
    return status;
}

void pulp_repo_task_init(pulp_repo_task_t *task, const char *task_type, const char *action,
                         const char *repo_id, const char *extra_tag, json_object *args)
{
    size_t n_tags = 0;

    memset(task, 0, sizeof *task);
    snprintf(task->resource, sizeof task->resource, "repository:%s", repo_id);
    snprintf(task->repository_tag, sizeof task->repository_tag, "pulp:repository:%s", repo_id);
    snprintf(task->action_tag, sizeof task->action_tag, "pulp:action:%s", action);
    task->tags[n_tags++] = task->repository_tag;
    if (extra_tag)
        task->tags[n_tags++] = extra_tag;
    task->tags[n_tags++] = task->action_tag;
    task->resources[0] = task->resource;

    task->spec.task_type = task_type;
    task->spec.tags = task->tags;
    task->spec.n_tags = n_tags;
    task->spec.resources = task->resources;
    task->spec.n_resources = 1;
    task->spec.args = args;
}

json_object *pulp_repo_action_args_new(const char *repo_id, const char *distributor_id,
                                       json_object *override_config)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "repo_id", json_object_new_string(repo_id));
    if (distributor_id)
        json_object_object_add(args, "distributor_id", json_object_new_string(distributor_id));
    json_object_object_add(args, "override_config", override_config
                                                        ? json_object_get(override_config)
                                                        : json_object_new_object());
    return args;
}

static const char held_resources_sql[] =
    "SELECT resources, shared_resources FROM tasks"
    " WHERE task_id = $1 AND cardinality(resources || shared_resources) > 0";

/* The resources are a parameter, not a subquery, so that the planner uses the partial GIN
 * indexes on the waiting tasks' resources instead of reading every waiting task. */
static const char handoff_sql[] =
    "SELECT t.task_id FROM tasks t"
    " WHERE t.state = 'waiting'"
    " AND (t.resources && ($1::text[] || $2::text[]) OR t.shared_resources && ($1 || $2))"
    " AND NOT " PULP_TASK_BLOCKED_SQL
    " ORDER BY t.seq LIMIT $3";

pulp_status_t pulp_task_handoff(PGconn *conn, const char *task_id,
                                char (*ids)[PULP_UUID_LENGTH + 1], size_t max_ids,
                                size_t *n_ids, pulp_error_t *error)
{
    const char *params[1] = { task_id };
    PGresult *held;
    pulp_status_t status = PULP_OK;

    *n_ids = 0;
    held = pulp_db_query(conn, error, held_resources_sql, 1, params);
    if (!held)
        return error->status;
    if (PQntuples(held) == 1)
        status = pulp_task_handoff_for(conn, PQgetvalue(held, 0, 0), PQgetvalue(held, 0, 1), ids,
                                       max_ids, n_ids, error);
    PQclear(held);
    return status;
}

pulp_status_t pulp_task_handoff_for(PGconn *conn, const char *resources,
                                    const char *shared_resources,
                                    char (*ids)[PULP_UUID_LENGTH + 1], size_t max_ids,
                                    size_t *n_ids, pulp_error_t *error)
{
    char limit[32];
    const char *params[3] = { resources, shared_resources, limit };
    PGresult *result;

    *n_ids = 0;
    if (strcmp(resources, "{}") == 0 && strcmp(shared_resources, "{}") == 0)
        return PULP_OK;
    snprintf(limit, sizeof limit, "%zu", max_ids);
    result = pulp_db_query(conn, error, handoff_sql, 3, params);
    if (!result)
        return error->status;
    for (int row = 0; row < PQntuples(result) && *n_ids < max_ids; row++)
        snprintf(ids[(*n_ids)++], PULP_UUID_LENGTH + 1, "%s", PQgetvalue(result, row, 0));
    PQclear(result);
    return PULP_OK;
}

static const char cancel_waiting_sql[] =
    "UPDATE tasks SET state = 'canceled', finish_time = clock_timestamp()"
    " WHERE task_id = $1 AND state = 'waiting'";

/* One statement, so the flag and the notification commit together. */
static const char cancel_running_sql[] =
    "WITH requested AS ("
    "    UPDATE tasks SET cancel_requested = true"
    "    WHERE task_id = $1 AND state = 'running' RETURNING task_id)"
    " SELECT pg_notify('" PULP_TASK_CANCEL_CHANNEL "', task_id::text) FROM requested";

static const char task_state_sql[] = "SELECT state FROM tasks WHERE task_id = $1";

/* Runs sql for task_id and returns the number of rows it touched, or -1 on error. */
static int affected_rows(PGconn *conn, const char *sql, const char *task_id, pulp_error_t *error)
{
    const char *params[1] = { task_id };
    PGresult *result = pulp_db_query(conn, error, sql, 1, params);
    int rows;

    if (!result)
        return -1;
    rows = PQresultStatus(result) == PGRES_TUPLES_OK ? PQntuples(result)
                                                     : atoi(PQcmdTuples(result));
    PQclear(result);
    return rows;
}

pulp_status_t pulp_task_cancel(PGconn *conn, const char *task_id,
                               pulp_task_cancel_result_t *outcome, pulp_error_t *error)
{
    const char *params[1] = { task_id };
    PGresult *result;
    int rows;

    /* A task can move from waiting to running between the two updates, never back, so the
     * second one catches a task that a worker claimed in between. */
    rows = affected_rows(conn, cancel_waiting_sql, task_id, error);
    if (rows != 0) {
        *outcome = PULP_TASK_CANCELED_WAITING;
        return rows < 0 ? error->status : PULP_OK;
    }
    rows = affected_rows(conn, cancel_running_sql, task_id, error);
    if (rows != 0) {
        *outcome = PULP_TASK_CANCEL_REQUESTED;
        return rows < 0 ? error->status : PULP_OK;
    }

    result = pulp_db_query(conn, error, task_state_sql, 1, params);
    if (!result)
        return error->status;
    if (PQntuples(result) == 0) {
        PQclear(result);
        return pulp_error_missing(error, "task", task_id, NULL, NULL);
    }
    pulp_error_set(error, PULP_ERR_TASK_COMPLETE,
                   "task \"%s\" has already completed (state %s): only waiting and running tasks "
                   "can be canceled", task_id, PQgetvalue(result, 0, 0));
    PQclear(result);
    return error->status;
}

json_object *pulp_task_link_new(const char *task_id)
{
    char href[sizeof "/pulp/api/v2/tasks//" + PULP_UUID_LENGTH];
    json_object *link = json_object_new_object();

    snprintf(href, sizeof href, "/pulp/api/v2/tasks/%s/", task_id);
    json_object_object_add(link, "_href", json_object_new_string(href));
    json_object_object_add(link, "task_id", json_object_new_string(task_id));
    return link;
}

json_object *pulp_call_report_new(const char *const *task_ids, size_t n_task_ids)
{
    json_object *report = json_object_new_object();
    json_object *spawned = json_object_new_array();

    for (size_t i = 0; i < n_task_ids; i++)
        json_object_array_add(spawned, pulp_task_link_new(task_ids[i]));

    json_object_object_add(report, "result", NULL);
    json_object_object_add(report, "error", NULL);
    json_object_object_add(report, "spawned_tasks", spawned);
    return report;
}
