/* The storing thread of the package downloads (yum_storer.c), used by yum_fetcher.c.
 *
 * Creating a file costs more kernel time per small package than receiving it, so the
 * download thread hands that work to this thread. The thread keeps temporary files created
 * ahead of need, and verifies and commits finished downloads into the store while the
 * download thread receives the next ones. Each finished job goes to the done queue that
 * yum_storer_start was given. */
#ifndef PULP_YUM_STORER_H
#define PULP_YUM_STORER_H

#include <glib.h>

#include "pulp_error.h"
#include "pulp_storage.h"
#include "yum_fetcher.h"

typedef struct yum_storer yum_storer_t;

/* Starts the thread for the store at storage_dir; done jobs go to done. */
yum_storer_t *yum_storer_start(const char *storage_dir, GAsyncQueue *done, pulp_error_t *error);

/* Returns a new temporary file that verifies checksum_type (NULL: SHA-256 only): one
 * created ahead by the thread, or a new one when none is ready. Any thread may call it. */
pulp_storage_file_t *yum_storer_take_file(yum_storer_t *storer, const char *checksum_type,
                                          pulp_error_t *error);

/* Hands a downloaded job (job->file filled) to the thread. It verifies the file, commits it
 * with deferred durability, fills path, sha256 and size, frees the file and pushes the job
 * to the done queue. */
void yum_storer_submit(yum_storer_t *storer, yum_fetch_job_t *job);

/* Returns the number of jobs submitted and not finished yet. Any thread may call it. */
int yum_storer_backlog(yum_storer_t *storer);

/* Stops the thread and removes its spare files. Jobs it did not start go to the done queue
 * with PULP_ERR_CANCELED. */
void yum_storer_stop(yum_storer_t *storer);
void yum_storer_free(yum_storer_t *storer);

#endif
