/* Concurrency: the cache is shared by the threads of one httpd child and guarded by one
 * mutex, held only to compare the epoch and copy an entry in or out. Each child of each host
 * has its own cache. */
#include "repo_cache.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

/* One entry per combination of the importers and distributors flags. */
#define VARIANTS 4

typedef struct cache_entry {
    char *text;
    unsigned long epoch;
} cache_entry_t;

static cache_entry_t entries[VARIANTS];
static unsigned long current_epoch = 1;
static apr_thread_mutex_t *cache_mutex;

static apr_status_t free_entries(void *data)
{
    (void)data;
    for (int i = 0; i < VARIANTS; i++) {
        free(entries[i].text);
        entries[i].text = NULL;
    }
    return APR_SUCCESS;
}

void pulp_repo_cache_child_init(apr_pool_t *pool)
{
    /* Without the mutex the cache stays off: every list is read from the database. */
    if (apr_thread_mutex_create(&cache_mutex, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS)
        cache_mutex = NULL;
    apr_pool_cleanup_register(pool, NULL, free_entries, apr_pool_cleanup_null);
}

void pulp_repo_cache_invalidate(void)
{
    if (!cache_mutex || apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return;
    current_epoch++;
    apr_thread_mutex_unlock(cache_mutex);
}

void pulp_repo_cache_drain(PGconn *conn)
{
    PGnotify *notify;
    int changed = 0;

    if (PQconsumeInput(conn) == 0) {
        /* The connection is broken: its notifications are lost, so nothing cached is sure. */
        pulp_repo_cache_invalidate();
        return;
    }
    for (notify = PQnotifies(conn); notify; notify = PQnotifies(conn)) {
        changed = changed || strcmp(notify->relname, PULP_REPO_CACHE_CHANNEL) == 0;
        PQfreemem(notify);
    }
    if (changed)
        pulp_repo_cache_invalidate();
}

const char *pulp_repo_cache_get(int variant, apr_pool_t *pool, unsigned long *epoch)
{
    const char *copy = NULL;

    *epoch = 0;
    if (!cache_mutex || variant < 0 || variant >= VARIANTS ||
        apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS)
        return NULL;
    *epoch = current_epoch;
    if (entries[variant].text && entries[variant].epoch == current_epoch)
        copy = apr_pstrdup(pool, entries[variant].text);
    apr_thread_mutex_unlock(cache_mutex);
    return copy;
}

void pulp_repo_cache_put(int variant, unsigned long epoch, const char *text)
{
    char *copy;

    if (!cache_mutex || epoch == 0 || variant < 0 || variant >= VARIANTS)
        return;
    copy = strdup(text);
    if (!copy || apr_thread_mutex_lock(cache_mutex) != APR_SUCCESS) {
        free(copy);
        return;
    }
    if (epoch == current_epoch) {
        free(entries[variant].text);
        entries[variant].text = copy;
        entries[variant].epoch = epoch;
        copy = NULL;
    }
    apr_thread_mutex_unlock(cache_mutex);
    free(copy);
}
