/* A per-child cache of the repository list (GET /repositories/ without criteria), dropped
 * whenever PostgreSQL reports a change of repositories, importers, distributors or unit
 * associations.
 *
 * Every database connection of the module LISTENs on pulp_repositories_changed, which the
 * tables' triggers notify at commit (sql/002_repositories.sql). A request reads the
 * notifications that its connection received before it looks at the cache. Since the
 * request's credential check is a query on the same connection, and PostgreSQL delivers a
 * pending notification to an idle session before it executes that session's next query, any
 * change committed before the request began has been seen. So a client always reads its own
 * writes, on every host.
 *
 * NOTE: a long-lived development stack once listed fewer repositories than the table
 * contained. It has not been reproduced. If it recurs, look at this cache first. */
#ifndef PULP_REPO_CACHE_H
#define PULP_REPO_CACHE_H

#include <apr_pools.h>
#include <libpq-fe.h>

#define PULP_REPO_CACHE_CHANNEL "pulp_repositories_changed"

/* Sets up the cache of this child; called from child_init. */
void pulp_repo_cache_child_init(apr_pool_t *pool);

/* Drops every cached list: for a connection that just started to LISTEN, since changes
 * committed before that were never notified to it. */
void pulp_repo_cache_invalidate(void);

/* Reads the notifications that conn has received and drops the cache when there is one. */
void pulp_repo_cache_drain(PGconn *conn);

/* Returns a copy (from pool) of the cached list of variant (0 to 3), or NULL. *epoch gets the
 * cache's epoch, which pulp_repo_cache_put needs: the result of a query started after this
 * call is stored only if nothing changed meanwhile. */
const char *pulp_repo_cache_get(int variant, apr_pool_t *pool, unsigned long *epoch);

/* Stores text as the list of variant if the cache's epoch still equals epoch. */
void pulp_repo_cache_put(int variant, unsigned long epoch, const char *text);

#endif
