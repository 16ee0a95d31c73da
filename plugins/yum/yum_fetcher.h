/* Package downloads on two helper threads (yum_fetcher.c and yum_storer.c).
 *
 * The sync's own thread parses metadata and runs SQL while packages download: it submits
 * jobs with yum_fetcher_submit and takes them back, done, with yum_fetcher_collect. A job
 * goes to the download thread, which runs the transfers with libcurl's multi interface into
 * temporary files, then to the storing thread, which verifies each file against its expected
 * size and checksum and commits it into the store, then back. A job that fails anywhere comes
 * back with its reason. Every submitted job comes back exactly once, also after
 * yum_fetcher_stop. */
#ifndef PULP_YUM_FETCHER_H
#define PULP_YUM_FETCHER_H

#include <stdint.h>

#include "pulp_error.h"
#include "pulp_storage.h"
#include "yum_download.h"

typedef struct yum_fetch_job {
    /* Set by the caller; the strings stay valid until the job comes back. */
    const char *url;
    const char *type_id;
    const char *filename;
    /* The type of expected_checksum, or NULL when no checksum is verified. */
    const char *checksum_type;
    const char *expected_checksum;
    /* Expected size in bytes (< 0: unknown). */
    int64_t expected_size;
    void *user_data;

    /* Used by the helper threads. */
    pulp_storage_file_t *file;

    /* Set when the job comes back: the outcome, a failure's message (naming the URL and the
     * reason), and on success the store path (relative to the storage directory), SHA-256
     * and size of the file. The file is committed with deferred durability:
     * pulp_storage_sync makes it durable. */
    pulp_status_t status;
    char message[768];
    char path[PULP_STORAGE_PATH_MAX];
    char sha256[PULP_SHA256_HEX_LENGTH + 1];
    uint64_t size;
} yum_fetch_job_t;

typedef struct yum_fetcher yum_fetcher_t;

/* Starts both threads for the store at storage_dir, with the transfer options. */
yum_fetcher_t *yum_fetcher_start(const char *storage_dir, const pulp_download_options_t *options,
                                 pulp_error_t *error);

/* Queues a job; the download thread starts it when a transfer slot is free. */
void yum_fetcher_submit(yum_fetcher_t *fetcher, yum_fetch_job_t *job);

/* Returns a job that came back, waiting up to wait_ms for one, or NULL. */
yum_fetch_job_t *yum_fetcher_collect(yum_fetcher_t *fetcher, int wait_ms);

/* Stops both threads. The jobs that did not finish come back from yum_fetcher_collect with
 * PULP_ERR_CANCELED. */
void yum_fetcher_stop(yum_fetcher_t *fetcher);
void yum_fetcher_free(yum_fetcher_t *fetcher);

#endif
