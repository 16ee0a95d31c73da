/* The download thread of the package downloads (see yum_fetcher.h).
 *
 * Concurrency: the download thread alone uses the downloader and its easy handles, except for
 * pulp_downloader_wakeup, which yum_fetcher_submit and yum_fetcher_stop call from the sync's
 * thread. Jobs pass between threads through GAsyncQueues only. The thread takes a job's
 * temporary file when its transfer starts, so open files stay bounded by the transfers
 * running and the storing thread's backlog, not by the jobs queued. */
#include "yum_fetcher.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "yum_storer.h"

/* Transfers handed to the downloader beyond those running, so that one starts as soon as
 * another ends. */
#define QUEUED_TRANSFERS 4
/* Downloaded files that may wait for the storing thread, each with an open file. */
#define STORE_BACKLOG 64
/* Maximum wait of the download thread for a transfer or a new job, in milliseconds. */
#define POLL_MS 100

struct yum_fetcher {
    pulp_downloader_t *downloader;
    yum_storer_t *storer;
    int max_parallel;
    GThread *thread;
    GAsyncQueue *submitted;
    GAsyncQueue *done;
    gint stopping;
    /* Owned by the download thread: jobs submitted and not handed to the downloader yet, and
     * jobs inside the downloader. */
    GQueue waiting;
    GHashTable *transferring;
};

static void fail_job(yum_fetcher_t *fetcher, yum_fetch_job_t *job, pulp_status_t status,
                     const char *message)
{
    pulp_storage_file_free(job->file);
    job->file = NULL;
    job->status = status;
    snprintf(job->message, sizeof job->message, "%.760s", message);
    g_async_queue_push(fetcher->done, job);
}

static void start_job(yum_fetcher_t *fetcher, yum_fetch_job_t *job)
{
    pulp_error_t error = PULP_ERROR_INIT;

    job->file = yum_storer_take_file(fetcher->storer, job->checksum_type, &error);
    if (job->file &&
        pulp_downloader_add(fetcher->downloader, job->url, job->file, job, &error) == PULP_OK) {
        g_hash_table_add(fetcher->transferring, job);
        return;
    }
    fail_job(fetcher, job, error.status, error.message);
    pulp_error_clear(&error);
}

/* Moves new jobs to the waiting queue, then hands waiting jobs to the downloader while it
 * has room and the storing thread keeps up. */
static void start_jobs(yum_fetcher_t *fetcher)
{
    size_t room = (size_t)fetcher->max_parallel + QUEUED_TRANSFERS;
    yum_fetch_job_t *job;

    while ((job = g_async_queue_try_pop(fetcher->submitted)))
        g_queue_push_tail(&fetcher->waiting, job);
    while (!g_queue_is_empty(&fetcher->waiting) &&
           pulp_downloader_active(fetcher->downloader) < room &&
           yum_storer_backlog(fetcher->storer) < STORE_BACKLOG)
        start_job(fetcher, g_queue_pop_head(&fetcher->waiting));
}

static void take_results(yum_fetcher_t *fetcher)
{
    pulp_download_result_t results[32];
    int count = pulp_downloader_perform(fetcher->downloader, POLL_MS, results, 32);

    for (int i = 0; i < count; i++) {
        yum_fetch_job_t *job = results[i].user_data;

        g_hash_table_remove(fetcher->transferring, job);
        if (results[i].status == PULP_OK)
            yum_storer_submit(fetcher->storer, job);
        else
            fail_job(fetcher, job, results[i].status, results[i].message);
    }
}

/* Waits for a new job while nothing transfers; puts it back for start_jobs. */
static void wait_for_job(yum_fetcher_t *fetcher)
{
    yum_fetch_job_t *job = g_async_queue_timeout_pop(fetcher->submitted,
                                                     (guint64)POLL_MS * 1000);

    if (job)
        g_queue_push_tail(&fetcher->waiting, job);
}

