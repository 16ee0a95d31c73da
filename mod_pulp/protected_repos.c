#include "protected_repos.h"

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/x509.h>

#include "change_notices.h"
#include "pulp_db.h"
#include "pulp_x509.h"

/* pulp_config_is_true accepts a JSON true or the string "true" in any case, so the query
 * compares the text of the value without case. */
#define PROTECTED_SQL                                                                      \
    "SELECT d.repo_id, d.distributor_id, d.config ->> 'relative_url', d.config ->> 'auth_ca'" \
    " FROM distributors d WHERE d.distributor_type_id = 'yum_distributor'"                 \
    " AND lower(d.config ->> 'protected') = 'true'"

/* Longer relative URLs are not indexed; the publish rejects them (PULP_STORAGE_PATH_MAX). */
#define URL_MAX 1024

typedef struct entry {
    const char *repo_id;
    const char *distributor_id;
    X509_STORE *store;
    const char *ca_error;
} entry_t;

/* One loaded list, valid while the epoch of PULP_CHANGES_REPOSITORIES is epoch. by_tree is
 * keyed by "<repo id>/<distributor id>"; neither id contains a '/'. */
typedef struct snapshot {
    apr_pool_t *pool;
    apr_hash_t *by_url;
    apr_hash_t *by_tree;
    unsigned long epoch;
} snapshot_t;

static apr_thread_mutex_t *mutex;
static snapshot_t *current;

static apr_status_t free_store(void *store)
{
    X509_STORE_free(store);
    return APR_SUCCESS;
}

static apr_status_t forget_current(void *data)
{
    (void)data;
    if (current)
        apr_pool_destroy(current->pool);
    current = NULL;
    return APR_SUCCESS;
}

void pulp_protected_repos_child_init(apr_pool_t *pool)
{
    if (apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS)
        mutex = NULL;
    else
        apr_pool_cleanup_register(pool, NULL, forget_current, apr_pool_cleanup_null);
}

/* Writes url into out in the form in which the access check compares request paths:
 * without "." segments and without repeated, leading or trailing slashes. Returns 0 for a
 * URL that no tree can be published at (empty, with a ".." segment, or too long). */
static int normalize_url(const char *url, char *out, size_t size)
{
    size_t used = 0;
    const char *segment = url;

    while (*segment) {
        size_t length = strcspn(segment, "/");

        if (length == 2 && strncmp(segment, "..", 2) == 0)
            return 0;
        if (length > 0 && !(length == 1 && segment[0] == '.')) {
            if (used + length + 2 > size)
                return 0;
            if (used > 0)
                out[used++] = '/';
            memcpy(out + used, segment, length);
            used += length;
        }
        segment += length;
        if (*segment == '/')
            segment++;
    }
    out[used] = '\0';
    return used > 0;
}

/* Indexes entry under url once normalized. Two distributors cannot have the same
 * relative_url text, but "a" and "a/" normalize alike, and the first one loaded wins. */
static void index_url(snapshot_t *snapshot, const char *url, entry_t *entry)
{
    char normalized[URL_MAX];
    const char *key;

    if (!url || !normalize_url(url, normalized, sizeof normalized))
        return;
    if (apr_hash_get(snapshot->by_url, normalized, APR_HASH_KEY_STRING))
        return;
    key = apr_pstrdup(snapshot->pool, normalized);
    apr_hash_set(snapshot->by_url, key, APR_HASH_KEY_STRING, entry);
}

static entry_t *make_entry(snapshot_t *snapshot, const PGresult *result, int row)
{
    entry_t *entry = apr_pcalloc(snapshot->pool, sizeof *entry);
    pulp_error_t error = PULP_ERROR_INIT;

    entry->repo_id = apr_pstrdup(snapshot->pool, PQgetvalue(result, row, 0));
    entry->distributor_id = apr_pstrdup(snapshot->pool, PQgetvalue(result, row, 1));
    apr_hash_set(snapshot->by_tree,
                 apr_pstrcat(snapshot->pool, entry->repo_id, "/", entry->distributor_id, NULL),
                 APR_HASH_KEY_STRING, entry);
    if (PQgetisnull(result, row, 3))
        return entry;
    if (pulp_x509_store_from_pem(PQgetvalue(result, row, 3), &entry->store, &error) == PULP_OK) {
        apr_pool_cleanup_register(snapshot->pool, entry->store, free_store,
                                  apr_pool_cleanup_null);
    } else {
        entry->ca_error = apr_pstrdup(snapshot->pool, error.message);
        pulp_error_clear(&error);
    }
    return entry;
}

static const char *nullable_value(const PGresult *result, int row, int column)
{
    return PQgetisnull(result, row, column) ? NULL : PQgetvalue(result, row, column);
}

