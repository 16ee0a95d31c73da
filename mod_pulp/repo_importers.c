/* /repositories/<id>/importers/: the repository's importer (at most one; its id is its type
 * id, as in Pulp 2).
 *
 * Adding, updating and removing an importer are changes of configuration rows only, so the
 * API applies them at once and returns 202 with a call report whose task is already finished
 * and carries the result, the shape that Pulp 2 clients wait for. */
#include "repositories.h"

#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_task.h"
#include "pulp_uuid.h"
#include "router.h"

pulp_status_t pulp_repo_set_importer(pulp_request_t *req, const char *repo_id,
                                     const char *importer_type_id, json_object *config,
                                     pulp_error_t *error)
{
    const pulp_importer_type_t *type = pulp_importer_type_find(importer_type_id);
    const char *params[3];

    if (!type)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "importer_type_id",
                               "invalid importer_type_id \"%.200s\": no such importer type",
                               importer_type_id);
    if (pulp_repo_validate_importer(type, config, error) != PULP_OK)
        return error->status;

    params[0] = repo_id;
    params[1] = type->id;
    params[2] = config ? json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN) : "{}";
    /* The sync schedules of an importer of another type would belong to no importer. */
    if (pulp_db_command(req->db, error,
                        "DELETE FROM schedules WHERE repo_id = $1 AND action = 'sync'"
                        " AND owner_id <> $2", 2, params) != PULP_OK)
        return error->status;
    /* A new importer starts over: its scratchpad and last sync belong to the old one. */
    return pulp_db_command(req->db, error,
                           "INSERT INTO importers (repo_id, importer_type_id, config)"
                           " VALUES ($1, $2, $3::jsonb)"
                           " ON CONFLICT (repo_id) DO UPDATE SET"
                           " importer_type_id = EXCLUDED.importer_type_id,"
                           " config = EXCLUDED.config, scratchpad = '{}'::jsonb,"
                           " last_sync = NULL, last_override_config = '{}'::jsonb",
                           3, params);
}

int pulp_respond_completed_task(pulp_request_t *req, const char *task_type,
                                const char *const *tags, int n_tags, const char *resource,
                                const char *result_json, pulp_error_t *error)
{
    char task_id[PULP_UUID_LENGTH + 1];
    const char *params[5];
    char *tag_array = pulp_db_text_array(tags, (size_t)n_tags);
    char *resource_array = pulp_db_text_array(&resource, 1);
    const char *ids[1] = { task_id };
    pulp_status_t status;

    if (!tag_array || !resource_array || pulp_uuid_generate(task_id) != 0) {
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not record the task");
        goto end;
    }
    params[0] = task_id;
    params[1] = task_type;
    params[2] = tag_array;
    params[3] = resource_array;
    params[4] = result_json;
    status = pulp_db_command(req->db, error,
                             "INSERT INTO tasks (task_id, seq, task_type, state, tags, resources,"
                             "                   result, start_time, finish_time)"
                             " VALUES ($1::uuid, nextval('task_seq'), $2, 'finished', $3::text[],"
                             "         $4::text[], $5::jsonb, now(), now())",
                             5, params);
    if (status == PULP_OK)
        status = pulp_db_commit(req->db, error);

end:
    free(tag_array);
    free(resource_array);
    if (status != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, error);
    }
    return pulp_send_json(req, HTTP_ACCEPTED,
                          pulp_request_own_json(req, pulp_call_report_new(ids, 1)));
}

static const char *importer_sql =
    "SELECT (" PULP_SQL_IMPORTER_DOCUMENT ")::text FROM importers i WHERE i.repo_id = $1";

/* Reads the importer document inside the current transaction, for a task's result. */
static const char *importer_document(pulp_request_t *req, const char *repo_id,
                                     pulp_error_t *error)
{
    const char *params[] = { repo_id };
    PGresult *result = pulp_db_query(req->db, error, importer_sql, 1, params);
    const char *document = "null";

    if (!result)
        return NULL;
    if (PQntuples(result) > 0)
        document = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
    PQclear(result);
    return document;
}

static int respond_importer_task(pulp_request_t *req, const char *task_type, const char *action,
                                 const char *result_json, pulp_error_t *error)
{
    const char *repo_id = req->params[0];
    const char *tags[] = {
        apr_pstrcat(req->r->pool, "pulp:repository:", repo_id, NULL),
        apr_pstrcat(req->r->pool, "pulp:repository_importer:", repo_id, NULL),
        apr_pstrcat(req->r->pool, "pulp:action:", action, NULL),
    };

    return pulp_respond_completed_task(req, task_type, tags, 3,
                                       apr_pstrcat(req->r->pool, "repository:", repo_id, NULL),
                                       result_json, error);
}

