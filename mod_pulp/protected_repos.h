/* The protected yum distributors, cached per httpd child for the access check of the
 * published trees (repo_access.c).
 *
 * The child keeps every yum distributor whose config has "protected": true, indexed by
 * relative URL, with its auth_ca loaded as a certificate store. One query reloads the list
 * when the epoch of PULP_CHANGES_REPOSITORIES has moved (change_notices.h), so a request
 * for an unprotected tree costs hash lookups only. A distributor is indexed under the
 * relative_url of its config and under the one of its last publish (its scratchpad), since
 * the link at the old path stays in place until the next publish moves it.
 *
 * Concurrency: one mutex guards the list. The stores are reference counted, and each
 * request verifies against its own reference outside the mutex. */
#ifndef PULP_PROTECTED_REPOS_H
#define PULP_PROTECTED_REPOS_H

#include <apr_pools.h>
#include <libpq-fe.h>
#include <openssl/types.h>

#include "pulp_error.h"

typedef struct pulp_protected_repo {
    const char *repo_id;
    const char *distributor_id;
    /* The distributor's auth_ca, or NULL when it has none; a reference owned by the pool
     * passed to pulp_protected_repos_find. */
    X509_STORE *store;
    /* Why the stored auth_ca could not be loaded, or NULL. */
    const char *ca_error;
} pulp_protected_repo_t;

/* Creates the child's empty list; called from child_init. */
void pulp_protected_repos_child_init(apr_pool_t *pool);

/* Sets *found to the protected distributor whose tree contains path, a path below
 * published/yum/<scheme>/repos/ without "." segments or repeated slashes, or to NULL when
 * no protected distributor serves it. The result is allocated from pool. With db, the list
 * is reloaded first if the repositories changed since it was loaded. Without db (the
 * database cannot be reached), the list loaded last is used as it is, and the call fails
 * with PULP_ERR_UNAVAILABLE when this child has never loaded one. */
pulp_status_t pulp_protected_repos_find(PGconn *db, const char *path, apr_pool_t *pool,
                                        const pulp_protected_repo_t **found,
                                        pulp_error_t *error);

#endif
