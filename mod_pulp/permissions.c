/* /permissions/: grant and revoke operations on resource paths to users and roles, and list
 * them. A permission on a path applies to every path below it ("/v2/repositories/" covers
 * "/v2/repositories/zoo/"), as in Pulp 2.
 *
 * POST /actions/login/ returns 501. Pulp 2 returned a client certificate signed by its own
 * certificate authority, and this server has no certificate authority to sign one. */
#include "users.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_db.h"
#include "repositories.h"
#include "router.h"

static const char *const operation_names[] = {
    "CREATE", "READ", "UPDATE", "DELETE", "EXECUTE", NULL,
};

const char *pulp_permission_resource(pulp_request_t *req, const char *path)
{
    static const char api_prefix[] = "/pulp/api/v2/";
    size_t length;

    /* Permissions name paths from /v2/, as in Pulp 2; the full URL path means the same. */
    if (strncmp(path, api_prefix, sizeof api_prefix - 1) == 0)
        path += strlen("/pulp/api");
    length = strlen(path);
    if (path[0] != '/' || strstr(path, "//") || strstr(path, "/../") || strstr(path, "/./"))
        return NULL;
    if (path[length - 1] == '/')
        return path;
    return apr_pstrcat(req->r->pool, path, "/", NULL);
}

/* Reads "operations": a non-empty list of known operation names, as an SQL array literal. */
static pulp_status_t read_operations(pulp_request_t *req, json_object *body, const char **array,
                                     pulp_error_t *error)
{
    json_object *operations = NULL;
    const char **names;
    size_t n_names;
    char *literal;

    if (pulp_body_array(body, "operations", 1, &operations, error) != PULP_OK)
        return error->status;
    n_names = json_object_array_length(operations);
    if (n_names == 0)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "operations",
                               "invalid property \"operations\": the list is empty");

    names = apr_pcalloc(req->r->pool, sizeof *names * n_names);
    for (size_t i = 0; i < n_names; i++) {
        json_object *item = json_object_array_get_idx(operations, i);
        const char *name = json_object_get_string(item);
        int known = 0;

        for (int k = 0; json_object_is_type(item, json_type_string) && operation_names[k]; k++)
            known = known || strcmp(operation_names[k], name) == 0;
        if (!known)
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "operations",
                                   "invalid operation \"%.50s\": expected CREATE, READ, UPDATE, "
                                   "DELETE or EXECUTE", name ? name : "null");
        names[i] = name;
    }
    literal = pulp_db_text_array(names, n_names);
    if (!literal)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    *array = apr_pstrdup(req->r->pool, literal);
    free(literal);
    return PULP_OK;
}

typedef struct permission_change {
    const char *subject_type;
    const char *subject;
    const char *resource;
    const char *operations;
} permission_change_t;

/* Fills the parameters $1 to $4 of the grant and revoke statements: resource, subject type,
 * subject and operations. */
static void change_params(const permission_change_t *change, const char *params[4])
{
    params[0] = change->resource;
    params[1] = change->subject_type;
    params[2] = change->subject;
    params[3] = change->operations;
}

