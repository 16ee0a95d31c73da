/* The interface between the worker and a task implementation: the task's own database
 * connection (the one with its locks), its arguments, progress reports and cancellation. */
#ifndef PULP_TASK_CONTEXT_H
#define PULP_TASK_CONTEXT_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "pulp_error.h"
#include "pulp_task.h"

typedef struct pulp_task_context pulp_task_context_t;

/* Runs one task. On success returns PULP_OK and may set *result (owned by the caller
 * afterwards) to the task's result document. On failure fills error; PULP_ERR_CANCELED ends
 * the task "canceled". The implementation must leave nothing visible half-done on failure:
 * repository changes go in one transaction at the end. */
typedef pulp_status_t (*pulp_task_run_t)(pulp_task_context_t *ctx, json_object **result,
                                         pulp_error_t *error);

typedef struct pulp_task_kind {
    const char *task_type;
    pulp_task_run_t run;
} pulp_task_kind_t;

PGconn *pulp_task_db(pulp_task_context_t *ctx);
const char *pulp_task_id(pulp_task_context_t *ctx);
json_object *pulp_task_args(pulp_task_context_t *ctx);
const char *pulp_task_storage_dir(pulp_task_context_t *ctx);
const char *pulp_task_worker_name(pulp_task_context_t *ctx);

/* Stores progress_report (borrowed) as the task's progress report, at most a few times a
 * second (calls in between only remember it; force writes at once). Returns PULP_ERR_CANCELED
 * once a cancel was requested, so a long loop stops at its next report. */
pulp_status_t pulp_task_report_progress(pulp_task_context_t *ctx, json_object *progress_report,
                                        int force);

/* Returns 1 once the task has been asked to stop (checked without a database round trip). */
int pulp_task_cancel_requested(pulp_task_context_t *ctx);

/* Dispatches a follow-up task (such as an auto-publish after a sync). It is inserted at once
 * and listed in this task's spawned_tasks; its message is sent when this task ends. */
pulp_status_t pulp_task_spawn(pulp_task_context_t *ctx, const pulp_task_spec_t *spec,
                              char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error);

#endif