static gpointer run(gpointer baton)
{
    yum_fetcher_t *fetcher = baton;

    while (!g_atomic_int_get(&fetcher->stopping)) {
        start_jobs(fetcher);
        if (pulp_downloader_active(fetcher->downloader) > 0)
            take_results(fetcher);
        else if (g_queue_is_empty(&fetcher->waiting))
            wait_for_job(fetcher);
        else
            /* The storing thread is behind: give it a moment. */
            g_usleep(1000);
    }
    return NULL;
}

yum_fetcher_t *yum_fetcher_start(const char *storage_dir, const pulp_download_options_t *options,
                                 pulp_error_t *error)
{
    yum_fetcher_t *fetcher = g_new0(yum_fetcher_t, 1);
    GError *gerror = NULL;

    fetcher->max_parallel = options->max_parallel > 0 ? options->max_parallel : 1;
    fetcher->submitted = g_async_queue_new();
    fetcher->done = g_async_queue_new();
    g_queue_init(&fetcher->waiting);
    fetcher->transferring = g_hash_table_new(g_direct_hash, g_direct_equal);
    fetcher->downloader = pulp_downloader_new(options, error);
    if (!fetcher->downloader)
        goto fail;
    fetcher->storer = yum_storer_start(storage_dir, fetcher->done, error);
    if (!fetcher->storer)
        goto fail;
    fetcher->thread = g_thread_try_new("yum-download", run, fetcher, &gerror);
    if (!fetcher->thread) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not start the download thread: %s",
                       gerror ? gerror->message : "unknown error");
        g_clear_error(&gerror);
        goto fail;
    }
    return fetcher;

fail:
    yum_fetcher_free(fetcher);
    return NULL;
}

void yum_fetcher_submit(yum_fetcher_t *fetcher, yum_fetch_job_t *job)
{
    g_async_queue_push(fetcher->submitted, job);
    pulp_downloader_wakeup(fetcher->downloader);
}

yum_fetch_job_t *yum_fetcher_collect(yum_fetcher_t *fetcher, int wait_ms)
{
    if (wait_ms > 0)
        return g_async_queue_timeout_pop(fetcher->done, (guint64)wait_ms * 1000);
    return g_async_queue_try_pop(fetcher->done);
}

/* Sends back, canceled, every job that the download thread held when it stopped. */
static void cancel_held_jobs(yum_fetcher_t *fetcher)
{
    const char *message = "the download thread stopped";
    GHashTableIter iter;
    gpointer job;

    while ((job = g_async_queue_try_pop(fetcher->submitted)))
        g_queue_push_tail(&fetcher->waiting, job);
    while ((job = g_queue_pop_head(&fetcher->waiting)))
        fail_job(fetcher, job, PULP_ERR_CANCELED, message);
    /* The transfers write into the jobs' files: they end first. */
    pulp_downloader_free(fetcher->downloader);
    fetcher->downloader = NULL;
    g_hash_table_iter_init(&iter, fetcher->transferring);
    while (g_hash_table_iter_next(&iter, &job, NULL))
        fail_job(fetcher, job, PULP_ERR_CANCELED, message);
    g_hash_table_remove_all(fetcher->transferring);
}

void yum_fetcher_stop(yum_fetcher_t *fetcher)
{
    if (!fetcher || !fetcher->thread)
        return;
    g_atomic_int_set(&fetcher->stopping, 1);
    pulp_downloader_wakeup(fetcher->downloader);
    g_thread_join(fetcher->thread);
    fetcher->thread = NULL;
    cancel_held_jobs(fetcher);
    yum_storer_stop(fetcher->storer);
}

void yum_fetcher_free(yum_fetcher_t *fetcher)
{
    if (!fetcher)
        return;
    yum_fetcher_stop(fetcher);
    yum_storer_free(fetcher->storer);
    pulp_downloader_free(fetcher->downloader);
    g_hash_table_destroy(fetcher->transferring);
    g_async_queue_unref(fetcher->submitted);
    g_async_queue_unref(fetcher->done);
    g_free(fetcher);
}
