/* /tasks/: task reports, cancel, search and purge; /diagnostics/tasks/: the diagnostic task
 * kind that the test suite dispatches when PulpDiagnosticTasks is On.
 *
 * Task reports are built by PostgreSQL as JSON in the shape of Pulp 2's task report, so a
 * list of any length costs one query and no parsing here. */
#include "mod_pulp.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "body.h"
#include "dispatch.h"
#include "doc_cache.h"
#include "pulp_db.h"
#include "pulp_task.h"
#include "router.h"
#include "search.h"

APLOG_USE_MODULE(pulp);

/* Hand-off messages sent after a waiting task is canceled, at most. */
#define MAX_HANDOFF 64

#define TIME_SQL(column) \
    "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The task report of the row aliased t. */
#define TASK_DOCUMENT_SQL                                                                        \
    "jsonb_build_object("                                                                       \
    "'_href', '/pulp/api/v2/tasks/' || t.task_id || '/',"                                       \
    " 'task_id', t.task_id, 'task_type', t.task_type, 'state', t.state, 'tags', t.tags,"        \
    " 'queue', t.queue, 'worker_name', t.worker_name,"                                          \
    " 'start_time', " TIME_SQL("t.start_time") ", 'finish_time', " TIME_SQL("t.finish_time") "," \
    " 'progress_report', t.progress_report, 'result', t.result, 'error', t.error,"             \
    " 'exception', t.exception, 'traceback', t.traceback,"                                      \
    " 'spawned_tasks', (SELECT coalesce(jsonb_agg(jsonb_build_object("                          \
    "     '_href', '/pulp/api/v2/tasks/' || s.id || '/', 'task_id', s.id) ORDER BY s.n),"       \
    "     '[]'::jsonb) FROM unnest(t.spawned_tasks) WITH ORDINALITY AS s(id, n)))"

static const pulp_criteria_field_t task_fields[] = {
    { "task_id", "t.task_id::text", PULP_FIELD_TEXT },
    { "task_type", "t.task_type", PULP_FIELD_TEXT },
    { "state", "t.state", PULP_FIELD_TEXT },
    { "tags", "t.tags", PULP_FIELD_TEXT_ARRAY },
    { "queue", "t.queue", PULP_FIELD_TEXT },
    { "worker_name", "t.worker_name", PULP_FIELD_TEXT },
    { "start_time", "t.start_time", PULP_FIELD_TIMESTAMP },
    { "finish_time", "t.finish_time", PULP_FIELD_TIMESTAMP },
    { "progress_report", "t.progress_report", PULP_FIELD_JSON },
    { "result", "t.result", PULP_FIELD_JSON },
    { "error", "t.error", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const char *const always_fields[] = { "_href", "task_id", NULL };

static const pulp_search_t task_search = {
    TASK_DOCUMENT_SQL,
    "tasks t",
    "t.seq",
    task_fields,
    always_fields,
    NULL,
    NULL,
    0,
};

static const char *const completed_states[] = { "finished", "error", "canceled", "skipped", NULL };

static int send_missing_task(pulp_request_t *req, const char *task_id)
{
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_error_missing(&error, "task", task_id, NULL, NULL);
    return pulp_send_error_clear(req, &error);
}

/* Runs sql, a fixed statement kept prepared, and sends its single row, a JSON document, or
 * an error. */
static int send_document(pulp_request_t *req, const char *sql, int n_params,
                         const char *const *params, const char *missing_task)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGconn *db = pulp_request_db(req, &error);
    PGresult *result = db ? pulp_db_query_prepared(db, &error, sql, n_params, params) : NULL;
    int status;

    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0)
        status = send_missing_task(req, missing_task);
    else
        status = pulp_send_json_text(req, HTTP_OK, PQgetvalue(result, 0, 0));
    PQclear(result);
    return status;
}

/* GET /tasks/: every task, oldest first; "?tag=a&tag=b" keeps those carrying all the tags. */
static int list_tasks(pulp_request_t *req)
{
    static const char sql[] =
        "SELECT coalesce(jsonb_agg(" TASK_DOCUMENT_SQL " ORDER BY t.seq), '[]'::jsonb)::text"
        " FROM tasks t WHERE t.tags @> $1::text[]";
    apr_array_header_t *tags = pulp_request_query_all(req, "tag");
    char *literal = pulp_db_text_array((const char *const *)tags->elts, (size_t)tags->nelts);
    const char *params[1];
    int status;

    if (!literal)
        return pulp_send_error_status(req, PULP_ERR_INTERNAL, "out of memory");
    params[0] = apr_pstrdup(req->r->pool, literal);
    free(literal);
    status = send_document(req, sql, 1, params, "");
    return status;
}