/* Reads {login|role_id, resource, operations} and checks that the subject exists. */
static int read_change(pulp_request_t *req, const char *subject_type, permission_change_t *change)
{
    const char *subject_key = strcmp(subject_type, "user") == 0 ? "login" : "role_id";
    const char *keys[] = { subject_key, "resource", "operations", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    const char *resource = NULL;
    const char *params[1];
    PGresult *result = NULL;
    int found;

    change->subject_type = subject_type;
    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, subject_key, 1, &change->subject, &error) != PULP_OK ||
        pulp_body_string(body, "resource", 1, &resource, &error) != PULP_OK ||
        read_operations(req, body, &change->operations, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    change->resource = pulp_permission_resource(req, resource);
    if (!change->resource) {
        pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "resource",
                        "invalid resource \"%.200s\": expected an API path such as "
                        "/v2/repositories/", resource);
        return pulp_send_error_clear(req, &error);
    }

    params[0] = change->subject;
    if (pulp_request_db(req, &error))
        result = pulp_db_query(req->db, &error,
                               strcmp(subject_type, "user") == 0
                                   ? "SELECT 1 FROM users WHERE login = $1"
                                   : "SELECT 1 FROM roles WHERE id = $1",
                               1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    found = PQntuples(result) > 0;
    PQclear(result);
    if (!found) {
        pulp_resource_name_t name = { subject_type, change->subject, NULL, NULL };

        return pulp_send_missing(req, &name);
    }
    return DECLINED;
}

static int grant_permission(pulp_request_t *req, const char *subject_type)
{
    pulp_error_t error = PULP_ERROR_INIT;
    permission_change_t change;
    const char *params[4];
    int found = read_change(req, subject_type, &change);

    if (found != DECLINED)
        return found;
    change_params(&change, params);
    if (pulp_db_command(req->db, &error,
                        "INSERT INTO permissions (resource, subject_type, subject, operations)"
                        " VALUES ($1, $2, $3, ARRAY(SELECT DISTINCT unnest($4::text[])))"
                        " ON CONFLICT (resource, subject_type, subject) DO UPDATE SET"
                        " operations = ARRAY(SELECT DISTINCT unnest(permissions.operations ||"
                        "                                           EXCLUDED.operations))",
                        4, params) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int revoke_permission(pulp_request_t *req, const char *subject_type)
{
    pulp_error_t error = PULP_ERROR_INIT;
    permission_change_t change;
    const char *params[4];
    int found = read_change(req, subject_type, &change);

    if (found != DECLINED)
        return found;
    change_params(&change, params);
    if (pulp_db_begin(req->db, &error) != PULP_OK ||
        pulp_db_command(req->db, &error,
                        "UPDATE permissions SET operations = ARRAY(SELECT o FROM"
                        " unnest(operations) AS o WHERE o <> ALL ($4::text[]))"
                        " WHERE resource = $1 AND subject_type = $2 AND subject = $3",
                        4, params) != PULP_OK ||
        pulp_db_command(req->db, &error,
                        "DELETE FROM permissions WHERE resource = $1 AND subject_type = $2"
                        " AND subject = $3 AND cardinality(operations) = 0",
                        3, params) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int grant_to_user(pulp_request_t *req)
{
    return grant_permission(req, "user");
}

static int revoke_from_user(pulp_request_t *req)
{
    return revoke_permission(req, "user");
}

static int grant_to_role(pulp_request_t *req)
{
    return grant_permission(req, "role");
}

static int revoke_from_role(pulp_request_t *req)
{
    return revoke_permission(req, "role");
}

/* Lists, per resource, the operations of each user and (an extension of Pulp 2's shape,
 * which expanded role permissions into its users) of each role. */
static int list_permissions(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *resource = pulp_request_query(req, "resource");
    const char *params[1] = { NULL };
    PGresult *result = NULL;
    int status;

    if (resource) {
        params[0] = pulp_permission_resource(req, resource);
        if (!params[0]) {
            pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "resource",
                            "invalid resource \"%.200s\": expected an API path such as "
                            "/v2/repositories/", resource);
            return pulp_send_error_clear(req, &error);
        }
    }
    if (pulp_request_db(req, &error))
        result = pulp_db_query(
            req->db, &error,
            "SELECT jsonb_build_object('resource', p.resource,"
            " 'users', coalesce(jsonb_object_agg(p.subject, to_jsonb(p.operations))"
            "                   FILTER (WHERE p.subject_type = 'user'), '{}'::jsonb),"
            " 'roles', coalesce(jsonb_object_agg(p.subject, to_jsonb(p.operations))"
            "                   FILTER (WHERE p.subject_type = 'role'), '{}'::jsonb),"
            " '_ns', 'permissions')::text"
            " FROM permissions p WHERE $1::text IS NULL OR p.resource = $1"
            " GROUP BY p.resource ORDER BY p.resource",
            1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int login(pulp_request_t *req)
{
    return pulp_send_error_status(req, PULP_ERR_NOT_IMPLEMENTED,
                                  "certificate login is not supported: this server has no "
                                  "certificate authority; use HTTP Basic authentication");
}

const pulp_route_t pulp_permission_routes[] = {
    { "GET", "/permissions/", list_permissions, PULP_OPERATION_READ },
    { "POST", "/permissions/actions/grant_to_user/", grant_to_user, PULP_OPERATION_EXECUTE },
    { "POST", "/permissions/actions/revoke_from_user/", revoke_from_user,
      PULP_OPERATION_EXECUTE },
    { "POST", "/permissions/actions/grant_to_role/", grant_to_role, PULP_OPERATION_EXECUTE },
    { "POST", "/permissions/actions/revoke_from_role/", revoke_from_role,
      PULP_OPERATION_EXECUTE },
    { "POST", "/actions/login/", login, PULP_OPERATION_READ },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
