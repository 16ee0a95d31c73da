/* A per-child cache of JSON documents, by key, valid while one change channel's epoch stays
 * what it was before the document was read (change_notices.h).
 *
 * Each slot holds one document; a key goes to one slot by its hash, so a busy cache replaces
 * rather than grows. Documents larger than PULP_DOC_CACHE_MAX_TEXT are not kept.
 *
 * Concurrency: shared by the threads of one httpd child, guarded by one mutex held only to
 * copy a document in or out. */
#ifndef PULP_DOC_CACHE_H
#define PULP_DOC_CACHE_H

#include <apr_pools.h>

#include "change_notices.h"

#define PULP_DOC_CACHE_MAX_TEXT (256 * 1024)

typedef struct pulp_doc_cache pulp_doc_cache_t;

/* Returns a cache of n_slots slots tied to channel, freed with pool; NULL when it cannot be
 * made, which every other function takes as a cache that holds nothing. */
pulp_doc_cache_t *pulp_doc_cache_create(apr_pool_t *pool, unsigned n_slots,
                                        pulp_change_channel_t channel);

/* Returns a copy (from pool) of the document of key, or NULL. *epoch gets the epoch to pass
 * to pulp_doc_cache_put for a document read from the database after this call. */
const char *pulp_doc_cache_get(pulp_doc_cache_t *cache, const char *key, apr_pool_t *pool,
                               unsigned long *epoch);

/* Stores text as the document of key, unless the channel's epoch has moved past epoch. */
void pulp_doc_cache_put(pulp_doc_cache_t *cache, const char *key, unsigned long epoch,
                        const char *text);

#endif