static snapshot_t *load(PGconn *db, unsigned long epoch, pulp_error_t *error)
{
    PGresult *result = pulp_db_query(db, error, PROTECTED_SQL, 0, NULL);
    snapshot_t *snapshot;
    apr_pool_t *pool;
    int rows;

    if (!result)
        return NULL;
    /* A pool of its own, without a parent shared with other threads, since the list is
     * replaced while requests on other threads run. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        PQclear(result);
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not allocate the list of protected "
                       "repositories");
        return NULL;
    }
    snapshot = apr_pcalloc(pool, sizeof *snapshot);
    snapshot->pool = pool;
    snapshot->by_url = apr_hash_make(pool);
    snapshot->by_tree = apr_hash_make(pool);
    snapshot->epoch = epoch;
    rows = PQntuples(result);
    for (int row = 0; row < rows; row++)
        index_url(snapshot, nullable_value(result, row, 2), make_entry(snapshot, result, row));
    PQclear(result);
    return snapshot;
}

/* Returns the entry whose relative URL is path or a leading run of its segments. */
static const entry_t *lookup(const snapshot_t *snapshot, const char *path)
{
    size_t length = strlen(path);

    for (size_t end = 1; end <= length; end++) {
        const entry_t *entry;

        if (end < length && path[end] != '/')
            continue;
        entry = apr_hash_get(snapshot->by_url, path, (apr_ssize_t)end);
        if (entry)
            return entry;
    }
    return NULL;
}

/* Copies entry into pool with a reference to its store that the pool releases. */
static const pulp_protected_repo_t *copy_entry(const entry_t *entry, apr_pool_t *pool)
{
    pulp_protected_repo_t *repo;

    if (!entry)
        return NULL;
    repo = apr_pcalloc(pool, sizeof *repo);
    repo->repo_id = apr_pstrdup(pool, entry->repo_id);
    repo->distributor_id = apr_pstrdup(pool, entry->distributor_id);
    repo->ca_error = entry->ca_error ? apr_pstrdup(pool, entry->ca_error) : NULL;
    if (entry->store && X509_STORE_up_ref(entry->store)) {
        repo->store = entry->store;
        apr_pool_cleanup_register(pool, repo->store, free_store, apr_pool_cleanup_null);
    } else if (entry->store) {
        repo->ca_error = "could not take a reference to the certificate store";
    }
    return repo;
}

/* Returns the entry of the distributor whose tree the link at the top of the path serves,
 * unless it is already found by the path itself. */
static const entry_t *lookup_tree(const snapshot_t *snapshot, const pulp_served_tree_t *tree,
                                  const entry_t *by_url, apr_pool_t *pool)
{
    const entry_t *entry;

    if (!tree || !tree->repo_id)
        return NULL;
    entry = apr_hash_get(snapshot->by_tree,
                         apr_pstrcat(pool, tree->repo_id, "/", tree->distributor_id, NULL),
                         APR_HASH_KEY_STRING);
    return entry == by_url ? NULL : entry;
}

static void find_in(const snapshot_t *snapshot, const char *path, const pulp_served_tree_t *tree,
                    apr_pool_t *pool, const pulp_protected_repo_t *found[2])
{
    const entry_t *by_url = lookup(snapshot, path);

    found[0] = copy_entry(by_url, pool);
    found[1] = copy_entry(lookup_tree(snapshot, tree, by_url, pool), pool);
}

/* Looks path up in the current list if it may be used; returns 0 when it may not. */
static int find_current(PGconn *db, unsigned long epoch, const char *path,
                        const pulp_served_tree_t *tree, apr_pool_t *pool,
                        const pulp_protected_repo_t *found[2])
{
    int usable;

    apr_thread_mutex_lock(mutex);
    usable = current && (!db || current->epoch == epoch);
    if (usable)
        find_in(current, path, tree, pool, found);
    apr_thread_mutex_unlock(mutex);
    return usable;
}

pulp_status_t pulp_protected_repos_find(PGconn *db, const char *path,
                                        const pulp_served_tree_t *tree, apr_pool_t *pool,
                                        const pulp_protected_repo_t *found[2],
                                        pulp_error_t *error)
{
    unsigned long epoch = pulp_changes_epoch(PULP_CHANGES_REPOSITORIES);
    snapshot_t *fresh;
    snapshot_t *stale = NULL;

    found[0] = NULL;
    found[1] = NULL;
    if (!mutex)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "the list of protected repositories "
                              "was not set up in this httpd child");
    if (find_current(db, epoch, path, tree, pool, found))
        return PULP_OK;
    if (!db)
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not reach the database, and "
                              "this httpd child has not loaded the protected repositories "
                              "yet");

    fresh = load(db, epoch, error);
    if (!fresh)
        return error->status;
    apr_thread_mutex_lock(mutex);
    find_in(fresh, path, tree, pool, found);
    if (!current || fresh->epoch >= current->epoch) {
        stale = current;
        current = fresh;
    } else {
        stale = fresh;
    }
    apr_thread_mutex_unlock(mutex);
    if (stale)
        apr_pool_destroy(stale->pool);
    return PULP_OK;
}
