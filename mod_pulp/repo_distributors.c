/* /repositories/<id>/distributors/: add (201), read, update (applied at once, 202 with a
 * finished task) and remove (a task: the worker removes the distributor's published tree,
 * then its row). */
#include "repositories.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "dispatch.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_task.h"
#include "pulp_uuid.h"
#include "router.h"

void pulp_repo_map_path_conflict(pulp_error_t *error)
{
    if (error->status != PULP_ERR_DUPLICATE_RESOURCE ||
        !strstr(error->message, "distributors_relative_url"))
        return;
    pulp_error_clear(error);
    pulp_body_error(error, PULP_ERR_INVALID_VALUE, "relative_url",
                    "invalid relative_url: another repository publishes at the same path");
}

/* Fails when another distributor (of any repository) publishes at the same path. */
static pulp_status_t check_unique_path(pulp_request_t *req, const pulp_distributor_type_t *type,
                                       json_object *config, const char *repo_id,
                                       const char *distributor_id, pulp_error_t *error)
{
    json_object *path = NULL;
    const char *params[4];
    PGresult *result;
    int taken;

    if (!type->unique_path_key || !config ||
        !json_object_object_get_ex(config, type->unique_path_key, &path) || !path)
        return PULP_OK;

    params[0] = type->unique_path_key;
    params[1] = json_object_get_string(path);
    params[2] = repo_id;
    params[3] = distributor_id ? distributor_id : "";
    result = pulp_db_query(req->db, error,
                           "SELECT repo_id FROM distributors WHERE config ->> $1 = $2"
                           " AND NOT (repo_id = $3 AND distributor_id = $4)",
                           4, params);
    if (!result)
        return error->status;
    taken = PQntuples(result) > 0;
    if (taken)
        pulp_body_error(error, PULP_ERR_INVALID_VALUE, type->unique_path_key,
                        "invalid %s \"%.200s\": repository \"%.200s\" already publishes there",
                        type->unique_path_key, params[1], PQgetvalue(result, 0, 0));
    PQclear(result);
    return taken ? error->status : PULP_OK;
}

/* A protected repository is checked against its auth_ca or, without one, this server's
 * PulpRepoAuthCA; with neither, no client could ever read it. */
static pulp_status_t check_protection_ca(pulp_request_t *req, json_object *config,
                                         pulp_error_t *error)
{
    json_object *protected = NULL;
    json_object *auth_ca = NULL;

    if (!config || !json_object_object_get_ex(config, "protected", &protected) ||
        !pulp_config_is_true(protected))
        return PULP_OK;
    if ((json_object_object_get_ex(config, "auth_ca", &auth_ca) && auth_ca) ||
        req->config->repo_auth_ca_store)
        return PULP_OK;
    return pulp_body_error(error, PULP_ERR_MISSING_VALUE, "auth_ca",
                           "missing auth_ca: a protected repository needs auth_ca, the PEM "
                           "text of the CA that signs its clients' certificates, because "
                           "httpd has no PulpRepoAuthCA");
}

pulp_status_t pulp_repo_validate_distributor(pulp_request_t *req,
                                             const pulp_distributor_type_t *type,
                                             json_object *config, const char *repo_id,
                                             const char *distributor_id, pulp_error_t *error)
{
    if (config && !json_object_is_type(config, json_type_object))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "distributor_config",
                               "invalid distributor_config: expected an object");
    if (type->validate_config(config, error) != PULP_OK ||
        check_protection_ca(req, config, error) != PULP_OK)
        return error->status;
    return check_unique_path(req, type, config, repo_id, distributor_id, error);
}

typedef struct distributor_spec {
    const char *type_id;
    const char *id;
    json_object *config;
    int auto_publish;
} distributor_spec_t;

static pulp_status_t read_distributor_spec(pulp_request_t *req, json_object *body,
                                           distributor_spec_t *spec, pulp_error_t *error)
{
    static const char *const keys[] = {
        "distributor_type_id", "distributor_config", "auto_publish", "distributor_id", NULL,
    };
    char generated[PULP_UUID_LENGTH + 1];

    spec->auto_publish = 0;
    if (pulp_body_require_object(body, "distributor", error) != PULP_OK ||
        pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_string(body, "distributor_type_id", 1, &spec->type_id, error) != PULP_OK ||
        pulp_body_object(body, "distributor_config", 0, &spec->config, error) != PULP_OK ||
        pulp_body_boolean(body, "auto_publish", &spec->auto_publish, error) != PULP_OK ||
        pulp_body_string(body, "distributor_id", 0, &spec->id, error) != PULP_OK)
        return error->status;

    if (spec->id && !pulp_id_is_valid(spec->id))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "distributor_id",
                               "invalid distributor_id \"%.200s\": use 1 to 255 letters, "
                               "digits, \"-\", \"_\" or \".\"", spec->id);
    if (!spec->id) {
        if (pulp_uuid_generate(generated) != 0)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not generate an id");
        spec->id = apr_pstrdup(req->r->pool, generated);
    }
    return PULP_OK;
}

