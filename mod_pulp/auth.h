/* Authentication (HTTP Basic against the users table) and permission checks. */
#ifndef PULP_AUTH_H
#define PULP_AUTH_H

#include "mod_pulp.h"
#include "router.h"

/* Sets up the per-child credential cache; called from child_init. */
void pulp_auth_child_init(apr_pool_t *pool);

/* Authenticates the request and checks that the user may perform operation on the request's
 * resource path ("/v2" + req->path, permissions inherited from every ancestor path). Returns
 * DECLINED when the request may go on (req->login is set), or OK after sending the 401, 403
 * or 503 error body. */
int pulp_auth_check(pulp_request_t *req, pulp_operation_t operation);

#endif