/* Reports of completed tasks kept per child: clients poll a task until it completes and
 * scripts read it again afterwards, while a completed report changes only if it is removed. */
#define REPORT_CACHE_SLOTS 512

static pulp_doc_cache_t *report_cache;

void pulp_tasks_child_init(apr_pool_t *pool)
{
    report_cache = pulp_doc_cache_create(pool, REPORT_CACHE_SLOTS, PULP_CHANGES_TASKS);
}

/* GET /tasks/<id>/: the report, from the cache once the task has completed. The credential
 * check has caught up with the notifications (change_notices.h). */
static int get_task(pulp_request_t *req)
{
    static const char sql[] = "SELECT " TASK_DOCUMENT_SQL "::text,"
                              " t.state IN ('finished', 'error', 'canceled', 'skipped')"
                              " FROM tasks t WHERE t.task_id = $1";
    pulp_error_t error = PULP_ERROR_INIT;
    const char *task_id = req->params[0];
    PGresult *result;
    PGconn *db;
    unsigned long epoch;
    const char *text;
    int status;

    if (!pulp_uuid_is_valid(task_id))
        return send_missing_task(req, task_id);
    text = pulp_doc_cache_get(report_cache, task_id, req->r->pool, &epoch);
    if (text)
        return pulp_send_json_text(req, HTTP_OK, text);

    db = pulp_request_db(req, &error);
    result = db ? pulp_db_query_prepared(db, &error, sql, 1, &task_id) : NULL;
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0) {
        status = send_missing_task(req, task_id);
    } else {
        text = PQgetvalue(result, 0, 0);
        if (strcmp(PQgetvalue(result, 0, 1), "t") == 0)
            pulp_doc_cache_put(report_cache, task_id, epoch, text);
        status = pulp_send_json_text(req, HTTP_OK, text);
    }
    PQclear(result);
    return status;
}

/* Sends the dispatch messages of the waiting tasks that the canceled one was blocking. */
static void hand_off(pulp_request_t *req, PGconn *db, const char *task_id)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char ids[MAX_HANDOFF][PULP_UUID_LENGTH + 1];
    size_t n_ids = 0;

    if (pulp_task_handoff(db, task_id, ids, MAX_HANDOFF, &n_ids, &error) != PULP_OK)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                      "could not find the tasks that canceled task %s was blocking: %s", task_id,
                      error.message);
    for (size_t i = 0; i < n_ids; i++)
        pulp_dispatch_send(req, ids[i]);
    pulp_error_clear(&error);
}