pulp_status_t pulp_repo_insert_distributor(pulp_request_t *req, const char *repo_id,
                                           json_object *body, const char **distributor_id,
                                           pulp_error_t *error)
{
    distributor_spec_t spec = { 0 };
    const pulp_distributor_type_t *type;
    const char *params[5];

    if (read_distributor_spec(req, body, &spec, error) != PULP_OK)
        return error->status;
    type = pulp_distributor_type_find(spec.type_id);
    if (!type)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "distributor_type_id",
                               "invalid distributor_type_id \"%.200s\": no such distributor type",
                               spec.type_id);
    if (pulp_repo_validate_distributor(req, type, spec.config, repo_id, spec.id, error) !=
        PULP_OK)
        return error->status;

    params[0] = repo_id;
    params[1] = spec.id;
    params[2] = type->id;
    params[3] = spec.config ? json_object_to_json_string_ext(spec.config, JSON_C_TO_STRING_PLAIN)
                            : "{}";
    params[4] = spec.auto_publish ? "t" : "f";
    if (pulp_db_command(req->db, error,
                        "INSERT INTO distributors (repo_id, distributor_id, distributor_type_id,"
                        "                          config, auto_publish)"
                        " VALUES ($1, $2, $3, $4::jsonb, $5::boolean)",
                        5, params) != PULP_OK) {
        pulp_repo_map_path_conflict(error);
        if (error->status == PULP_ERR_DUPLICATE_RESOURCE) {
            pulp_error_clear(error);
            pulp_error_add_data(error, "resource_id", json_object_new_string(spec.id));
            pulp_error_set(error, PULP_ERR_DUPLICATE_RESOURCE,
                           "duplicate resource: distributor \"%s\" of repository \"%s\"",
                           spec.id, repo_id);
        }
        return error->status;
    }
    *distributor_id = spec.id;
    return PULP_OK;
}

#define DISTRIBUTOR_SQL \
    "SELECT (" PULP_SQL_DISTRIBUTOR_DOCUMENT ")::text FROM distributors d" \
    " WHERE d.repo_id = $1 AND d.distributor_id = $2"

static const pulp_resource_name_t *distributor_name(pulp_request_t *req)
{
    pulp_resource_name_t *name = apr_pcalloc(req->r->pool, sizeof *name);

    name->kind = "distributor";
    name->id = req->params[1];
    name->parent_kind = "repository";
    name->parent_id = req->params[0];
    return name;
}

