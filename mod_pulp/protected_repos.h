/* The protected yum distributors, cached per httpd child for the access check of the
 * published trees (repo_access.c).
 *
 * The child keeps every yum distributor whose config has "protected": true, indexed by
 * relative URL and by repository and distributor id, with its auth_ca loaded as a
 * certificate store. One query reloads the list when the epoch of PULP_CHANGES_REPOSITORIES
 * has moved (change_notices.h), so a request for an unprotected tree costs hash lookups
 * only. The relative URL of the config protects a path at once, before the next publish
 * moves the link there. The ids protect the tree that a link still serves after its
 * distributor moved away, until the next publish of any distributor replaces or removes it.
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
    /* Reason that the stored auth_ca could not be loaded, or NULL. */
    const char *ca_error;
} pulp_protected_repo_t;

/* The distributor whose tree a link below published/yum/<scheme>/repos/ serves, read from
 * the link's target. */
typedef struct pulp_served_tree {
    const char *repo_id;
    const char *distributor_id;
} pulp_served_tree_t;

/* Creates the child's empty list; called from child_init. */
void pulp_protected_repos_child_init(apr_pool_t *pool);

/* Finds the protected distributors that guard path, a path below
 * published/yum/<scheme>/repos/ without "." segments or repeated slashes. found[0] is the
 * one whose relative_url contains path. found[1] is the owner of tree, the tree that the
 * link above path serves, when that owner is protected and not found[0]; tree may be NULL.
 * Each is NULL when there is none, and the client must pass the check of both. The results are
 * allocated from pool. With db, the list is reloaded first if the repositories changed
 * since it was loaded. Without db (the database cannot be reached), the list loaded last is
 * used as it is, and the call fails with PULP_ERR_UNAVAILABLE when this child has never
 * loaded one. */
pulp_status_t pulp_protected_repos_find(PGconn *db, const char *path,
                                        const pulp_served_tree_t *tree, apr_pool_t *pool,
                                        const pulp_protected_repo_t *found[2],
                                        pulp_error_t *error);

#endif
