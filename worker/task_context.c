/* The task context: what a task implementation gets from the task process (task_context.h).
 *
 * Cancellation arrives as a signal from the supervisor, which heard the API's NOTIFY; the
 * handler only sets a flag. Progress writes read cancel_requested in the same round trip,
 * so a cancel is also seen when the supervisor could not signal. */
#include "task_context.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_backoff.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "worker.h"

/* At most this many progress writes per second reach the database. */
#define PROGRESS_INTERVAL_MS 250

static volatile sig_atomic_t cancel_signaled;
static volatile sig_atomic_t abort_signaled;

struct pulp_task_context {
    PGconn *db;
    char task_id[PULP_UUID_LENGTH + 1];
    json_object *args;
    const char *storage_dir;
    const char *worker_name;
    const char *queue;
    int cancel_seen;
    int64_t last_progress_ms;
    /* The latest report as JSON text, and whether it still has to be written. */
    char *progress;
    int progress_pending;
    char (*spawned)[PULP_UUID_LENGTH + 1];
    size_t n_spawned;
    size_t spawned_capacity;
};

void pulp_task_context_on_signal(int signal_number)
{
    if (signal_number == SIGUSR2)
        abort_signaled = 1;
    cancel_signaled = 1;
}

void pulp_task_context_reset_signals(void)
{
    cancel_signaled = 0;
}

int pulp_task_context_aborted(void)
{
    return abort_signaled;
}

pulp_task_context_t *pulp_task_context_new(PGconn *db, const char *task_id, json_object *args,
                                           const char *storage_dir, const char *worker_name,
                                           const char *queue)
{
    pulp_task_context_t *ctx = calloc(1, sizeof *ctx);

    if (!ctx)
        return NULL;
    ctx->db = db;
    snprintf(ctx->task_id, sizeof ctx->task_id, "%s", task_id);
    ctx->args = args;
    ctx->storage_dir = storage_dir;
    ctx->worker_name = worker_name;
    ctx->queue = queue;
    return ctx;
}

void pulp_task_context_free(pulp_task_context_t *ctx)
{
    if (!ctx)
        return;
    free(ctx->progress);
    free(ctx->spawned);
    free(ctx);
}

const char *pulp_task_context_progress(pulp_task_context_t *ctx)
{
    return ctx->progress;
}

size_t pulp_task_context_spawned(pulp_task_context_t *ctx,
                                 const char (**ids)[PULP_UUID_LENGTH + 1])
{
    *ids = (const char (*)[PULP_UUID_LENGTH + 1])ctx->spawned;
    return ctx->n_spawned;
}

PGconn *pulp_task_db(pulp_task_context_t *ctx)
{
    return ctx->db;
}

const char *pulp_task_id(pulp_task_context_t *ctx)
{
    return ctx->task_id;
}

json_object *pulp_task_args(pulp_task_context_t *ctx)
{
    return ctx->args;
}

const char *pulp_task_storage_dir(pulp_task_context_t *ctx)
{
    return ctx->storage_dir;
}

const char *pulp_task_worker_name(pulp_task_context_t *ctx)
{
    return ctx->worker_name;
}

int pulp_task_cancel_requested(pulp_task_context_t *ctx)
{
    /* A task whose session ended has lost its locks, so it must stop as if canceled. */
    return cancel_signaled || ctx->cancel_seen || pulp_db_connection_lost(ctx->db);
}

static const char progress_sql[] =
    "UPDATE tasks SET progress_report = $2::jsonb WHERE task_id = $1 RETURNING cancel_requested";

/* Writes the pending report and reads cancel_requested in the same round trip. Skipped while
 * the task has a transaction open, since the write would be rolled back with it. */
static void write_progress(pulp_task_context_t *ctx)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[2] = { ctx->task_id, ctx->progress };
    PGresult *result;

    if (PQtransactionStatus(ctx->db) != PQTRANS_IDLE)
        return;
    ctx->last_progress_ms = pulp_monotonic_ms();
    ctx->progress_pending = 0;
    result = pulp_db_query(ctx->db, &error, progress_sql, 2, params);
    if (!result) {
        pulp_log_warning("could not store the progress report: %s", error.message);
        pulp_error_clear(&error);
        return;
    }
    if (PQntuples(result) == 1 && strcmp(PQgetvalue(result, 0, 0), "t") == 0)
        ctx->cancel_seen = 1;
    PQclear(result);
}

pulp_status_t pulp_task_report_progress(pulp_task_context_t *ctx, json_object *progress_report,
                                        int force)
{
    const char *text = json_object_to_json_string_ext(progress_report, JSON_C_TO_STRING_PLAIN);
    char *copy = strdup(text ? text : "{}");

    if (copy) {
        free(ctx->progress);
        ctx->progress = copy;
        ctx->progress_pending = 1;
    }
    if (ctx->progress_pending &&
        (force || pulp_monotonic_ms() - ctx->last_progress_ms >= PROGRESS_INTERVAL_MS))
        write_progress(ctx);
    return pulp_task_cancel_requested(ctx) ? PULP_ERR_CANCELED : PULP_OK;
}

static const char add_spawned_sql[] =
    "UPDATE tasks SET spawned_tasks = spawned_tasks || $2::uuid WHERE task_id = $1";

pulp_status_t pulp_task_spawn(pulp_task_context_t *ctx, const pulp_task_spec_t *spec,
                              char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    const char *params[2] = { ctx->task_id, task_id };
    size_t needed = ctx->n_spawned + 1;
    pulp_task_spec_t queued = *spec;

    if (needed > ctx->spawned_capacity) {
        size_t capacity = ctx->spawned_capacity ? ctx->spawned_capacity * 2 : 4;
        void *larger = realloc(ctx->spawned, capacity * sizeof *ctx->spawned);

        if (!larger)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        ctx->spawned = larger;
        ctx->spawned_capacity = capacity;
    }
    queued.queue = ctx->queue;
    if (pulp_task_insert(ctx->db, &queued, task_id, error) != PULP_OK)
        return error->status;
    if (pulp_db_command(ctx->db, error, add_spawned_sql, 2, params) != PULP_OK)
        return error->status;
    snprintf(ctx->spawned[ctx->n_spawned++], PULP_UUID_LENGTH + 1, "%s", task_id);
    return PULP_OK;
}
