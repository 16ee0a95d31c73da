/* /repositories/: list, search, create (with importer and distributors), read, update and
 * delete of repositories. */
#include "repositories.h"

#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "dispatch.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_task.h"
#include "doc_cache.h"
#include "router.h"
#include "search.h"

/* The repository document's members, for json_build_object(); json rather than jsonb because
 * it keeps the members in this order and skips jsonb's parsing. */
#define REPOSITORY_MEMBERS \
    "'id', r.id, 'display_name', r.display_name, 'description', r.description," \
    " 'notes', r.notes, 'scratchpad', '{}'::json," \
    " 'last_unit_added', " PULP_SQL_TIMESTAMP("r.last_unit_added") "," \
    " 'last_unit_removed', " PULP_SQL_TIMESTAMP("r.last_unit_removed") "," \
    " 'content_unit_counts', " PULP_SQL_UNIT_COUNTS ", '_ns', 'repos'," \
    " '_href', '/pulp/api/v2/repositories/' || r.id || '/'"

#define IMPORTERS_MEMBER \
    ", 'importers', (SELECT coalesce(json_agg(" PULP_SQL_IMPORTER_DOCUMENT "), '[]'::json)" \
    " FROM importers i WHERE i.repo_id = r.id)"

#define DISTRIBUTORS_MEMBER \
    ", 'distributors', (SELECT coalesce(json_agg(" PULP_SQL_DISTRIBUTOR_DOCUMENT \
    " ORDER BY d.distributor_id), '[]'::json) FROM distributors d WHERE d.repo_id = r.id)"

