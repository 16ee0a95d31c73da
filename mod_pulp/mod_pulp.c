/* mod_pulp: the Pulp REST API (/pulp/api/v2/) inside httpd.
 *
 * The module keeps no state between requests apart from per-child connections, so any
 * number of children on any number of hosts serve the same API. Database connections are
 * opened after the fork, in child_init, one pool per child sized to its thread count. */
#include "mod_pulp.h"

#include <string.h>

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "auth.h"
#include "directives.h"
#include "error_filter.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "change_notices.h"
#include "protected_repos.h"
#include "repo_access.h"
#include "router.h"

#define API_PREFIX "/pulp/api/v2"

static apr_status_t open_connection(void **resource, void *params, apr_pool_t *pool)
{
    pulp_server_config_t *config = params;
    pulp_error_t error = PULP_ERROR_INIT;
    PGconn *conn;

    (void)pool;
    conn = pulp_db_connect(config->database, "mod_pulp", &error);
    if (!conn) {
        pulp_log_error("%s", error.message);
        return APR_EGENERAL;
    }
    if (pulp_changes_listen(conn, &error) != PULP_OK) {
        pulp_log_error("%s", error.message);
        pulp_error_clear(&error);
        PQfinish(conn);
        return APR_EGENERAL;
    }
    pulp_changes_forget_all();
    *resource = conn;
    return APR_SUCCESS;
}

static apr_status_t close_connection(void *resource, void *params, apr_pool_t *pool)
{
    (void)params;
    (void)pool;
    PQfinish(resource);
    return APR_SUCCESS;
}

static void forward_log(pulp_log_level_t level, const char *message, void *baton)
{
    static const int httpd_levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_INFO, APLOG_DEBUG };
    server_rec *s = baton;

    ap_log_error(APLOG_MARK, httpd_levels[level], 0, s, "%s", message);
}

static void child_init(apr_pool_t *pchild, server_rec *main_server)
{
    int threads = 1;

    pulp_log_set_handler(forward_log, main_server);
    pulp_log_set_level(PULP_LOG_DEBUG);
    pulp_auth_child_init(pchild);
    pulp_repositories_child_init(pchild);
    pulp_tasks_child_init(pchild);
    pulp_protected_repos_child_init(pchild);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (threads < 1)
        threads = 1;

    for (server_rec *s = main_server; s; s = s->next) {
        pulp_server_config_t *config = ap_get_module_config(s->module_config, &pulp_module);
        apr_status_t rv;

        pulp_config_apply_defaults(config);

        if (!config->database || config->db_pool)
            continue;
        /* No connection is opened here: the first request of each thread opens its own. */
        rv = apr_reslist_create(&config->db_pool, 0, 1, threads, 0, open_connection,
                                close_connection, config, pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "could not create the database pool");
    }
}

static const char *make_request_id(request_rec *r)
{
    unsigned char bytes[6];

    if (r->log_id)
        return r->log_id;
    if (apr_generate_random_bytes(bytes, sizeof bytes) != APR_SUCCESS)
        return "-";
    return apr_psprintf(r->pool, "%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2],
                        bytes[3], bytes[4], bytes[5]);
}

/* Returns the method whose route handles the request. httpd sets header_only for HEAD, which
 * is handled as GET: httpd sends the headers of the GET response and drops its body. */
static const char *route_method(const request_rec *r)
{
    return r->header_only ? "GET" : r->method;
}

/* Every API path ends in "/". A path without it gets a 404 whose message names the path with
 * the slash when that path exists. Pulp 2's Django sent a redirect instead, which most clients
 * follow by turning a POST into a GET. */
static int send_not_found(pulp_request_t *req)
{
    const pulp_route_t *route = NULL;
    const char *params[8];
    int n_params = 0;
    size_t length = strlen(req->path);
    const char *slashed;

    if (length > 0 && req->path[length - 1] != '/') {
        slashed = apr_pstrcat(req->r->pool, req->path, "/", NULL);
        if (pulp_route_find(route_method(req->r), slashed, &route, params, 8, &n_params,
                            req->r->pool) != PULP_ROUTE_NOT_FOUND)
            return pulp_send_error_status(req, PULP_ERR_MISSING_RESOURCE,
                                          "no resource at %s: API paths end with a slash, "
                                          "use %s/", req->r->uri, req->r->uri);
    }
    return pulp_send_error_status(req, PULP_ERR_MISSING_RESOURCE, "no resource at %s",
                                  req->r->uri);
}

static int dispatch(pulp_request_t *req)
{
    const pulp_route_t *route = NULL;
    pulp_route_match_t match;
    int auth;

    match = pulp_route_find(route_method(req->r), req->path, &route, req->params,
                            (int)(sizeof req->params / sizeof req->params[0]), &req->n_params,
                            req->r->pool);
    if (match == PULP_ROUTE_NOT_FOUND)
        return send_not_found(req);
    if (match == PULP_ROUTE_METHOD_NOT_ALLOWED) {
        apr_table_setn(req->r->headers_out, "Allow",
                       pulp_route_allowed_methods(req->path, req->r->pool));
        return pulp_send_error_status(req, PULP_ERR_METHOD_NOT_ALLOWED,
                                      "method %s is not allowed on %s", req->r->method,
                                      req->r->uri);
    }

    if (route->operation != PULP_OPERATION_NONE) {
        auth = pulp_auth_check(req, route->operation);
        if (auth != DECLINED)
            return auth;
    }
    return route->handler(req);
}

static int handle_api_request(request_rec *r)
{
    pulp_request_t *req;

    if (!r->handler || strcmp(r->handler, "pulp-api") != 0)
        return DECLINED;

    req = apr_pcalloc(r->pool, sizeof *req);
    req->r = r;
    req->config = ap_get_module_config(r->server->module_config, &pulp_module);
    req->request_id = make_request_id(r);
    apr_table_setn(r->headers_out, "X-Pulp-Request-Id", req->request_id);

    if (strncmp(r->uri, API_PREFIX "/", sizeof API_PREFIX) != 0)
        return pulp_send_error_status(req, PULP_ERR_MISSING_RESOURCE, "no resource at %s",
                                      r->uri);
    req->path = r->uri + strlen(API_PREFIX);
    return dispatch(req);
}

static void register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(handle_api_request, NULL, NULL, APR_HOOK_MIDDLE);
    pulp_error_filter_register();
    pulp_repo_access_register();
}

AP_DECLARE_MODULE(pulp) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    pulp_create_server_config,
    pulp_merge_server_config,
    pulp_directives,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE,
#endif
};
