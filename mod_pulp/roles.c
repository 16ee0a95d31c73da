/* /roles/: create, read, update and delete roles, and add or remove their users. The
 * built-in role super-users has every permission on "/" and cannot be removed, nor lose
 * its last user. */
#include "users.h"

#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_db.h"
#include "repositories.h"
#include "router.h"
#include "search.h"

#define SUPER_USERS "super-users"

#define ROLE_DOCUMENT \
    "jsonb_build_object('id', r.id, 'display_name', r.display_name," \
    " 'description', r.description," \
    " 'users', (SELECT coalesce(jsonb_agg(ur.login ORDER BY ur.login), '[]'::jsonb)" \
    "           FROM user_roles ur WHERE ur.role_id = r.id)," \
    " 'permissions', (SELECT coalesce(jsonb_object_agg(p.resource, to_jsonb(p.operations))," \
    "                                 '{}'::jsonb)" \
    "                 FROM permissions p WHERE p.subject_type = 'role' AND p.subject = r.id)," \
    " '_ns', 'roles', '_href', '/pulp/api/v2/roles/' || r.id || '/')"

#define ROLE_SQL "SELECT (" ROLE_DOCUMENT ")::text FROM roles r WHERE r.id = $1"

static const pulp_criteria_field_t role_fields[] = {
    { "id", "r.id", PULP_FIELD_TEXT },
    { "display_name", "r.display_name", PULP_FIELD_TEXT },
    { "description", "r.description", PULP_FIELD_TEXT },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static int list_roles(pulp_request_t *req)
{
    static const pulp_search_t search = {
        ROLE_DOCUMENT, "roles r", "r.id", role_fields, NULL, NULL, NULL, 0,
    };

    return pulp_search_send(req, &search, NULL);
}

static int send_role(pulp_request_t *req, int http_status, const char *role_id)
{
    const char *params[] = { role_id };
    pulp_resource_name_t name = { "role", role_id, NULL, NULL };

    return pulp_send_document(req, http_status, ROLE_SQL, 1, params, &name);
}

static int get_role(pulp_request_t *req)
{
    return send_role(req, HTTP_OK, req->params[0]);
}

static int create_role(pulp_request_t *req)
{
    static const char *const keys[] = { "role_id", "display_name", "description", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    const char *params[3] = { NULL, NULL, NULL };
    pulp_status_t status;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "role_id", 1, &params[0], &error) != PULP_OK ||
        pulp_body_string(body, "display_name", 0, &params[1], &error) != PULP_OK ||
        pulp_body_string(body, "description", 0, &params[2], &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!pulp_id_is_valid(params[0])) {
        pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "role_id",
                        "invalid role_id \"%.200s\": use 1 to 255 letters, digits, \"-\", \"_\" "
                        "or \".\"", params[0]);
        return pulp_send_error_clear(req, &error);
    }
    if (!params[1])
        params[1] = params[0];
    if (!pulp_request_db(req, &error))
        return pulp_send_error_clear(req, &error);

    status = pulp_db_command(req->db, &error,
                             "INSERT INTO roles (id, display_name, description)"
                             " VALUES ($1, $2, $3)", 3, params);
    if (status == PULP_ERR_DUPLICATE_RESOURCE) {
        pulp_error_clear(&error);
        pulp_error_add_data(&error, "resource_id", json_object_new_string(params[0]));
        pulp_error_set(&error, PULP_ERR_DUPLICATE_RESOURCE,
                       "duplicate resource: role \"%s\" already exists", params[0]);
    }
    if (status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    apr_table_setn(req->r->headers_out, "Location", pulp_href(req, "/roles/%s/", params[0]));
    return send_role(req, HTTP_CREATED, params[0]);
}

/* Returns DECLINED when the role exists. */
static int require_role(pulp_request_t *req, const char *role_id)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { role_id };
    pulp_resource_name_t name = { "role", role_id, NULL, NULL };
    PGresult *result = NULL;
    int found;

    if (pulp_request_db(req, &error))
        result = pulp_db_query(req->db, &error, "SELECT 1 FROM roles WHERE id = $1", 1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    return found ? DECLINED : pulp_send_missing(req, &name);
}

static int update_role(pulp_request_t *req)
{
    static const char *const keys[] = { "delta", NULL };
    static const char *const delta_keys[] = { "display_name", "description", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    json_object *delta = NULL;
    json_object *description = NULL;
    const char *params[4] = { req->params[0], NULL, NULL, NULL };
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_object(body, "delta", 1, &delta, &error) != PULP_OK ||
        pulp_body_check_keys(delta, delta_keys, &error) != PULP_OK ||
        pulp_body_string(delta, "display_name", 0, &params[1], &error) != PULP_OK ||
        pulp_body_string(delta, "description", 0, &params[3], &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = require_role(req, req->params[0]);
    if (found != DECLINED)
        return found;

    params[2] = json_object_object_get_ex(delta, "description", &description) ? "t" : "f";
    if (pulp_db_command(req->db, &error,
                        "UPDATE roles SET display_name = coalesce($2, display_name),"
                        " description = CASE WHEN $3::boolean THEN $4 ELSE description END"
                        " WHERE id = $1", 4, params) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return send_role(req, HTTP_OK, req->params[0]);
}

static int delete_role(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    int found;

    if (strcmp(req->params[0], SUPER_USERS) == 0) {
        pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "role_id",
                        "the built-in role \"%s\" cannot be removed", SUPER_USERS);
        return pulp_send_error_clear(req, &error);
    }
    found = require_role(req, req->params[0]);
    if (found != DECLINED)
        return found;
    if (pulp_db_begin(req->db, &error) != PULP_OK ||
        pulp_db_command(req->db, &error,
                        "DELETE FROM permissions WHERE subject_type = 'role' AND subject = $1",
                        1, params) != PULP_OK ||
        pulp_db_command(req->db, &error, "DELETE FROM roles WHERE id = $1", 1, params) !=
            PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int add_role_user(pulp_request_t *req)
{
    static const char *const keys[] = { "login", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    const char *params[2] = { NULL, req->params[0] };
    PGresult *result;
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "login", 1, &params[0], &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = require_role(req, req->params[0]);
    if (found != DECLINED)
        return found;

    result = pulp_db_query(req->db, &error,
                           "INSERT INTO user_roles (login, role_id)"
                           " SELECT login, $2 FROM users WHERE login = $1"
                           " ON CONFLICT DO NOTHING RETURNING 1", 2, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    PQclear(result);
    result = pulp_db_query(req->db, &error, "SELECT 1 FROM users WHERE login = $1", 1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    if (!found) {
        pulp_resource_name_t name = { "user", params[0], NULL, NULL };

        return pulp_send_missing(req, &name);
    }
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int remove_role_user(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[1], req->params[0] };
    pulp_resource_name_t name = { "user", req->params[1], "role", req->params[0] };
    PGresult *result;
    int removed;
    int found = require_role(req, req->params[0]);

    if (found != DECLINED)
        return found;
    if (pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    result = pulp_db_query(req->db, &error,
                           "DELETE FROM user_roles WHERE login = $1 AND role_id = $2"
                           " RETURNING 1", 2, params);
    if (!result) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    removed = PQntuples(result) > 0;
    PQclear(result);
    if (!removed) {
        pulp_db_rollback(req->db);
        return pulp_send_missing(req, &name);
    }
    if (pulp_users_check_super_user_left(req, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return pulp_send_json_text(req, HTTP_OK, "null");
}

const pulp_route_t pulp_role_routes[] = {
    { "GET", "/roles/", list_roles, PULP_OPERATION_READ },
    { "POST", "/roles/", create_role, PULP_OPERATION_CREATE },
    { "GET", "/roles/{role_id}/", get_role, PULP_OPERATION_READ },
    { "PUT", "/roles/{role_id}/", update_role, PULP_OPERATION_UPDATE },
    { "DELETE", "/roles/{role_id}/", delete_role, PULP_OPERATION_DELETE },
    { "POST", "/roles/{role_id}/users/", add_role_user, PULP_OPERATION_UPDATE },
    { "DELETE", "/roles/{role_id}/users/{login}/", remove_role_user, PULP_OPERATION_UPDATE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