static const pulp_criteria_field_t repository_fields[] = {
    { "id", "r.id", PULP_FIELD_TEXT },
    { "display_name", "r.display_name", PULP_FIELD_TEXT },
    { "description", "r.description", PULP_FIELD_TEXT },
    { "notes", "r.notes", PULP_FIELD_JSON },
    { "last_unit_added", "r.last_unit_added", PULP_FIELD_TIMESTAMP },
    { "last_unit_removed", "r.last_unit_removed", PULP_FIELD_TIMESTAMP },
    { "content_unit_counts", "(" PULP_SQL_UNIT_COUNTS ")::jsonb", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const char *const always_fields[] = { "id", "_href", "importers", "distributors", NULL };

const char *pulp_repo_document_sql(pulp_request_t *req, int importers, int distributors)
{
    return apr_pstrcat(req->r->pool, "json_build_object(" REPOSITORY_MEMBERS,
                       importers ? IMPORTERS_MEMBER : "", distributors ? DISTRIBUTORS_MEMBER : "",
                       ")", NULL);
}

static void read_flags(pulp_request_t *req, json_object *body, int *importers, int *distributors)
{
    int details = pulp_request_flag(req, "details");

    *importers = details || pulp_request_flag(req, "importers");
    *distributors = details || pulp_request_flag(req, "distributors");
    if (!body)
        return;
    pulp_body_boolean(body, "details", &details, NULL);
    *importers = *importers || details;
    *distributors = *distributors || details;
    pulp_body_boolean(body, "importers", importers, NULL);
    pulp_body_boolean(body, "distributors", distributors, NULL);
}

/* Slots of the list cache: one per combination of the importers and distributors flags. */
#define LIST_CACHE_SLOTS 4

static pulp_doc_cache_t *list_cache;

void pulp_repositories_child_init(apr_pool_t *pool)
{
    list_cache = pulp_doc_cache_create(pool, LIST_CACHE_SLOTS, PULP_CHANGES_REPOSITORIES);
}

/* Lists are served from the child's cache until a change is notified (change_notices.h);
 * the credential check has caught up with the notifications. */
static int list_repositories(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *result = NULL;
    PGconn *db = pulp_request_db(req, &error);
    unsigned long epoch;
    const char *text;
    int importers;
    int distributors;
    const char *key;

    if (!db)
        return pulp_send_error_clear(req, &error);
    read_flags(req, NULL, &importers, &distributors);
    key = apr_psprintf(req->r->pool, "%d%d", importers, distributors);
    text = pulp_doc_cache_get(list_cache, key, req->r->pool, &epoch);
    if (text)
        return pulp_send_json_text(req, HTTP_OK, text);

    result = pulp_db_query_prepared(db, &error,
                                    apr_pstrcat(req->r->pool, "SELECT (",
                                                pulp_repo_document_sql(req, importers,
                                                                       distributors),
                                                ")::text FROM repositories r ORDER BY r.id",
                                                NULL),
                                    0, NULL);
    if (!result)
        return pulp_send_error_clear(req, &error);
    text = pulp_json_rows_text(req, result);
    PQclear(result);
    pulp_doc_cache_put(list_cache, key, epoch, text);
    return pulp_send_json_text(req, HTTP_OK, text);
}

static int search_repositories(pulp_request_t *req)
{
    static const char *const extra_keys[] = { "details", "importers", "distributors", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_search_t search = {
        NULL, "repositories r", "r.id", repository_fields, always_fields, NULL, NULL, 0,
    };
    json_object *body = NULL;
    json_object *criteria;
    int importers;
    int distributors;

    criteria = pulp_search_criteria(req, extra_keys, &body, &error);
    if (error.status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    read_flags(req, body, &importers, &distributors);
    search.document_sql = pulp_repo_document_sql(req, importers, distributors);
    return pulp_search_send(req, &search, criteria);
}

int pulp_send_missing(pulp_request_t *req, const pulp_resource_name_t *name)
{
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_error_missing(&error, name->kind, name->id, name->parent_kind, name->parent_id);
    return pulp_send_error_clear(req, &error);
}

int pulp_send_document(pulp_request_t *req, int http_status, const char *sql, int n_params,
                       const char *const *params, const pulp_resource_name_t *name)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *result = NULL;
    PGconn *db = pulp_request_db(req, &error);
    int status;

    if (db)
        result = pulp_db_query_prepared(db, &error, sql, n_params, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0)
        status = pulp_send_missing(req, name);
    else {
        status = pulp_send_json_text(req, http_status, PQgetvalue(result, 0, 0));
    }
    PQclear(result);
    return status;
}

static int send_repository(pulp_request_t *req, int http_status, const char *repo_id,
                           int importers, int distributors)
{
    const char *sql = apr_pstrcat(req->r->pool, "SELECT ",
                                  pulp_repo_document_sql(req, importers, distributors),
                                  "::text FROM repositories r WHERE r.id = $1", NULL);
    const char *params[] = { repo_id };
    pulp_resource_name_t name = { "repository", repo_id, NULL, NULL };

    return pulp_send_document(req, http_status, sql, 1, params, &name);
}

static int get_repository(pulp_request_t *req)
{
    int importers;
    int distributors;

    read_flags(req, NULL, &importers, &distributors);
    return send_repository(req, HTTP_OK, req->params[0], importers, distributors);
}

int pulp_repo_require(pulp_request_t *req, const char *repo_id)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { repo_id };
    pulp_resource_name_t name = { "repository", repo_id, NULL, NULL };
    PGresult *result = NULL;
    PGconn *db = pulp_request_db(req, &error);
    int found;

    if (db)
        result = pulp_db_query_prepared(db, &error, "SELECT 1 FROM repositories WHERE id = $1", 1,
                                        params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    if (found)
        return DECLINED;
    return pulp_send_missing(req, &name);
}

/* The checked members of a creation request. */
typedef struct repo_spec {
    const char *id;
    const char *display_name;
    const char *description;
    json_object *notes;
    const char *importer_type_id;
    json_object *importer_config;
    json_object *distributors;
} repo_spec_t;

static pulp_status_t read_repo_spec(json_object *body, repo_spec_t *spec, pulp_error_t *error)
{
    static const char *const keys[] = {
        "id", "display_name", "description", "notes", "importer_type_id", "importer_config",
        "distributors", NULL,
    };

    if (pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_string(body, "id", 1, &spec->id, error) != PULP_OK ||
        pulp_body_string(body, "display_name", 0, &spec->display_name, error) != PULP_OK ||
        pulp_body_string(body, "description", 0, &spec->description, error) != PULP_OK ||
        pulp_body_object(body, "notes", 0, &spec->notes, error) != PULP_OK ||
        pulp_body_string(body, "importer_type_id", 0, &spec->importer_type_id, error) != PULP_OK ||
        pulp_body_object(body, "importer_config", 0, &spec->importer_config, error) != PULP_OK ||
        pulp_body_array(body, "distributors", 0, &spec->distributors, error) != PULP_OK)
        return error->status;

    if (!pulp_id_is_valid(spec->id))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "id",
                               "invalid repository id \"%.200s\": use 1 to 255 letters, digits, "
                               "\"-\", \"_\" or \".\"", spec->id);
    if (spec->importer_config && !spec->importer_type_id)
        return pulp_body_error(error, PULP_ERR_MISSING_VALUE, "importer_type_id",
                               "importer_config needs importer_type_id");
    if (!spec->display_name)
        spec->display_name = spec->id;
    return PULP_OK;
}

pulp_status_t pulp_repo_validate_importer(const pulp_importer_type_t *type, json_object *config,
                                          pulp_error_t *error)
{
    if (config && !json_object_is_type(config, json_type_object))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "importer_config",
                               "invalid importer_config: expected an object");
    return type->validate_config(config, error);
}

static pulp_status_t insert_repository(pulp_request_t *req, const repo_spec_t *spec,
                                       pulp_error_t *error)
{
    const char *notes = spec->notes ? json_object_to_json_string_ext(spec->notes,
                                                                      JSON_C_TO_STRING_PLAIN)
                                    : "{}";
    const char *params[] = { spec->id, spec->display_name, spec->description, notes };
    pulp_status_t status;

    status = pulp_db_command(req->db, error,
                             "INSERT INTO repositories (id, display_name, description, notes)"
                             " VALUES ($1, $2, $3, $4::jsonb)",
                             4, params);
    if (status == PULP_ERR_DUPLICATE_RESOURCE) {
        pulp_error_clear(error);
        pulp_error_add_data(error, "resource_id", json_object_new_string(spec->id));
        pulp_error_set(error, PULP_ERR_DUPLICATE_RESOURCE,
                       "duplicate resource: repository \"%s\" already exists", spec->id);
    }
    return status;
}

static pulp_status_t insert_all(pulp_request_t *req, const repo_spec_t *spec,
                                pulp_error_t *error)
{
    if (insert_repository(req, spec, error) != PULP_OK)
        return error->status;
    if (spec->importer_type_id &&
        pulp_repo_set_importer(req, spec->id, spec->importer_type_id, spec->importer_config,
                               error) != PULP_OK)
        return error->status;
    for (size_t i = 0; spec->distributors && i < json_object_array_length(spec->distributors);
         i++) {
        const char *distributor_id;

        if (pulp_repo_insert_distributor(req, spec->id,
                                         json_object_array_get_idx(spec->distributors, i),
                                         &distributor_id, error) != PULP_OK)
            return error->status;
    }
    return PULP_OK;
}

static int create_repository(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    repo_spec_t spec = { 0 };
    json_object *body = pulp_request_json_object(req, &error);

    if (!body || read_repo_spec(body, &spec, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    /* All or nothing: a bad distributor leaves no repository behind. */
    if (insert_all(req, &spec, &error) != PULP_OK || pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }

    apr_table_setn(req->r->headers_out, "Location",
                   pulp_href(req, "/repositories/%s/", spec.id));
    return send_repository(req, HTTP_CREATED, spec.id, 0, 0);
}

/* Applies a "delta" of display_name, description and notes (merged: a null note removes it). */
static pulp_status_t update_fields(pulp_request_t *req, const char *repo_id, json_object *delta,
                                   pulp_error_t *error)
{
    static const char *const keys[] = { "display_name", "description", "notes", NULL };
    const char *display_name = NULL;
    const char *description = NULL;
    json_object *notes = NULL;
    json_object *description_value = NULL;
    const char *params[6];

    if (pulp_body_check_keys(delta, keys, error) != PULP_OK ||
        pulp_body_string(delta, "display_name", 0, &display_name, error) != PULP_OK ||
        pulp_body_string(delta, "description", 0, &description, error) != PULP_OK ||
        pulp_body_object(delta, "notes", 0, &notes, error) != PULP_OK)
        return error->status;

    params[0] = repo_id;
    params[1] = display_name;
    params[2] = json_object_object_get_ex(delta, "description", &description_value) ? "t" : "f";
    params[3] = description;
    params[4] = notes ? json_object_to_json_string_ext(notes, JSON_C_TO_STRING_PLAIN) : "{}";
    /* Notes whose value is null are removed; the others are set. */
    return pulp_db_command(req->db, error,
                           "UPDATE repositories SET"
                           " display_name = coalesce($2, display_name),"
                           " description = CASE WHEN $3::boolean THEN $4 ELSE description END,"
                           " notes = (SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb)"
                           "          FROM jsonb_each(notes || $5::jsonb)"
                           "          WHERE jsonb_typeof(value) <> 'null')"
                           " WHERE id = $1",
                           5, params);
}

static pulp_status_t update_importer_config(pulp_request_t *req, const char *repo_id,
                                            json_object *delta, pulp_error_t *error);
static pulp_status_t update_distributor_configs(pulp_request_t *req, const char *repo_id,
                                                json_object *configs, pulp_error_t *error);

static pulp_status_t apply_update(pulp_request_t *req, const char *repo_id, json_object *body,
                                  pulp_error_t *error)
{
    static const char *const keys[] = {
        "delta", "importer_config", "distributor_configs", NULL,
    };
    json_object *delta = NULL;
    json_object *importer_config = NULL;
    json_object *distributor_configs = NULL;

    if (pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_object(body, "delta", 0, &delta, error) != PULP_OK ||
        pulp_body_object(body, "importer_config", 0, &importer_config, error) != PULP_OK ||
        pulp_body_object(body, "distributor_configs", 0, &distributor_configs, error) != PULP_OK)
        return error->status;

    if (delta && update_fields(req, repo_id, delta, error) != PULP_OK)
        return error->status;
    if (importer_config && update_importer_config(req, repo_id, importer_config, error) != PULP_OK)
        return error->status;
    if (distributor_configs &&
        update_distributor_configs(req, repo_id, distributor_configs, error) != PULP_OK)
        return error->status;
    return PULP_OK;
}

/* Configuration changes are applied at once, in one transaction with the other changes, and
 * the response is 200 with the repository. No task is needed, because a running sync or
 * publish read its configuration when it started. */
static int update_repository(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *repo_id = req->params[0];
    json_object *body = pulp_request_json_object(req, &error);
    int found;

    if (!body)
        return pulp_send_error_clear(req, &error);
    found = pulp_repo_require(req, repo_id);
    if (found != DECLINED)
        return found;
    if (pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (apply_update(req, repo_id, body, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return send_repository(req, HTTP_OK, repo_id, 1, 1);
}

static pulp_status_t update_importer_config(pulp_request_t *req, const char *repo_id,
                                            json_object *delta, pulp_error_t *error)
{
    const char *params[2] = { repo_id, NULL };
    const pulp_importer_type_t *type;
    PGresult *result;
    json_object *current;
    json_object *merged;
    pulp_status_t status;

    result = pulp_db_query(req->db, error,
                           "SELECT importer_type_id, config::text FROM importers"
                           " WHERE repo_id = $1 FOR UPDATE",
                           1, params);
    if (!result)
        return error->status;
    if (PQntuples(result) == 0) {
        PQclear(result);
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "importer_config",
                               "repository \"%s\" has no importer to configure", repo_id);
    }
    type = pulp_importer_type_find(PQgetvalue(result, 0, 0));
    current = pulp_request_own_json(req, json_tokener_parse(PQgetvalue(result, 0, 1)));
    PQclear(result);
    if (!type)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "importer type of repository \"%s\" is "
                              "no longer registered", repo_id);

    merged = pulp_request_own_json(req, pulp_config_merge(current, delta));
    status = pulp_repo_validate_importer(type, merged, error);
    if (status != PULP_OK)
        return status;
    params[1] = json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN);
    return pulp_db_command(req->db, error,
                           "UPDATE importers SET config = $2::jsonb WHERE repo_id = $1", 2,
                           params);
}

/* Merges each {distributor_id: config delta} into that distributor's configuration. */
static pulp_status_t update_distributor_configs(pulp_request_t *req, const char *repo_id,
                                                json_object *configs, pulp_error_t *error)
{
    json_object_object_foreach(configs, distributor_id, delta) {
        const char *params[3] = { repo_id, distributor_id, NULL };
        const pulp_distributor_type_t *type;
        json_object *merged;
        PGresult *result;

        if (!json_object_is_type(delta, json_type_object))
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "distributor_configs",
                                   "invalid configuration of distributor \"%.200s\": expected "
                                   "an object", distributor_id);
        result = pulp_db_query(req->db, error,
                               "SELECT distributor_type_id, config::text FROM distributors"
                               " WHERE repo_id = $1 AND distributor_id = $2 FOR UPDATE",
                               2, params);
        if (!result)
            return error->status;
        if (PQntuples(result) == 0) {
            PQclear(result);
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "distributor_configs",
                                   "repository \"%s\" has no distributor \"%.200s\"", repo_id,
                                   distributor_id);
        }
        type = pulp_distributor_type_find(PQgetvalue(result, 0, 0));
        merged = pulp_request_own_json(
            req, pulp_config_merge(json_tokener_parse(PQgetvalue(result, 0, 1)), delta));
        PQclear(result);
        if (!type)
            return pulp_error_set(error, PULP_ERR_INTERNAL,
                                  "distributor type of \"%s\" is no longer registered",
                                  distributor_id);
        if (pulp_repo_validate_distributor(req, type, merged, repo_id, distributor_id, error) !=
            PULP_OK)
            return error->status;

        params[2] = json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN);
        if (pulp_db_command(req->db, error,
                            "UPDATE distributors SET config = $3::jsonb"
                            " WHERE repo_id = $1 AND distributor_id = $2",
                            3, params) != PULP_OK) {
            pulp_repo_map_path_conflict(error);
            return error->status;
        }
    }
    return PULP_OK;
}

