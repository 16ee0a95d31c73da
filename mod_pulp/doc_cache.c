#include "doc_cache.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

typedef struct slot {
    char *key;
    char *text;
    unsigned long epoch;
} slot_t;

struct pulp_doc_cache {
    slot_t *slots;
    unsigned n_slots;
    pulp_change_channel_t channel;
    apr_thread_mutex_t *mutex;
};

static apr_status_t free_slots(void *data)
{
    pulp_doc_cache_t *cache = data;

    for (unsigned i = 0; i < cache->n_slots; i++) {
        free(cache->slots[i].key);
        free(cache->slots[i].text);
    }
    free(cache->slots);
    cache->slots = NULL;
    cache->n_slots = 0;
    return APR_SUCCESS;
}

pulp_doc_cache_t *pulp_doc_cache_create(apr_pool_t *pool, unsigned n_slots,
                                        pulp_change_channel_t channel)
{
    pulp_doc_cache_t *cache = apr_pcalloc(pool, sizeof *cache);

    cache->slots = calloc(n_slots, sizeof *cache->slots);
    if (!cache->slots ||
        apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS) {
        free(cache->slots);
        return NULL;
    }
    cache->n_slots = n_slots;
    cache->channel = channel;
    apr_pool_cleanup_register(pool, cache, free_slots, apr_pool_cleanup_null);
    return cache;
}

/* FNV-1a. */
static slot_t *slot_of(pulp_doc_cache_t *cache, const char *key)
{
    unsigned long hash = 2166136261u;

    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        hash = (hash ^ *c) * 16777619u;
    return &cache->slots[hash % cache->n_slots];
}

const char *pulp_doc_cache_get(pulp_doc_cache_t *cache, const char *key, apr_pool_t *pool,
                               unsigned long *epoch)
{
    const char *copy = NULL;
    slot_t *slot;

    *epoch = 0;
    if (!cache)
        return NULL;
    *epoch = pulp_changes_epoch(cache->channel);
    slot = slot_of(cache, key);
    if (apr_thread_mutex_lock(cache->mutex) != APR_SUCCESS)
        return NULL;
    if (slot->key && slot->epoch == *epoch && strcmp(slot->key, key) == 0)
        copy = apr_pstrdup(pool, slot->text);
    apr_thread_mutex_unlock(cache->mutex);
    return copy;
}

void pulp_doc_cache_put(pulp_doc_cache_t *cache, const char *key, unsigned long epoch,
                        const char *text)
{
    char *key_copy;
    char *text_copy;
    slot_t *slot;

    if (!cache || epoch == 0 || strlen(text) > PULP_DOC_CACHE_MAX_TEXT ||
        epoch != pulp_changes_epoch(cache->channel))
        return;
    key_copy = strdup(key);
    text_copy = strdup(text);
    slot = slot_of(cache, key);
    if (!key_copy || !text_copy || apr_thread_mutex_lock(cache->mutex) != APR_SUCCESS) {
        free(key_copy);
        free(text_copy);
        return;
    }
    free(slot->key);
    free(slot->text);
    slot->key = key_copy;
    slot->text = text_copy;
    slot->epoch = epoch;
    apr_thread_mutex_unlock(cache->mutex);
}
