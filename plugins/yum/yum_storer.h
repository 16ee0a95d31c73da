/* A helper thread that does the filesystem work of storing downloads (yum_storer.c).
 *
 * Creating a file and its digest directory costs more kernel time per small package than
 * receiving it, so the download loop hands that work to this thread. The thread keeps
 * temporary files created ahead of need. It verifies and commits finished downloads into
 * the store while the loop receives the next ones. Jobs go in with yum_storer_submit and come back,
 * done, through yum_storer_collect. */
#ifndef PULP_YUM_STORER_H
#define PULP_YUM_STORER_H

#include <stdint.h>

#include "pulp_error.h"
#include "pulp_storage.h"

typedef struct yum_store_job {
    pulp_storage_file_t *file;
    const char *type_id;
    const char *filename;
    /* Expected size (< 0: unknown) and checksum (NULL: not checked). */
    int64_t expected_size;
    const char *expected_checksum;
    void *user_data;
    /* Set by the thread: the outcome, the reason of a failure and the store path. */
    pulp_status_t status;
    char message[sizeof ((pulp_error_t *)0)->message];
    char path[PULP_STORAGE_PATH_MAX];
} yum_store_job_t;

typedef struct yum_storer yum_storer_t;

/* Starts the thread for the store at storage_dir. */
yum_storer_t *yum_storer_start(const char *storage_dir, pulp_error_t *error);

/* Returns a new temporary file that verifies checksum_type (NULL: SHA-256 only): one
 * created ahead by the thread, or a new one when none is ready. */
pulp_storage_file_t *yum_storer_take_file(yum_storer_t *storer, const char *checksum_type,
                                          pulp_error_t *error);

/* Hands a finished download to the thread; the job comes back from yum_storer_collect. */
void yum_storer_submit(yum_storer_t *storer, yum_store_job_t *job);

/* Returns a done job, waiting up to wait_ms for one, or NULL. */
yum_store_job_t *yum_storer_collect(yum_storer_t *storer, int wait_ms);

/* Returns the number of jobs submitted and not collected yet. */
size_t yum_storer_pending(const yum_storer_t *storer);

/* Stops the thread and removes its spare files. Jobs it did not start come back from
 * yum_storer_collect with PULP_ERR_CANCELED; the caller collects every pending job, then
 * calls yum_storer_free. */
void yum_storer_stop(yum_storer_t *storer);
void yum_storer_free(yum_storer_t *storer);

#endif