static int list_importers(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    PGresult *result;
    int found = pulp_repo_require(req, req->params[0]);
    int status;

    if (found != DECLINED)
        return found;
    result = pulp_db_query(req->db, &error, importer_sql, 1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int add_importer(pulp_request_t *req)
{
    static const char *const keys[] = { "importer_type_id", "importer_config", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    const char *repo_id = req->params[0];
    const char *type_id = NULL;
    json_object *config = NULL;
    json_object *body = pulp_request_json_object(req, &error);
    const char *document;
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "importer_type_id", 1, &type_id, &error) != PULP_OK ||
        pulp_body_object(body, "importer_config", 0, &config, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = pulp_repo_require(req, repo_id);
    if (found != DECLINED)
        return found;

    if (pulp_db_begin(req->db, &error) != PULP_OK ||
        pulp_repo_set_importer(req, repo_id, type_id, config, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    document = importer_document(req, repo_id, &error);
    if (!document) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return respond_importer_task(req, PULP_TASK_IMPORTER_SET, "add_importer", document, &error);
}

static int send_missing_importer(pulp_request_t *req)
{
    pulp_resource_name_t name = { "importer", req->params[1], "repository", req->params[0] };

    return pulp_send_missing(req, &name);
}

/* Locks the importer row named by the path; returns its type, or NULL when it is missing. */
static const pulp_importer_type_t *lock_importer(pulp_request_t *req, json_object **config,
                                                 pulp_error_t *error)
{
    const char *type_id = pulp_repo_lock_plugin(
        req, "SELECT importer_type_id, config::text FROM importers"
             " WHERE repo_id = $1 AND importer_type_id = $2 FOR UPDATE", config, error);
    const pulp_importer_type_t *type = type_id ? pulp_importer_type_find(type_id) : NULL;

    if (!type && error->status == PULP_OK)
        pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "missing importer");
    return type;
}

static int get_importer(pulp_request_t *req)
{
    const char *params[] = { req->params[0], req->params[1] };
    pulp_resource_name_t name = { "importer", req->params[1], "repository", req->params[0] };

    return pulp_send_document(req, HTTP_OK,
                              "SELECT (" PULP_SQL_IMPORTER_DOCUMENT ")::text FROM importers i"
                              " WHERE i.repo_id = $1 AND i.importer_type_id = $2",
                              2, params, &name);
}

static int update_importer(pulp_request_t *req)
{
    static const char *const keys[] = { "importer_config", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *delta = NULL;
    json_object *current = NULL;
    json_object *merged;
    const pulp_importer_type_t *type;
    json_object *body = pulp_request_json_object(req, &error);
    const char *params[2] = { req->params[0], NULL };
    const char *document;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_object(body, "importer_config", 1, &delta, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    type = lock_importer(req, &current, &error);
    if (!type) {
        pulp_db_rollback(req->db);
        if (error.status == PULP_ERR_MISSING_RESOURCE) {
            pulp_error_clear(&error);
            return send_missing_importer(req);
        }
        return pulp_send_error_clear(req, &error);
    }

    merged = pulp_request_own_json(req, pulp_config_merge(current, delta));
    params[1] = json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN);
    if (pulp_repo_validate_importer(type, merged, &error) != PULP_OK ||
        pulp_db_command(req->db, &error,
                        "UPDATE importers SET config = $2::jsonb WHERE repo_id = $1", 2,
                        params) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    document = importer_document(req, req->params[0], &error);
    if (!document) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return respond_importer_task(req, PULP_TASK_IMPORTER_UPDATE, "update_importer", document,
                                 &error);
}

/* Removing the importer also removes its sync schedules. */
static int remove_importer(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0], req->params[1] };
    json_object *current = NULL;

    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!lock_importer(req, &current, &error)) {
        pulp_db_rollback(req->db);
        if (error.status == PULP_ERR_MISSING_RESOURCE) {
            pulp_error_clear(&error);
            return send_missing_importer(req);
        }
        return pulp_send_error_clear(req, &error);
    }
    if (pulp_db_command(req->db, &error,
                        "DELETE FROM schedules WHERE repo_id = $1 AND action = 'sync'"
                        " AND owner_id = $2", 2, params) != PULP_OK ||
        pulp_db_command(req->db, &error, "DELETE FROM importers WHERE repo_id = $1", 1,
                        params) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return respond_importer_task(req, PULP_TASK_IMPORTER_REMOVE, "delete_importer", "null",
                                 &error);
}

const pulp_route_t pulp_repo_importer_routes[] = {
    { "GET", "/repositories/{repo_id}/importers/", list_importers, PULP_OPERATION_READ },
    { "POST", "/repositories/{repo_id}/importers/", add_importer, PULP_OPERATION_CREATE },
    { "GET", "/repositories/{repo_id}/importers/{importer_id}/", get_importer,
      PULP_OPERATION_READ },
    { "PUT", "/repositories/{repo_id}/importers/{importer_id}/", update_importer,
      PULP_OPERATION_UPDATE },
    { "DELETE", "/repositories/{repo_id}/importers/{importer_id}/", remove_importer,
      PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