/* DELETE /tasks/<id>/: cancels a waiting or running task. */
static int cancel_task(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *task_id = req->params[0];
    pulp_task_cancel_result_t outcome;
    PGconn *db;

    if (!pulp_uuid_is_valid(task_id))
        return send_missing_task(req, task_id);
    db = pulp_request_db(req, &error);
    if (!db || pulp_task_cancel(db, task_id, &outcome, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, req->r, "request %s: %s task %s", req->request_id,
                  outcome == PULP_TASK_CANCELED_WAITING ? "canceled" : "requested cancel of",
                  task_id);
    if (outcome == PULP_TASK_CANCELED_WAITING)
        hand_off(req, db, task_id);
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int search_tasks(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = NULL;
    json_object *criteria = pulp_search_criteria(req, NULL, &body, &error);

    if (error.status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return pulp_search_send(req, &task_search, criteria);
}

static int is_completed_state(const char *state)
{
    for (size_t i = 0; completed_states[i]; i++) {
        if (strcmp(state, completed_states[i]) == 0)
            return 1;
    }
    return 0;
}

/* DELETE /tasks/?state=finished&state=error: deletes completed tasks in the given states, or
 * in every completed state when none is given. */
static int purge_tasks(pulp_request_t *req)
{
    static const char sql[] = "DELETE FROM tasks WHERE state = ANY ($1::text[])";
    apr_array_header_t *states = pulp_request_query_all(req, "state");
    pulp_error_t error = PULP_ERROR_INIT;
    const char *const *names = completed_states;
    size_t n_names = sizeof completed_states / sizeof completed_states[0] - 1;
    const char *params[1];
    char *literal;
    PGconn *db;

    for (int i = 0; i < states->nelts; i++) {
        const char *state = APR_ARRAY_IDX(states, i, const char *);

        if (!is_completed_state(state)) {
            pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "state",
                            "invalid state \"%s\": only completed tasks (finished, error, "
                            "canceled, skipped) can be deleted", state);
            return pulp_send_error_clear(req, &error);
        }
    }
    if (states->nelts > 0) {
        names = (const char *const *)states->elts;
        n_names = (size_t)states->nelts;
    }
    literal = pulp_db_text_array(names, n_names);
    if (!literal)
        return pulp_send_error_status(req, PULP_ERR_INTERNAL, "out of memory");
    params[0] = apr_pstrdup(req->r->pool, literal);
    free(literal);

    db = pulp_request_db(req, &error);
    if (!db || pulp_db_command(db, &error, sql, 1, params) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return pulp_send_json_text(req, HTTP_NO_CONTENT, "");
}

/* --- diagnostic tasks ----------------------------------------------------------------------- */

static pulp_status_t read_seconds(json_object *body, double *seconds, pulp_error_t *error)
{
    json_object *value = NULL;

    *seconds = 0;
    if (!json_object_object_get_ex(body, "seconds", &value) || !value)
        return PULP_OK;
    if (!json_object_is_type(value, json_type_int) && !json_object_is_type(value, json_type_double))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "seconds",
                               "invalid \"seconds\": expected a number");
    *seconds = json_object_get_double(value);
    if (*seconds < 0 || *seconds > 86400)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "seconds",
                               "invalid \"seconds\": expected 0 to 86400");
    return PULP_OK;
}

static pulp_status_t check_diagnostic_body(json_object *body, const char **action,
                                           const char **resource, const char **shared,
                                           pulp_error_t *error)
{
    static const char *const keys[] = { "action", "seconds", "resource", "shared_resource",
                                        "signal", NULL };
    static const char *const actions[] = { "sleep", "fail", "crash", "noop", NULL };
    double seconds;

    if (pulp_body_require_object(body, "the request body", error) != PULP_OK ||
        pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_string(body, "action", 1, action, error) != PULP_OK ||
        pulp_body_string(body, "resource", 0, resource, error) != PULP_OK ||
        pulp_body_string(body, "shared_resource", 0, shared, error) != PULP_OK ||
        read_seconds(body, &seconds, error) != PULP_OK)
        return error->status;
    for (size_t i = 0; actions[i]; i++) {
        if (strcmp(*action, actions[i]) == 0)
            return PULP_OK;
    }
    return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "action",
                           "invalid action \"%s\": expected sleep, fail, crash or noop", *action);
}

/* POST /diagnostics/tasks/ {"action", "seconds", "resource", "shared_resource", "signal"}:
 * dispatches a diagnostic task holding resource exclusively and shared_resource shared. */
static int dispatch_diagnostic(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_task_spec_t spec = { 0 };
    const char *action = NULL;
    const char *resource = NULL;
    const char *shared = NULL;
    const char *tags[3] = { "pulp:action:diagnostic" };
    json_object *body;

    if (!req->config->diagnostic_tasks)
        return pulp_send_error_status(req, PULP_ERR_MISSING_RESOURCE, "no resource at %s "
                                      "(diagnostic tasks are disabled: PulpDiagnosticTasks Off)",
                                      req->r->uri);
    body = pulp_request_json_body(req, &error);
    if (!body || check_diagnostic_body(body, &action, &resource, &shared, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    spec.task_type = PULP_TASK_DIAGNOSTIC;
    spec.tags = tags;
    spec.n_tags = 1;
    if (resource) {
        tags[spec.n_tags++] = apr_pstrcat(req->r->pool, "pulp:", resource, NULL);
        spec.resources = &resource;
        spec.n_resources = 1;
    }
    if (shared) {
        tags[spec.n_tags++] = apr_pstrcat(req->r->pool, "pulp:", shared, NULL);
        spec.shared_resources = &shared;
        spec.n_shared_resources = 1;
    }
    spec.args = body;
    return pulp_dispatch_and_respond(req, &spec);
}

const pulp_route_t pulp_task_routes[] = {
    { "GET", "/tasks/", list_tasks, PULP_OPERATION_READ },
    { "DELETE", "/tasks/", purge_tasks, PULP_OPERATION_DELETE },
    { "GET", "/tasks/search/", search_tasks, PULP_OPERATION_READ },
    { "POST", "/tasks/search/", search_tasks, PULP_OPERATION_READ },
    { "GET", "/tasks/{task_id}/", get_task, PULP_OPERATION_READ },
    { "DELETE", "/tasks/{task_id}/", cancel_task, PULP_OPERATION_DELETE },
    { "POST", "/diagnostics/tasks/", dispatch_diagnostic, PULP_OPERATION_CREATE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
