#include "router.h"

#include <string.h>

#include <apr_strings.h>

/* Every resource's table; a path is matched against them in this order. */
static const pulp_route_t *const route_tables[] = {
    pulp_status_routes,
    pulp_task_routes,
    pulp_repository_routes,
    pulp_repo_importer_routes,
    pulp_repo_distributor_routes,
    pulp_repo_action_routes,
    pulp_schedule_routes,
    pulp_user_routes,
    pulp_role_routes,
    pulp_permission_routes,
    pulp_plugin_type_routes,
    pulp_event_routes,
    pulp_unit_routes,
};

/* Matches one pattern against a path; on success stores the {name} segments in params. */
static int pattern_matches(const char *pattern, const char *path, const char **params,
                           int max_params, int *n_params, apr_pool_t *pool)
{
    int count = 0;

    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *segment_end = strchr(path, '/');
            const char *pattern_end = strchr(pattern, '}');

            if (!segment_end || segment_end == path || !pattern_end || count >= max_params)
                return 0;
            params[count++] = apr_pstrmemdup(pool, path, segment_end - path);
            path = segment_end;
            pattern = pattern_end + 1;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    if (*pattern || *path)
        return 0;
    *n_params = count;
    return 1;
}

pulp_route_match_t pulp_route_find(const char *method, const char *path, const pulp_route_t **route,
                                   const char **params, int max_params, int *n_params,
                                   apr_pool_t *pool)
{
    int path_known = 0;

    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (const pulp_route_t *entry = route_tables[t]; entry->method; entry++) {
            if (!pattern_matches(entry->pattern, path, params, max_params, n_params, pool))
                continue;
            path_known = 1;
            if (strcmp(entry->method, method) == 0) {
                *route = entry;
                return PULP_ROUTE_FOUND;
            }
        }
    }
    return path_known ? PULP_ROUTE_METHOD_NOT_ALLOWED : PULP_ROUTE_NOT_FOUND;
}

/* Returns 1 when methods, a list such as "GET, POST", contains method. */
static int lists_method(const char *methods, const char *method)
{
    size_t length = strlen(method);

    for (const char *item = methods; item; item = strchr(item, ',')) {
        item += *item == ',' ? 2 : 0;
        if (strncmp(item, method, length) == 0 && (item[length] == ',' || !item[length]))
            return 1;
    }
    return 0;
}

const char *pulp_route_allowed_methods(const char *path, apr_pool_t *pool)
{
    const char *params[8];
    int n_params;
    const char *methods = NULL;

    for (int i = 0; pulp_route_at(i); i++) {
        const pulp_route_t *route = pulp_route_at(i);

        /* A path can match two patterns of one method, such as GET .../search/ and
         * GET .../{unit_id}/, and the header lists each method once. */
        if (!pattern_matches(route->pattern, path, params, 8, &n_params, pool) ||
            (methods && lists_method(methods, route->method)))
            continue;
        methods = methods ? apr_pstrcat(pool, methods, ", ", route->method, NULL)
                          : route->method;
    }
    return methods;
}

const pulp_route_t *pulp_route_at(int index)
{
    for (size_t t = 0; index >= 0 && t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (const pulp_route_t *entry = route_tables[t]; entry->method; entry++) {
            if (index == 0)
                return entry;
            index--;
        }
    }
    return NULL;
}

const char *pulp_operation_name(pulp_operation_t operation)
{
    static const char *const names[] = { "NONE", "CREATE", "READ", "UPDATE", "DELETE", "EXECUTE" };

    if (operation > PULP_OPERATION_EXECUTE)
        return "NONE";
    return names[operation];
}
