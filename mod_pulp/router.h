/* The routing table: one entry per method and path pattern under /pulp/api/v2. */
#ifndef PULP_ROUTER_H
#define PULP_ROUTER_H

#include "mod_pulp.h"

/* Returns an HTTP status or OK once the response is sent (normally through pulp_send_*). */
typedef int (*pulp_handler_t)(pulp_request_t *req);

/* The permission an operation needs on the request's resource path. */
typedef enum {
    PULP_OPERATION_NONE = 0,   /* anonymous: no authentication */
    PULP_OPERATION_CREATE,
    PULP_OPERATION_READ,
    PULP_OPERATION_UPDATE,
    PULP_OPERATION_DELETE,
    PULP_OPERATION_EXECUTE,
} pulp_operation_t;

typedef struct pulp_route {
    const char *method;
    /* Path below /pulp/api/v2 ending in "/"; a "{name}" segment matches one path segment. */
    const char *pattern;
    pulp_handler_t handler;
    pulp_operation_t operation;
} pulp_route_t;

/* Each REST resource file defines one table, ended by an entry whose method is NULL. */
extern const pulp_route_t pulp_status_routes[];
extern const pulp_route_t pulp_task_routes[];
extern const pulp_route_t pulp_repository_routes[];
extern const pulp_route_t pulp_repo_importer_routes[];
extern const pulp_route_t pulp_repo_distributor_routes[];
extern const pulp_route_t pulp_repo_action_routes[];
extern const pulp_route_t pulp_schedule_routes[];
extern const pulp_route_t pulp_user_routes[];
extern const pulp_route_t pulp_role_routes[];
extern const pulp_route_t pulp_permission_routes[];
extern const pulp_route_t pulp_plugin_type_routes[];
extern const pulp_route_t pulp_event_routes[];
extern const pulp_route_t pulp_unit_routes[];

typedef enum {
    PULP_ROUTE_FOUND,
    PULP_ROUTE_NOT_FOUND,
    PULP_ROUTE_METHOD_NOT_ALLOWED,
} pulp_route_match_t;

/* Finds the route for method and path, filling params with the {name} segments. */
pulp_route_match_t pulp_route_find(const char *method, const char *path, const pulp_route_t **route,
                                   const char **params, int max_params, int *n_params,
                                   apr_pool_t *pool);

const char *pulp_operation_name(pulp_operation_t operation);

/* Returns the methods of every route whose pattern matches path, as an Allow header value
 * ("GET, POST"), or NULL when none does. */
const char *pulp_route_allowed_methods(const char *path, apr_pool_t *pool);

/* Returns the index-th route over all tables, in matching order; NULL past the last one. */
const pulp_route_t *pulp_route_at(int index);

#endif
