/* The scheduler, a job of the housekeeping leader: dispatches the syncs and publishes of due
 * schedules (the schedules table, written by mod_pulp/schedules.c).
 *
 * Each due schedule is handled in its own transaction on the leader's session. The row is
 * locked with FOR UPDATE SKIP LOCKED. The task row is inserted exactly as the API inserts it
 * (same type, tags, resource locks and arguments, plus schedule_id). The schedule's run
 * counters and next run are updated before the same commit. A second leader during a
 * hand-over skips the locked row, and once the first one commits the row is no longer due
 * (FOR UPDATE checks the committed row again), so a run is never dispatched twice.
 *
 * The dispatch message is sent after the commit. When that send fails, the task waits like
 * any task whose message was lost, until the leader's sweeper re-sends it.
 *
 * A due schedule whose previous task is still waiting or running is left alone. It runs once
 * when that task has ended, then continues on its grid.
 *
 * Like the API's sync and publish actions, the leader checks the owner's configuration with
 * the schedule's override_config merged in before it dispatches. The API checked it when the
 * schedule was stored, but the owner's configuration may have changed since. A run whose
 * configuration is invalid is not dispatched and counts as a failure. */
#include "supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_plugins.h"
#include "pulp_schedule.h"
#include "pulp_task.h"

/* Schedules dispatched per run of the job, at most. The rest wait for the next second. */
#define MAX_DISPATCHES_PER_RUN 100

/* The due condition over "schedules s": enabled, due, runs left, an existing owner, and no
 * unfinished previous task. The partial index schedules_due covers the first two. */
#define DUE_SCHEDULE_SQL \
    " s.enabled AND s.next_run <= now() AND coalesce(s.remaining_runs, 1) > 0" \
    " AND CASE s.action" \
    "     WHEN 'sync' THEN EXISTS (SELECT 1 FROM importers i" \
    "                               WHERE i.repo_id = s.repo_id" \
    "                               AND i.importer_type_id = s.owner_id)" \
    "     ELSE EXISTS (SELECT 1 FROM distributors d" \
    "                  WHERE d.repo_id = s.repo_id AND d.distributor_id = s.owner_id) END" \
    " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = s.last_task_id" \
    "                 AND t.state IN ('waiting', 'running'))"

/* The check that runs once per second outside a transaction, so that an idle deployment
 * costs one statement per second. */
static const char any_due_sql[] = "SELECT 1 FROM schedules s WHERE" DUE_SCHEDULE_SQL " LIMIT 1";

static const char lock_due_sql[] =
    "SELECT s.id, s.action, s.repo_id, s.owner_id, s.schedule,"
    " floor(extract(epoch FROM s.first_run))::bigint AS first_run, s.remaining_runs,"
    " s.override_config::text AS override_config,"
    " floor(extract(epoch FROM now()))::bigint AS now,"
    " CASE s.action WHEN 'sync' THEN s.owner_id"
    "     ELSE (SELECT d.distributor_type_id FROM distributors d"
    "           WHERE d.repo_id = s.repo_id AND d.distributor_id = s.owner_id) END"
    "   AS owner_type_id,"
    " CASE s.action"
    "     WHEN 'sync' THEN (SELECT i.config::text FROM importers i"
    "                       WHERE i.repo_id = s.repo_id AND i.importer_type_id = s.owner_id)"
    "     ELSE (SELECT d.config::text FROM distributors d"
    "           WHERE d.repo_id = s.repo_id AND d.distributor_id = s.owner_id) END"
    "   AS owner_config"
    " FROM schedules s WHERE" DUE_SCHEDULE_SQL
    " ORDER BY s.next_run LIMIT 1 FOR UPDATE OF s SKIP LOCKED";

static const char record_run_sql[] =
    "UPDATE schedules SET last_run_at = now(), last_task_id = $2::uuid,"
    " total_run_count = total_run_count + 1, remaining_runs = $3::integer,"
    " next_run = to_timestamp($4::bigint), enabled = $5::boolean"
    " WHERE id = $1::uuid";

static const char disable_sql[] = "UPDATE schedules SET enabled = false WHERE id = $1::uuid";

/* A run that could not be dispatched: a failure, as in PULP_SCHEDULE_RECORD_END_SQL, and the
 * next run on the grid. */
static const char record_failure_sql[] =
    "UPDATE schedules SET consecutive_failures = consecutive_failures + 1,"
    " next_run = to_timestamp($2::bigint),"
    " enabled = $3::boolean AND NOT (coalesce(failure_threshold, 0) > 0"
    "                                AND consecutive_failures + 1 >= failure_threshold)"
    " WHERE id = $1::uuid";

