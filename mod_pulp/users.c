/* /users/: create, read, update, delete and search users. A user document never carries the
 * password or its hash. Every change bumps users.generation, which the credential cache of
 * every httpd child compares on each request (see auth.c). */
#include "users.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_db.h"
#include "pulp_password.h"
#include "repositories.h"
#include "router.h"
#include "search.h"

#define USER_DOCUMENT \
    "jsonb_build_object('login', u.login, 'name', u.name," \
    " 'roles', (SELECT coalesce(jsonb_agg(ur.role_id ORDER BY ur.role_id), '[]'::jsonb)" \
    "           FROM user_roles ur WHERE ur.login = u.login)," \
    " '_ns', 'users', '_href', '/pulp/api/v2/users/' || u.login || '/')"

#define USER_SQL "SELECT (" USER_DOCUMENT ")::text FROM users u WHERE u.login = $1"

static const pulp_criteria_field_t user_fields[] = {
    { "login", "u.login", PULP_FIELD_TEXT },
    { "name", "u.name", PULP_FIELD_TEXT },
    { "roles", "ARRAY(SELECT ur.role_id FROM user_roles ur WHERE ur.login = u.login)",
      PULP_FIELD_TEXT_ARRAY },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const char *const always_fields[] = { "login", "_href", NULL };

static const pulp_search_t user_search = {
    USER_DOCUMENT, "users u", "u.login", user_fields, always_fields, NULL, NULL, 0,
};

pulp_status_t pulp_users_check_super_user_left(pulp_request_t *req, pulp_error_t *error)
{
    PGresult *result = pulp_db_query(req->db, error,
                                     "SELECT 1 FROM user_roles WHERE role_id = 'super-users'"
                                     " LIMIT 1", 0, NULL);
    int left;

    if (!result)
        return error->status;
    left = PQntuples(result) > 0;
    PQclear(result);
    if (left)
        return PULP_OK;
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                          "the last member of the super-users role cannot be removed");
}

static int list_users(pulp_request_t *req)
{
    return pulp_search_send(req, &user_search, NULL);
}

