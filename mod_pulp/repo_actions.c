/* /repositories/<id>/actions/sync/ and /actions/publish/ (tasks) and the sync and publish
 * history. */
#include "repositories.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "dispatch.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_task.h"
#include "router.h"

/* Reads the type and configuration of the repository's importer or of one distributor;
 * sends 404 when the repository or the plugin is missing. Returns DECLINED when found. */
static int read_plugin(pulp_request_t *req, const char *sql, int n_params,
                       const char *const *params, const pulp_resource_name_t *name,
                       const char **type_id, json_object **config)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *result;
    int found = pulp_repo_require(req, req->params[0]);

    if (found != DECLINED)
        return found;
    result = pulp_db_query(req->db, &error, sql, n_params, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0) {
        PQclear(result);
        return pulp_send_missing(req, name);
    }
    *type_id = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
    *config = pulp_request_own_json(req, json_tokener_parse(PQgetvalue(result, 0, 1)));
    PQclear(result);
    return DECLINED;
}

/* The override is checked like a configuration: merged into the stored one, the result must
 * pass the plugin's validation. */
static int sync_repository(pulp_request_t *req)
{
    static const char *const keys[] = { "override_config", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    pulp_resource_name_t name = { "importer", NULL, "repository", req->params[0] };
    json_object *body = pulp_request_json_object(req, &error);
    json_object *override = NULL;
    json_object *config = NULL;
    json_object *args;
    const char *type_id = NULL;
    const pulp_importer_type_t *type;
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_object(body, "override_config", 0, &override, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = read_plugin(req, "SELECT importer_type_id, config::text FROM importers"
                             " WHERE repo_id = $1", 1, params, &name, &type_id, &config);
    if (found != DECLINED)
        return found;

    type = pulp_importer_type_find(type_id);
    if (!type) {
        pulp_error_set(&error, PULP_ERR_INTERNAL, "importer type \"%s\" is not registered",
                       type_id);
        return pulp_send_error_clear(req, &error);
    }
    if (pulp_importer_check_sync(type, config, override, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    args = pulp_request_own_json(req, pulp_repo_action_args_new(params[0], NULL, override));
    return pulp_repo_dispatch(req, PULP_TASK_REPO_SYNC, "sync", NULL, args);
}

static int publish_repository(pulp_request_t *req)
{
    static const char *const keys[] = { "id", "override_config", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    json_object *override = NULL;
    json_object *config = NULL;
    json_object *args;
    const char *distributor_id = NULL;
    const char *type_id = NULL;
    const char *params[2];
    pulp_resource_name_t name = { "distributor", NULL, "repository", req->params[0] };
    const pulp_distributor_type_t *type;
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "id", 1, &distributor_id, &error) != PULP_OK ||
        pulp_body_object(body, "override_config", 0, &override, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    params[0] = req->params[0];
    params[1] = distributor_id;
    name.id = distributor_id;
    found = read_plugin(req, "SELECT distributor_type_id, config::text FROM distributors"
                             " WHERE repo_id = $1 AND distributor_id = $2", 2, params, &name,
                        &type_id, &config);
    if (found != DECLINED)
        return found;

    type = pulp_distributor_type_find(type_id);
    if (!type || pulp_distributor_check_publish(type, config, override, &error) != PULP_OK) {
        if (!type)
            pulp_error_set(&error, PULP_ERR_INTERNAL,
                           "distributor type \"%s\" is not registered", type_id);
        return pulp_send_error_clear(req, &error);
    }

    args = pulp_request_own_json(req, pulp_repo_action_args_new(params[0], distributor_id,
                                                                override));
    return pulp_repo_dispatch(req, PULP_TASK_REPO_PUBLISH, "publish", NULL, args);
}

#define RESULT_COMMON \
    " 'id', h.id::text, 'repo_id', h.repo_id, 'result', h.result," \
    " 'started', " PULP_SQL_TIMESTAMP("h.started") "," \
    " 'completed', " PULP_SQL_TIMESTAMP("h.completed") "," \
    " 'summary', h.summary, 'details', h.details, 'error_message', h.error_message," \
    " 'exception', h.exception, 'traceback', h.traceback"

#define SYNC_RESULT_DOCUMENT \
    "jsonb_build_object(" RESULT_COMMON ", 'importer_id', h.importer_type_id," \
    " 'importer_type_id', h.importer_type_id, 'added_count', h.added_count," \
    " 'removed_count', h.removed_count, 'updated_count', h.updated_count," \
    " '_ns', 'repo_sync_results')"

#define PUBLISH_RESULT_DOCUMENT \
    "jsonb_build_object(" RESULT_COMMON ", 'distributor_id', h.distributor_id," \
    " 'distributor_type_id', h.distributor_type_id, '_ns', 'repo_publish_results')"

/* The history's query arguments: sort (ascending or descending by start, default
 * descending), limit, start_date and end_date (ISO 8601). */
typedef struct history_query {
    const char *descending;
    const char *limit;
    const char *start_date;
    const char *end_date;
} history_query_t;

static pulp_status_t read_history_query(pulp_request_t *req, history_query_t *query,
                                        pulp_error_t *error)
{
    const char *sort = pulp_request_query(req, "sort");
    char *end = NULL;

    query->descending = "t";
    if (sort && strcmp(sort, "ascending") == 0)
        query->descending = "f";
    else if (sort && strcmp(sort, "descending") != 0)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "sort",
                               "invalid sort \"%.50s\": expected ascending or descending", sort);

    query->limit = pulp_request_query(req, "limit");
    if (query->limit && (strtol(query->limit, &end, 10) < 1 || *end || !*query->limit))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "limit",
                               "invalid limit \"%.50s\": expected a positive integer",
                               query->limit);
    query->start_date = pulp_request_query(req, "start_date");
    query->end_date = pulp_request_query(req, "end_date");
    return PULP_OK;
}

static int send_history(pulp_request_t *req, const char *document, const char *table,
                        const char *distributor_id)
{
    pulp_error_t error = PULP_ERROR_INIT;
    history_query_t query = { 0 };
    const char *params[6];
    PGresult *result;
    const char *sql;
    int status;

    if (read_history_query(req, &query, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    params[0] = req->params[0];
    params[1] = query.descending;
    params[2] = query.limit;
    params[3] = query.start_date;
    params[4] = query.end_date;
    params[5] = distributor_id;
    sql = apr_pstrcat(req->r->pool,
                      "SELECT (", document, ")::text FROM ", table, " h WHERE h.repo_id = $1",
                      " AND ($4::timestamptz IS NULL OR h.started >= $4::timestamptz)",
                      " AND ($5::timestamptz IS NULL OR h.started <= $5::timestamptz)",
                      distributor_id ? " AND h.distributor_id = $6" : "",
                      " ORDER BY CASE WHEN $2::boolean THEN h.started END DESC,",
                      " h.started ASC, h.id LIMIT $3::bigint", NULL);
    result = pulp_db_query(req->db, &error, sql, distributor_id ? 6 : 5, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int sync_history(pulp_request_t *req)
{
    int found = pulp_repo_require(req, req->params[0]);

    if (found != DECLINED)
        return found;
    return send_history(req, SYNC_RESULT_DOCUMENT, "repo_sync_results", NULL);
}

static int publish_history(pulp_request_t *req)
{
    const char *params[] = { req->params[0], req->params[1] };
    pulp_resource_name_t name = { "distributor", req->params[1], "repository", req->params[0] };
    const char *type_id = NULL;
    json_object *config = NULL;
    int found = read_plugin(req, "SELECT distributor_type_id, config::text FROM distributors"
                                 " WHERE repo_id = $1 AND distributor_id = $2", 2, params, &name,
                            &type_id, &config);

    if (found != DECLINED)
        return found;
    return send_history(req, PUBLISH_RESULT_DOCUMENT, "repo_publish_results", req->params[1]);
}

const pulp_route_t pulp_repo_action_routes[] = {
    { "POST", "/repositories/{repo_id}/actions/sync/", sync_repository, PULP_OPERATION_EXECUTE },
    { "POST", "/repositories/{repo_id}/actions/publish/", publish_repository,
      PULP_OPERATION_EXECUTE },
    { "GET", "/repositories/{repo_id}/history/sync/", sync_history, PULP_OPERATION_READ },
    { "GET", "/repositories/{repo_id}/history/publish/{distributor_id}/", publish_history,
      PULP_OPERATION_READ },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