/* The schedule's state after this run, as SQL parameter texts (NULL for SQL NULL). */
typedef struct next_state {
    char remaining_runs[32];
    char next_run[32];
    const char *remaining_runs_param;
    const char *next_run_param;
    const char *enabled;
} next_state_t;

/* Computes remaining_runs, next_run (the next grid point after now) and enabled. A schedule
 * whose runs are used up, or that has no run left before the year 10000, is disabled. */
static void compute_next_state(const PGresult *row, const pulp_schedule_t *schedule,
                               next_state_t *state)
{
    const char *remaining = pulp_db_value(row, 0, "remaining_runs");
    int64_t first_run = strtoll(pulp_db_value(row, 0, "first_run"), NULL, 10);
    int64_t now = strtoll(pulp_db_value(row, 0, "now"), NULL, 10);
    int64_t runs_left = remaining ? strtoll(remaining, NULL, 10) - 1 : -1;
    int64_t next_run = PULP_SCHEDULE_NO_RUN;

    if (runs_left != 0)
        next_run = pulp_schedule_next_run(schedule, first_run, now);

    snprintf(state->remaining_runs, sizeof state->remaining_runs, "%lld", (long long)runs_left);
    snprintf(state->next_run, sizeof state->next_run, "%lld", (long long)next_run);
    state->remaining_runs_param = runs_left >= 0 ? state->remaining_runs : NULL;
    state->next_run_param = next_run != PULP_SCHEDULE_NO_RUN ? state->next_run : NULL;
    state->enabled = next_run != PULP_SCHEDULE_NO_RUN ? "true" : "false";
}

/* Inserts the task of the schedule in row, in the caller's transaction, as the API's sync and
 * publish actions do (mod_pulp/repo_actions.c). */
static pulp_status_t insert_task(supervisor_t *sv, const PGresult *row,
                                 char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    const char *action = pulp_db_value(row, 0, "action");
    const char *repo_id = pulp_db_value(row, 0, "repo_id");
    int publish = strcmp(action, "publish") == 0;
    json_object *override = json_tokener_parse(pulp_db_value(row, 0, "override_config"));
    json_object *args = pulp_repo_action_args_new(
        repo_id, publish ? pulp_db_value(row, 0, "owner_id") : NULL, override);
    pulp_repo_task_t task;
    pulp_status_t status;

    pulp_repo_task_init(&task, publish ? PULP_TASK_REPO_PUBLISH : PULP_TASK_REPO_SYNC,
                        publish ? "publish" : "sync", repo_id, NULL, args);
    task.spec.schedule_id = pulp_db_value(row, 0, "id");
    task.spec.queue = sv->config->queue;
    status = pulp_task_insert(sv->leader.db, &task.spec, task_id, error);
    json_object_put(args);
    json_object_put(override);
    return status;
}

/* Checks the owner's configuration with the override merged in, through the owner's type
 * (an importer's id is its type id). */
static pulp_status_t check_config(const PGresult *row, pulp_error_t *error)
{
    const char *type_id = pulp_db_value(row, 0, "owner_type_id");
    int publish = strcmp(pulp_db_value(row, 0, "action"), "publish") == 0;
    json_object *stored = json_tokener_parse(pulp_db_value(row, 0, "owner_config"));
    json_object *override = json_tokener_parse(pulp_db_value(row, 0, "override_config"));
    const pulp_importer_type_t *importer = publish ? NULL : pulp_importer_type_find(type_id);
    const pulp_distributor_type_t *distributor =
        publish ? pulp_distributor_type_find(type_id) : NULL;
    pulp_status_t status;

    if (importer)
        status = pulp_importer_check_sync(importer, stored, override, error);
    else if (distributor)
        status = pulp_distributor_check_publish(distributor, stored, override, error);
    else
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "%s type \"%s\" is not registered",
                                publish ? "distributor" : "importer", type_id);
    json_object_put(stored);
    json_object_put(override);
    return status;
}

/* Records a run whose configuration is invalid as a failure, without a task, and moves
 * next_run to the next grid point. remaining_runs stays, since nothing ran. */