static int search_users(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = NULL;
    json_object *criteria = pulp_search_criteria(req, NULL, &body, &error);

    if (error.status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return pulp_search_send(req, &user_search, criteria);
}

static int send_user(pulp_request_t *req, int http_status, const char *login)
{
    const char *params[] = { login };
    pulp_resource_name_t name = { "user", login, NULL, NULL };

    return pulp_send_document(req, http_status, USER_SQL, 1, params, &name);
}

static int get_user(pulp_request_t *req)
{
    return send_user(req, HTTP_OK, req->params[0]);
}

static pulp_status_t hash_password(pulp_request_t *req, const char *password, const char **hash,
                                   pulp_error_t *error)
{
    char buffer[256];

    if (!*password)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "password",
                               "invalid password: it is empty");
    if (pulp_password_hash(password, buffer, sizeof buffer) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not hash the password");
    *hash = apr_pstrdup(req->r->pool, buffer);
    return PULP_OK;
}

static int create_user(pulp_request_t *req)
{
    static const char *const keys[] = { "login", "password", "name", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    const char *login = NULL;
    const char *password = NULL;
    const char *name = NULL;
    const char *params[3];
    pulp_status_t status;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "login", 1, &login, &error) != PULP_OK ||
        pulp_body_string(body, "password", 1, &password, &error) != PULP_OK ||
        pulp_body_string(body, "name", 0, &name, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (!pulp_id_is_valid(login)) {
        pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "login",
                        "invalid login \"%.200s\": use 1 to 255 letters, digits, \"-\", \"_\" "
                        "or \".\"", login);
        return pulp_send_error_clear(req, &error);
    }
    if (hash_password(req, password, &params[2], &error) != PULP_OK ||
        !pulp_request_db(req, &error))
        return pulp_send_error_clear(req, &error);

    params[0] = login;
    params[1] = name ? name : login;
    status = pulp_db_command(req->db, &error,
                             "INSERT INTO users (login, name, password_hash) VALUES ($1, $2, $3)",
                             3, params);
    if (status == PULP_ERR_DUPLICATE_RESOURCE) {
        pulp_error_clear(&error);
        pulp_error_add_data(&error, "resource_id", json_object_new_string(login));
        pulp_error_set(&error, PULP_ERR_DUPLICATE_RESOURCE,
                       "duplicate resource: user \"%s\" already exists", login);
    }
    if (status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    apr_table_setn(req->r->headers_out, "Location", pulp_href(req, "/users/%s/", login));
    return send_user(req, HTTP_CREATED, login);
}

/* Replaces the user's roles with the given list of role ids. */
static pulp_status_t set_roles(pulp_request_t *req, const char *login, json_object *roles,
                               pulp_error_t *error)
{
    const char **ids = apr_pcalloc(req->r->pool, sizeof *ids *
                                   (json_object_array_length(roles) + 1));
    const char *params[2] = { login, NULL };
    char *literal;
    PGresult *result;
    pulp_status_t status;

    for (size_t i = 0; i < json_object_array_length(roles); i++) {
        json_object *role = json_object_array_get_idx(roles, i);

        if (!json_object_is_type(role, json_type_string))
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "roles",
                                   "invalid property \"roles\": expected a list of role ids");
        ids[i] = json_object_get_string(role);
    }
    literal = pulp_db_text_array(ids, json_object_array_length(roles));
    if (!literal)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    params[1] = apr_pstrdup(req->r->pool, literal);
    free(literal);

    result = pulp_db_query(req->db, error,
                           "SELECT r FROM unnest($1::text[]) AS r"
                           " WHERE r NOT IN (SELECT id FROM roles) LIMIT 1", 1, &params[1]);
    if (!result)
        return error->status;
    if (PQntuples(result) > 0) {
        status = pulp_body_error(error, PULP_ERR_INVALID_VALUE, "roles",
                                 "invalid property \"roles\": no role \"%.200s\"",
                                 PQgetvalue(result, 0, 0));
        PQclear(result);
        return status;
    }
    PQclear(result);

    if (pulp_db_command(req->db, error,
                        "DELETE FROM user_roles WHERE login = $1 AND role_id <> ALL ($2::text[])",
                        2, params) != PULP_OK ||
        pulp_db_command(req->db, error,
                        "INSERT INTO user_roles (login, role_id)"
                        " SELECT $1, r FROM unnest($2::text[]) AS r ON CONFLICT DO NOTHING",
                        2, params) != PULP_OK)
        return error->status;
    return pulp_users_check_super_user_left(req, error);
}

static pulp_status_t apply_user_delta(pulp_request_t *req, const char *login, json_object *delta,
                                      pulp_error_t *error)
{
    static const char *const keys[] = { "password", "name", "roles", NULL };
    const char *password = NULL;
    const char *name = NULL;
    json_object *roles = NULL;
    const char *params[3] = { login, NULL, NULL };

    if (pulp_body_check_keys(delta, keys, error) != PULP_OK ||
        pulp_body_string(delta, "password", 0, &password, error) != PULP_OK ||
        pulp_body_string(delta, "name", 0, &name, error) != PULP_OK ||
        pulp_body_array(delta, "roles", 0, &roles, error) != PULP_OK)
        return error->status;
    if (password && hash_password(req, password, &params[2], error) != PULP_OK)
        return error->status;
    params[1] = name;

    if (pulp_db_command(req->db, error,
                        "UPDATE users SET name = coalesce($2, name),"
                        " password_hash = coalesce($3, password_hash),"
                        " generation = generation + 1 WHERE login = $1",
                        3, params) != PULP_OK)
        return error->status;
    if (roles && set_roles(req, login, roles, error) != PULP_OK)
        return error->status;
    return PULP_OK;
}

/* Returns DECLINED when the user exists (row locked in the open transaction). */
static int lock_user(pulp_request_t *req, const char *login)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { login };
    pulp_resource_name_t name = { "user", login, NULL, NULL };
    PGresult *result = pulp_db_query(req->db, &error,
                                     "SELECT 1 FROM users WHERE login = $1 FOR UPDATE", 1,
                                     params);
    int found;

    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    return found ? DECLINED : pulp_send_missing(req, &name);
}

static int update_user(pulp_request_t *req)
{
    static const char *const keys[] = { "delta", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    json_object *delta = NULL;
    int found;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_object(body, "delta", 1, &delta, &error) != PULP_OK ||
        !pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = lock_user(req, req->params[0]);
    if (found != DECLINED) {
        pulp_db_rollback(req->db);
        return found;
    }
    if (apply_user_delta(req, req->params[0], delta, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return send_user(req, HTTP_OK, req->params[0]);
}

static int delete_user(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    int found;

    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = lock_user(req, req->params[0]);
    if (found != DECLINED) {
        pulp_db_rollback(req->db);
        return found;
    }
    if (pulp_db_command(req->db, &error,
                        "DELETE FROM permissions WHERE subject_type = 'user' AND subject = $1",
                        1, params) != PULP_OK ||
        pulp_db_command(req->db, &error, "DELETE FROM users WHERE login = $1", 1,
                        params) != PULP_OK ||
        pulp_users_check_super_user_left(req, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return pulp_send_json_text(req, HTTP_OK, "null");
}

const pulp_route_t pulp_user_routes[] = {
    { "GET", "/users/", list_users, PULP_OPERATION_READ },
    { "POST", "/users/", create_user, PULP_OPERATION_CREATE },
    { "GET", "/users/search/", search_users, PULP_OPERATION_READ },
    { "POST", "/users/search/", search_users, PULP_OPERATION_READ },
    { "GET", "/users/{login}/", get_user, PULP_OPERATION_READ },
    { "PUT", "/users/{login}/", update_user, PULP_OPERATION_UPDATE },
    { "DELETE", "/users/{login}/", delete_user, PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
