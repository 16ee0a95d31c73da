/* Users, roles and permissions: the parts the three resource files share. */
#ifndef PULP_USERS_H
#define PULP_USERS_H

#include "mod_pulp.h"

/* Fails with PLP0015 when no user is left in the super-users role; run inside the
 * transaction that removed one, before its commit. */
pulp_status_t pulp_users_check_super_user_left(pulp_request_t *req, pulp_error_t *error);

/* Normalises a permission resource path: it must start with "/" and gets a trailing "/", so
 * that a prefix comparison matches whole path segments only. NULL when path is invalid. */
const char *pulp_permission_resource(pulp_request_t *req, const char *path);

#endif