/* The worker deletes the row (its cascades remove importer, distributors and associations)
 * and the repository's published trees; units stay for orphan removal. */
static int delete_repository(pulp_request_t *req)
{
    const char *repo_id = req->params[0];
    json_object *args = pulp_request_own_json(req, json_object_new_object());
    int found = pulp_repo_require(req, repo_id);

    if (found != DECLINED)
        return found;

    json_object_object_add(args, "repo_id", json_object_new_string(repo_id));
    return pulp_repo_dispatch(req, PULP_TASK_REPO_DELETE, "delete", NULL, args);
}

const char *pulp_repo_lock_plugin(pulp_request_t *req, const char *sql, json_object **config,
                                  pulp_error_t *error)
{
    const char *params[] = { req->params[0], req->params[1] };
    PGresult *result = pulp_db_query(req->db, error, sql, 2, params);
    const char *type_id = NULL;

    if (!result)
        return NULL;
    if (PQntuples(result) > 0) {
        type_id = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
        *config = pulp_request_own_json(req, json_tokener_parse(PQgetvalue(result, 0, 1)));
    }
    PQclear(result);
    return type_id;
}

int pulp_repo_dispatch(pulp_request_t *req, const char *task_type, const char *action,
                       const char *extra_tag, json_object *args)
{
    pulp_repo_task_t *task = apr_palloc(req->r->pool, sizeof *task);

    pulp_repo_task_init(task, task_type, action, req->params[0], extra_tag, args);
    return pulp_dispatch_and_respond(req, &task->spec);
}

const pulp_route_t pulp_repository_routes[] = {
    { "GET", "/repositories/", list_repositories, PULP_OPERATION_READ },
    { "POST", "/repositories/", create_repository, PULP_OPERATION_CREATE },
    { "GET", "/repositories/search/", search_repositories, PULP_OPERATION_READ },
    { "POST", "/repositories/search/", search_repositories, PULP_OPERATION_READ },
    { "GET", "/repositories/{repo_id}/", get_repository, PULP_OPERATION_READ },
    { "PUT", "/repositories/{repo_id}/", update_repository, PULP_OPERATION_UPDATE },
    { "DELETE", "/repositories/{repo_id}/", delete_repository, PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