static int list_distributors(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    PGresult *result;
    int found = pulp_repo_require(req, req->params[0]);
    int status;

    if (found != DECLINED)
        return found;
    result = pulp_db_query(req->db, &error,
                           "SELECT (" PULP_SQL_DISTRIBUTOR_DOCUMENT ")::text FROM distributors d"
                           " WHERE d.repo_id = $1 ORDER BY d.distributor_id",
                           1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int add_distributor(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *repo_id = req->params[0];
    json_object *body = pulp_request_json_object(req, &error);
    const char *distributor_id = NULL;
    const char *params[2];
    int found;

    if (!body)
        return pulp_send_error_clear(req, &error);
    found = pulp_repo_require(req, repo_id);
    if (found != DECLINED)
        return found;
    if (pulp_db_begin(req->db, &error) != PULP_OK ||
        pulp_repo_insert_distributor(req, repo_id, body, &distributor_id, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }

    params[0] = repo_id;
    params[1] = distributor_id;
    apr_table_setn(req->r->headers_out, "Location",
                   pulp_href(req, "/repositories/%s/distributors/%s/", repo_id, distributor_id));
    return pulp_send_document(req, HTTP_CREATED, DISTRIBUTOR_SQL, 2, params,
                              distributor_name(req));
}

static int get_distributor(pulp_request_t *req)
{
    const char *params[] = { req->params[0], req->params[1] };

    return pulp_send_document(req, HTTP_OK, DISTRIBUTOR_SQL, 2, params, distributor_name(req));
}

static int send_missing_distributor(pulp_request_t *req)
{
    return pulp_send_missing(req, distributor_name(req));
}

/* Reads the distributor row named by the path, locked; NULL type when it is missing. */
static const pulp_distributor_type_t *lock_distributor(pulp_request_t *req, json_object **config,
                                                       int *found, pulp_error_t *error)
{
    const char *type_id = pulp_repo_lock_plugin(
        req, "SELECT distributor_type_id, config::text FROM distributors"
             " WHERE repo_id = $1 AND distributor_id = $2 FOR UPDATE", config, error);
    const pulp_distributor_type_t *type = type_id ? pulp_distributor_type_find(type_id) : NULL;

    *found = type_id != NULL;
    if (type_id && !type)
        pulp_error_set(error, PULP_ERR_INTERNAL, "distributor type \"%s\" is no longer registered",
                       type_id);
    return type;
}

typedef struct distributor_update {
    json_object *config_delta;
    int auto_publish;
    int has_auto_publish;
} distributor_update_t;

static pulp_status_t read_update(json_object *body, distributor_update_t *update,
                                 pulp_error_t *error)
{
    static const char *const keys[] = { "distributor_config", "delta", NULL };
    static const char *const delta_keys[] = { "auto_publish", NULL };
    json_object *delta = NULL;

    update->auto_publish = -1;
    if (pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_object(body, "distributor_config", 0, &update->config_delta, error) != PULP_OK ||
        pulp_body_object(body, "delta", 0, &delta, error) != PULP_OK)
        return error->status;
    if (delta && (pulp_body_check_keys(delta, delta_keys, error) != PULP_OK ||
                  pulp_body_boolean(delta, "auto_publish", &update->auto_publish, error) !=
                      PULP_OK))
        return error->status;
    update->has_auto_publish = update->auto_publish != -1;
    return PULP_OK;
}

static pulp_status_t apply_distributor_update(pulp_request_t *req,
                                              const distributor_update_t *update,
                                              pulp_error_t *error)
{
    const pulp_distributor_type_t *type;
    json_object *current = NULL;
    json_object *merged;
    const char *params[4] = { req->params[0], req->params[1], NULL, NULL };
    int found;

    type = lock_distributor(req, &current, &found, error);
    if (!found && error->status == PULP_OK)
        return pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "missing distributor");
    if (!type)
        return error->status;

    merged = pulp_request_own_json(req, pulp_config_merge(current, update->config_delta));
    if (pulp_repo_validate_distributor(req, type, merged, req->params[0], req->params[1],
                                       error) != PULP_OK)
        return error->status;
    params[2] = json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN);
    params[3] = NULL;
    if (update->has_auto_publish)
        params[3] = update->auto_publish ? "t" : "f";
    if (pulp_db_command(req->db, error,
                        "UPDATE distributors SET config = $3::jsonb,"
                        " auto_publish = coalesce($4::boolean, auto_publish)"
                        " WHERE repo_id = $1 AND distributor_id = $2",
                        4, params) != PULP_OK)
        pulp_repo_map_path_conflict(error);
    return error->status;
}

static int update_distributor(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    distributor_update_t update = { 0 };
    json_object *body = pulp_request_json_object(req, &error);
    const char *params[] = { req->params[0], req->params[1] };
    const char *tags[3];
    PGresult *result;
    const char *document;

    if (!body || read_update(body, &update, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (apply_distributor_update(req, &update, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        if (error.status == PULP_ERR_MISSING_RESOURCE) {
            pulp_error_clear(&error);
            return send_missing_distributor(req);
        }
        return pulp_send_error_clear(req, &error);
    }

    result = pulp_db_query(req->db, &error, DISTRIBUTOR_SQL, 2, params);
    if (!result) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    document = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
    PQclear(result);

    tags[0] = apr_pstrcat(req->r->pool, "pulp:repository:", req->params[0], NULL);
    tags[1] = apr_pstrcat(req->r->pool, "pulp:repository_distributor:", req->params[1], NULL);
    tags[2] = "pulp:action:update_distributor";
    return pulp_respond_completed_task(req, PULP_TASK_DISTRIBUTOR_UPDATE, tags, 3,
                                       apr_pstrcat(req->r->pool, "repository:", req->params[0],
                                                   NULL),
                                       document, &error);
}

/* The worker removes the published tree first and the row last, so a failed removal leaves a
 * distributor that can be removed again. */
static int remove_distributor(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0], req->params[1] };
    json_object *args = pulp_request_own_json(req, json_object_new_object());
    PGresult *result = NULL;
    int found;

    if (pulp_request_db(req, &error))
        result = pulp_db_query(req->db, &error,
                               "SELECT 1 FROM distributors WHERE repo_id = $1"
                               " AND distributor_id = $2", 2, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    if (!found)
        return send_missing_distributor(req);

    json_object_object_add(args, "repo_id", json_object_new_string(req->params[0]));
    json_object_object_add(args, "distributor_id", json_object_new_string(req->params[1]));
    return pulp_repo_dispatch(req, PULP_TASK_DISTRIBUTOR_REMOVE, "remove_distributor",
                              apr_pstrcat(req->r->pool, "pulp:repository_distributor:",
                                          req->params[1], NULL),
                              args);
}

const pulp_route_t pulp_repo_distributor_routes[] = {
    { "GET", "/repositories/{repo_id}/distributors/", list_distributors, PULP_OPERATION_READ },
    { "POST", "/repositories/{repo_id}/distributors/", add_distributor, PULP_OPERATION_CREATE },
    { "GET", "/repositories/{repo_id}/distributors/{distributor_id}/", get_distributor,
      PULP_OPERATION_READ },
    { "PUT", "/repositories/{repo_id}/distributors/{distributor_id}/", update_distributor,
      PULP_OPERATION_UPDATE },
    { "DELETE", "/repositories/{repo_id}/distributors/{distributor_id}/", remove_distributor,
      PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