static pulp_status_t skip_invalid_config(supervisor_t *sv, const PGresult *row,
                                         const pulp_schedule_t *schedule, const char *reason,
                                         pulp_error_t *error)
{
    int64_t first_run = strtoll(pulp_db_value(row, 0, "first_run"), NULL, 10);
    int64_t now = strtoll(pulp_db_value(row, 0, "now"), NULL, 10);
    int64_t next_run = pulp_schedule_next_run(schedule, first_run, now);
    char next_run_text[32];
    const char *params[3] = { pulp_db_value(row, 0, "id"), NULL, "false" };

    if (next_run != PULP_SCHEDULE_NO_RUN) {
        snprintf(next_run_text, sizeof next_run_text, "%lld", (long long)next_run);
        params[1] = next_run_text;
        params[2] = "true";
    }
    pulp_log_error("skipped a run of schedule %s (%s of repository \"%s\"): the configuration "
                   "with its override_config is invalid: %s; fix the configuration or the "
                   "schedule", params[0], pulp_db_value(row, 0, "action"),
                   pulp_db_value(row, 0, "repo_id"), reason);
    return pulp_db_command(sv->leader.db, error, record_failure_sql, 3, params);
}

/* Disables a schedule whose stored text no longer parses (it was checked when stored, so
 * only a change made outside the API can cause this). */
static pulp_status_t disable_invalid(supervisor_t *sv, const PGresult *row, pulp_error_t *error)
{
    pulp_error_t parse_error = PULP_ERROR_INIT;
    const char *params[1] = { pulp_db_value(row, 0, "id") };
    pulp_schedule_t schedule;

    pulp_schedule_parse(pulp_db_value(row, 0, "schedule"), &schedule, &parse_error);
    pulp_log_error("disabled schedule %s of repository \"%s\": %s; set a valid schedule "
                   "through the API and enable it again", params[0],
                   pulp_db_value(row, 0, "repo_id"), parse_error.message);
    pulp_error_clear(&parse_error);
    return pulp_db_command(sv->leader.db, error, disable_sql, 1, params);
}

/* Dispatches the run of the locked schedule in row and records it, in the open transaction.
 * Writes the new task's id, or an empty string when no task was dispatched. */
static pulp_status_t dispatch_run(supervisor_t *sv, const PGresult *row,
                                  char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    pulp_error_t config_error = PULP_ERROR_INIT;
    pulp_schedule_t schedule;
    next_state_t state;
    const char *params[5];

    task_id[0] = '\0';
    if (pulp_schedule_parse(pulp_db_value(row, 0, "schedule"), &schedule, NULL) != PULP_OK)
        return disable_invalid(sv, row, error);
    if (check_config(row, &config_error) != PULP_OK) {
        pulp_status_t status = skip_invalid_config(sv, row, &schedule, config_error.message,
                                                   error);

        pulp_error_clear(&config_error);
        return status;
    }
    compute_next_state(row, &schedule, &state);
    if (insert_task(sv, row, task_id, error) != PULP_OK)
        return error->status;

    params[0] = pulp_db_value(row, 0, "id");
    params[1] = task_id;
    params[2] = state.remaining_runs_param;
    params[3] = state.next_run_param;
    params[4] = state.enabled;
    return pulp_db_command(sv->leader.db, error, record_run_sql, 5, params);
}

/* Dispatches the most overdue schedule, if one is due and not locked by another session.
 * Returns 1 when it handled one (dispatched, skipped or disabled it), 0 when none was due,
 * -1 on error. */
static int dispatch_next(supervisor_t *sv, pulp_error_t *error)
{
    PGconn *db = sv->leader.db;
    char task_id[PULP_UUID_LENGTH + 1];
    PGresult *row;
    int found;

    if (pulp_db_begin(db, error) != PULP_OK)
        return -1;
    row = pulp_db_query(db, error, lock_due_sql, 0, NULL);
    found = row && PQntuples(row) > 0;
    if (!found || dispatch_run(sv, row, task_id, error) != PULP_OK ||
        pulp_db_commit(db, error) != PULP_OK) {
        pulp_db_rollback(db);
        PQclear(row);
        return error->status == PULP_OK ? 0 : -1;
    }

    if (task_id[0]) {
        pulp_log_info("dispatched task %s: scheduled %s of repository \"%s\" (schedule %s)",
                      task_id, pulp_db_value(row, 0, "action"), pulp_db_value(row, 0, "repo_id"),
                      pulp_db_value(row, 0, "id"));
        pulp_supervisor_send_task(sv, task_id);
    }
    PQclear(row);
    return 1;
}

void pulp_scheduler_run(supervisor_t *sv, pulp_error_t *error)
{
    PGresult *due = pulp_db_query(sv->leader.db, error, any_due_sql, 0, NULL);
    int any = due && PQntuples(due) > 0;

    PQclear(due);
    for (int i = 0; any && i < MAX_DISPATCHES_PER_RUN; i++) {
        if (dispatch_next(sv, error) <= 0)
            return;
    }
}
