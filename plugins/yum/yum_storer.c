/* The storing thread of the package downloads (see yum_storer.h).
 *
 * Concurrency: the thread touches only the jobs in its queue and its spare files. The
 * queues are GAsyncQueues and the backlog an atomic counter. A job belongs to the download
 * thread until yum_storer_submit, and to whoever pops the done queue afterwards. The thread
 * never logs and never uses the database. */
#include "yum_storer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Temporary files kept ready: enough for the downloads that start before the thread runs
 * again, which is within a few milliseconds. */
#define SPARE_FILES 32
/* How long the thread waits for a job before it tops up its spare files, in microseconds. */
#define IDLE_WAIT_US 2000

struct yum_storer {
    char *storage_dir;
    GThread *thread;
    GAsyncQueue *submitted;
    GAsyncQueue *done;
    GAsyncQueue *spares;
    gint stopping;
    gint backlog;
};

static void store_job(yum_fetch_job_t *job)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_storage_file_t *file = job->file;

    job->status = pulp_storage_file_verify(file, job->expected_size, job->expected_checksum,
                                           &error);
    if (job->status == PULP_OK)
        job->status = pulp_storage_file_commit(file, job->type_id, job->filename,
                                               PULP_STORAGE_DEFER_SYNC, job->path,
                                               sizeof job->path, &error);
    if (job->status == PULP_OK) {
        snprintf(job->sha256, sizeof job->sha256, "%s", pulp_storage_file_sha256(file));
        job->size = pulp_storage_file_size(file);
    } else {
        snprintf(job->message, sizeof job->message, "invalid download of \"%.400s\": %.300s",
                 job->url, error.message);
    }
    pulp_error_clear(&error);
    /* Closing here keeps the open files bounded by the jobs in flight. */
    pulp_storage_file_free(file);
    job->file = NULL;
}

static void top_up_spares(yum_storer_t *storer)
{
    while (g_async_queue_length(storer->spares) < SPARE_FILES &&
           !g_atomic_int_get(&storer->stopping)) {
        pulp_storage_file_t *file = pulp_storage_file_new(storer->storage_dir, NULL, NULL);

        if (!file)
            return;
        g_async_queue_push(storer->spares, file);
    }
}

static gpointer run(gpointer baton)
{
    yum_storer_t *storer = baton;

    while (!g_atomic_int_get(&storer->stopping)) {
        yum_fetch_job_t *job = g_async_queue_timeout_pop(storer->submitted, IDLE_WAIT_US);

        if (job) {
            store_job(job);
            g_atomic_int_add(&storer->backlog, -1);
            g_async_queue_push(storer->done, job);
            continue;
        }
        top_up_spares(storer);
    }
    return NULL;
}

yum_storer_t *yum_storer_start(const char *storage_dir, GAsyncQueue *done, pulp_error_t *error)
{
    yum_storer_t *storer = g_new0(yum_storer_t, 1);
    GError *gerror = NULL;

    storer->storage_dir = g_strdup(storage_dir);
    storer->submitted = g_async_queue_new();
    storer->done = g_async_queue_ref(done);
    storer->spares = g_async_queue_new();
    storer->thread = g_thread_try_new("yum-storer", run, storer, &gerror);
    if (!storer->thread) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not start the storing thread: %s",
                       gerror ? gerror->message : "unknown error");
        g_clear_error(&gerror);
        yum_storer_free(storer);
        return NULL;
    }
    return storer;
}

pulp_storage_file_t *yum_storer_take_file(yum_storer_t *storer, const char *checksum_type,
                                          pulp_error_t *error)
{
    pulp_storage_file_t *file = g_async_queue_try_pop(storer->spares);

    if (!file)
        return pulp_storage_file_new(storer->storage_dir, checksum_type, error);
    if (pulp_storage_file_set_checksum_type(file, checksum_type, error) != PULP_OK) {
        pulp_storage_file_free(file);
        return NULL;
    }
    return file;
}

void yum_storer_submit(yum_storer_t *storer, yum_fetch_job_t *job)
{
    g_atomic_int_add(&storer->backlog, 1);
    g_async_queue_push(storer->submitted, job);
}

int yum_storer_backlog(yum_storer_t *storer)
{
    return g_atomic_int_get(&storer->backlog);
}

void yum_storer_stop(yum_storer_t *storer)
{
    yum_fetch_job_t *job;
    pulp_storage_file_t *file;

    if (!storer || !storer->thread)
        return;
    g_atomic_int_set(&storer->stopping, 1);
    g_thread_join(storer->thread);
    storer->thread = NULL;

    while ((job = g_async_queue_try_pop(storer->submitted))) {
        pulp_storage_file_free(job->file);
        job->file = NULL;
        job->status = PULP_ERR_CANCELED;
        snprintf(job->message, sizeof job->message, "the storing thread stopped");
        g_atomic_int_add(&storer->backlog, -1);
        g_async_queue_push(storer->done, job);
    }
    while ((file = g_async_queue_try_pop(storer->spares)))
        pulp_storage_file_free(file);
}

void yum_storer_free(yum_storer_t *storer)
{
    if (!storer)
        return;
    yum_storer_stop(storer);
    g_async_queue_unref(storer->submitted);
    g_async_queue_unref(storer->done);
    g_async_queue_unref(storer->spares);
    g_free(storer->storage_dir);
    g_free(storer);
}
