/* The repository sync and publish task kinds (see repo_tasks.h).
 *
 * Sync arguments: {"repo_id", "override_config"}; publish arguments: {"repo_id",
 * "distributor_id", "override_config"}. The result of each task is the history entry it
 * recorded, in Pulp 2's shape (a sync or publish report). */
#include "repo_tasks.h"

#include <stdlib.h>
#include <string.h>

#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_plugins.h"
#include "pulp_task.h"

static const pulp_importer_ops_t *const importer_ops[] = {
    &pulp_yum_importer_ops,
    NULL,
};

static const pulp_distributor_ops_t *const distributor_ops[] = {
    &pulp_yum_distributor_ops,
    NULL,
};

const pulp_importer_ops_t *pulp_importer_ops_find(const char *importer_type_id)
{
    for (size_t i = 0; importer_type_id && importer_ops[i]; i++) {
        if (strcmp(importer_ops[i]->importer_type_id, importer_type_id) == 0)
            return importer_ops[i];
    }
    return NULL;
}

const pulp_distributor_ops_t *pulp_distributor_ops_find(const char *distributor_type_id)
{
    for (size_t i = 0; distributor_type_id && distributor_ops[i]; i++) {
        if (strcmp(distributor_ops[i]->distributor_type_id, distributor_type_id) == 0)
            return distributor_ops[i];
    }
    return NULL;
}

/* --- shared steps --------------------------------------------------------------------- */

static const char *string_arg(pulp_task_context_t *ctx, const char *key)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(pulp_task_args(ctx), key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static json_object *override_arg(pulp_task_context_t *ctx)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(pulp_task_args(ctx), "override_config", &value) ||
        !json_object_is_type(value, json_type_object))
        return NULL;
    return value;
}

/* Reads one row of a repository's plugin state: the importer (plugin_id NULL) or the
 * distributor plugin_id. Returns NULL with a 404 error naming them when the row, or the
 * repository, no longer exists: it may have been removed while the task waited. */
static PGresult *read_plugin_row(PGconn *db, const char *sql, int n_params,
                                 const char *const *params, const char *kind,
                                 const char *plugin_id, const char *repo_id,
                                 pulp_error_t *error)
{
    PGresult *result = pulp_db_query(db, error, sql, n_params, params);

    if (result && PQntuples(result) == 0) {
        PQclear(result);
        pulp_error_missing(error, kind, plugin_id, "repository", repo_id);
        return NULL;
    }
    return result;
}

static const char *history_result(pulp_status_t status)
{
    if (status == PULP_OK)
        return "success";
    if (status == PULP_ERR_CANCELED)
        return "canceled";
    return "error";
}

static const char *json_text(json_object *object)
{
    return object ? json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN) : NULL;
}

#define TIMESTAMP(column) "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define REPORT_COMMON                                                                     \
    " 'id', h.id::text, 'repo_id', h.repo_id, 'result', h.result,"                       \
    " 'started', " TIMESTAMP("h.started") ", 'completed', " TIMESTAMP("h.completed") "," \
    " 'summary', h.summary, 'details', h.details, 'error_message', h.error_message,"     \
    " 'exception', h.exception, 'traceback', h.traceback"

/* Stores the history entry and returns it as the task's result. A failure to record it is
 * logged and leaves *result NULL, since the sync or publish itself is already done. */
static void record_history(PGconn *db, const char *sql, int n_params, const char *const *params,
                           json_object **result)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *row = pulp_db_query(db, &error, sql, n_params, params);

    if (!row) {
        pulp_log_error("could not record the history of repository \"%s\": %s", params[0],
                       error.message);
        pulp_error_clear(&error);
        return;
    }
    if (result && PQntuples(row) == 1)
        *result = json_tokener_parse(PQgetvalue(row, 0, 0));
    PQclear(row);
}

static void free_report(pulp_plugin_report_t *report)
{
    json_object_put(report->summary);
    json_object_put(report->details);
}

/* --- sync ----------------------------------------------------------------------------- */

static const char importer_sql[] =
    "SELECT importer_type_id, config::text, scratchpad::text, clock_timestamp()::text"
    " FROM importers WHERE repo_id = $1";

static const char sync_history_sql[] =
    "WITH h AS ("
    "    INSERT INTO repo_sync_results (repo_id, importer_type_id, result, started, completed,"
    "        added_count, removed_count, updated_count, summary, details, error_message)"
    "    VALUES ($1, $2, $3, $4::timestamptz, clock_timestamp(), $5::int, $6::int, $7::int,"
    "            $8::jsonb, $9::jsonb, $10)"
    "    RETURNING *)"
    " SELECT jsonb_build_object(" REPORT_COMMON ", 'importer_id', h.importer_type_id,"
    "     'importer_type_id', h.importer_type_id, 'added_count', h.added_count,"
    "     'removed_count', h.removed_count, 'updated_count', h.updated_count,"
    "     '_ns', 'repo_sync_results')::text FROM h";

static const char last_sync_sql[] =
    "UPDATE importers SET last_sync = now(), last_override_config = $2::jsonb"
    " WHERE repo_id = $1";

static const char auto_publish_sql[] =
    "SELECT distributor_id FROM distributors WHERE repo_id = $1 AND auto_publish"
    " ORDER BY distributor_id";

static void record_sync(PGconn *db, const char *repo_id, PGresult *importer,
                        pulp_status_t status, const pulp_plugin_report_t *report,
                        const pulp_error_t *error, json_object **result)
{
    char added[32];
    char removed[32];
    char updated[32];
    const char *params[10] = {
        repo_id, PQgetvalue(importer, 0, 0), history_result(status), PQgetvalue(importer, 0, 3),
        added, removed, updated, json_text(report->summary), json_text(report->details),
        status == PULP_OK ? NULL : error->message,
    };

    snprintf(added, sizeof added, "%lld", report->added);
    snprintf(removed, sizeof removed, "%lld", report->removed);
    snprintf(updated, sizeof updated, "%lld", report->updated);
    record_history(db, sync_history_sql, 10, params, result);
}

/* Dispatches a publish for each distributor with auto_publish; they run once this task has
 * released the repository. */
static pulp_status_t spawn_publishes(pulp_task_context_t *ctx, const char *repo_id,
                                     pulp_error_t *error)
{
    PGconn *db = pulp_task_db(ctx);
    const char *params[1] = { repo_id };
    PGresult *rows = pulp_db_query(db, error, auto_publish_sql, 1, params);
    char resource[512];
    char repository_tag[512];
    const char *resources[1] = { resource };
    const char *tags[2] = { repository_tag, "pulp:action:publish" };
    pulp_status_t status = PULP_OK;

    if (!rows)
        return error->status;
    snprintf(resource, sizeof resource, "repository:%s", repo_id);
    snprintf(repository_tag, sizeof repository_tag, "pulp:repository:%s", repo_id);
    for (int row = 0; row < PQntuples(rows) && status == PULP_OK; row++) {
        json_object *args = json_object_new_object();
        pulp_task_spec_t spec = { 0 };
        char task_id[PULP_UUID_LENGTH + 1];

        json_object_object_add(args, "repo_id", json_object_new_string(repo_id));
        json_object_object_add(args, "distributor_id",
                               json_object_new_string(PQgetvalue(rows, row, 0)));
        json_object_object_add(args, "override_config", json_object_new_object());
        spec.task_type = PULP_TASK_REPO_PUBLISH;
        spec.tags = tags;
        spec.n_tags = 2;
        spec.resources = resources;
        spec.n_resources = 1;
        spec.args = args;
        status = pulp_task_spawn(ctx, &spec, task_id, error);
        json_object_put(args);
        if (status == PULP_OK)
            pulp_log_info("dispatched auto-publish task %s of distributor \"%s\"", task_id,
                          PQgetvalue(rows, row, 0));
    }
    PQclear(rows);
    return status;
}

static pulp_status_t run_sync(pulp_task_context_t *ctx, json_object **result,
                              pulp_error_t *error)
{
    PGconn *db = pulp_task_db(ctx);
    const char *repo_id = string_arg(ctx, "repo_id");
    json_object *override = override_arg(ctx);
    pulp_plugin_report_t report = { 0 };
    const pulp_importer_ops_t *ops;
    json_object *stored = NULL;
    json_object *config = NULL;
    json_object *scratchpad = NULL;
    PGresult *importer;
    pulp_status_t status;

    if (!repo_id)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                              "the argument \"repo_id\" is missing");
    importer = read_plugin_row(db, importer_sql, 1, &repo_id, "importer", NULL, repo_id,
                               error);
    if (!importer)
        return error->status;

    ops = pulp_importer_ops_find(PQgetvalue(importer, 0, 0));
    if (!ops) {
        status = pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "could not sync repository "
                                "\"%s\": importer type \"%s\" cannot sync", repo_id,
                                PQgetvalue(importer, 0, 0));
        goto end;
    }
    stored = json_tokener_parse(PQgetvalue(importer, 0, 1));
    scratchpad = json_tokener_parse(PQgetvalue(importer, 0, 2));
    config = pulp_config_merge(stored, override);

    pulp_log_info("syncing repository \"%s\"", repo_id);
    status = ops->sync(ctx, repo_id, config, scratchpad, &report, error);
    /* A failure is logged once, with the task's final state (runner.c). */
    if (status == PULP_OK)
        pulp_log_info("synced repository \"%s\": %lld units added, %lld removed", repo_id,
                      report.added, report.removed);

    record_sync(db, repo_id, importer, status, &report, error, result);
    if (status == PULP_OK) {
        const char *params[2] = { repo_id, override ? json_text(override) : "{}" };

        status = pulp_db_command(db, error, last_sync_sql, 2, params);
    }
    if (status == PULP_OK)
        status = spawn_publishes(ctx, repo_id, error);

end:
    free_report(&report);
    json_object_put(stored);
    json_object_put(scratchpad);
    json_object_put(config);
    PQclear(importer);
    return status;
}

const pulp_task_kind_t pulp_task_kind_repo_sync = {
    PULP_TASK_REPO_SYNC,
    run_sync,
};

/* --- publish -------------------------------------------------------------------------- */

static const char distributor_sql[] =
    "SELECT distributor_type_id, config::text, scratchpad::text, clock_timestamp()::text"
    " FROM distributors WHERE repo_id = $1 AND distributor_id = $2";

static const char publish_history_sql[] =
    "WITH h AS ("
    "    INSERT INTO repo_publish_results (repo_id, distributor_id, distributor_type_id,"
    "        result, started, completed, summary, details, error_message)"
    "    VALUES ($1, $2, $3, $4, $5::timestamptz, clock_timestamp(), $6::jsonb, $7::jsonb, $8)"
    "    RETURNING *)"
    " SELECT jsonb_build_object(" REPORT_COMMON ", 'distributor_id', h.distributor_id,"
    "     'distributor_type_id', h.distributor_type_id, '_ns', 'repo_publish_results')::text"
    " FROM h";

static const char last_publish_sql[] =
    "UPDATE distributors SET last_publish = now() WHERE repo_id = $1 AND distributor_id = $2";

static pulp_status_t run_publish(pulp_task_context_t *ctx, json_object **result,
                                 pulp_error_t *error)
{
    PGconn *db = pulp_task_db(ctx);
    const char *repo_id = string_arg(ctx, "repo_id");
    const char *distributor_id = string_arg(ctx, "distributor_id");
    pulp_plugin_report_t report = { 0 };
    const pulp_distributor_ops_t *ops;
    const pulp_distributor_type_t *type;
    json_object *stored = NULL;
    json_object *config = NULL;
    json_object *scratchpad = NULL;
    PGresult *distributor;
    pulp_status_t status;

    if (!repo_id || !distributor_id)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                              "the argument \"repo_id\" or \"distributor_id\" is missing");
    {
        const char *params[2] = { repo_id, distributor_id };

        distributor = read_plugin_row(db, distributor_sql, 2, params, "distributor",
                                      distributor_id, repo_id, error);
    }
    if (!distributor)
        return error->status;

    ops = pulp_distributor_ops_find(PQgetvalue(distributor, 0, 0));
    if (!ops || !ops->publish) {
        status = pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "could not publish repository"
                                " \"%s\": distributor type \"%s\" cannot publish", repo_id,
                                PQgetvalue(distributor, 0, 0));
        goto end;
    }
    stored = json_tokener_parse(PQgetvalue(distributor, 0, 1));
    scratchpad = json_tokener_parse(PQgetvalue(distributor, 0, 2));
    /* The API checks the override when it dispatches; a task queued by an older version, or
     * a schedule stored by one, is checked here. */
    type = pulp_distributor_type_find(PQgetvalue(distributor, 0, 0));
    if (type && pulp_distributor_check_publish(type, stored, override_arg(ctx), error) !=
                    PULP_OK) {
        status = error->status;
        goto end;
    }
    config = pulp_config_merge(stored, override_arg(ctx));

    pulp_log_info("publishing repository \"%s\" with distributor \"%s\"", repo_id,
                  distributor_id);
    status = ops->publish(ctx, repo_id, distributor_id, config, scratchpad, &report, error);
    {
        const char *params[8] = {
            repo_id, distributor_id, PQgetvalue(distributor, 0, 0), history_result(status),
            PQgetvalue(distributor, 0, 3), json_text(report.summary), json_text(report.details),
            status == PULP_OK ? NULL : error->message,
        };
        const char *ids[2] = { repo_id, distributor_id };

        record_history(db, publish_history_sql, 8, params, result);
        if (status == PULP_OK)
            status = pulp_db_command(db, error, last_publish_sql, 2, ids);
    }

end:
    free_report(&report);
    json_object_put(stored);
    json_object_put(scratchpad);
    json_object_put(config);
    PQclear(distributor);
    return status;
}

const pulp_task_kind_t pulp_task_kind_repo_publish = {
    PULP_TASK_REPO_PUBLISH,
    run_publish,
};

/* --- removal -------------------------------------------------------------------------- */

static const char distributors_sql[] =
    "SELECT distributor_id, distributor_type_id, config::text, scratchpad::text"
    " FROM distributors WHERE repo_id = $1";

pulp_status_t pulp_repo_remove_published(PGconn *db, const char *storage_dir,
                                         const char *repo_id, pulp_error_t *error)
{
    const char *params[1] = { repo_id };
    PGresult *rows = pulp_db_query(db, error, distributors_sql, 1, params);
    pulp_status_t status = PULP_OK;

    if (!rows)
        return error->status;
    for (int row = 0; row < PQntuples(rows) && status == PULP_OK; row++) {
        const pulp_distributor_ops_t *ops = pulp_distributor_ops_find(PQgetvalue(rows, row, 1));
        json_object *config;
        json_object *scratchpad;

        if (!ops || !ops->remove)
            continue;
        config = json_tokener_parse(PQgetvalue(rows, row, 2));
        scratchpad = json_tokener_parse(PQgetvalue(rows, row, 3));
        status = ops->remove(storage_dir, repo_id, PQgetvalue(rows, row, 0), config, scratchpad,
                             error);
        json_object_put(config);
        json_object_put(scratchpad);
    }
    PQclear(rows);
    return status;
}

/* --- distributor removal -------------------------------------------------------------- */

static const char delete_distributor_sql[] =
    "DELETE FROM distributors WHERE repo_id = $1 AND distributor_id = $2";

static const char delete_schedules_sql[] =
    "DELETE FROM schedules WHERE repo_id = $1 AND action = 'publish' AND owner_id = $2";

/* Removes the published files first and the row last, so that a removal that fails half
 * way can run again. Arguments: {"repo_id", "distributor_id"}. */
static pulp_status_t run_distributor_remove(pulp_task_context_t *ctx, json_object **result,
                                            pulp_error_t *error)
{
    PGconn *db = pulp_task_db(ctx);
    const char *repo_id = string_arg(ctx, "repo_id");
    const char *distributor_id = string_arg(ctx, "distributor_id");
    const char *params[2] = { repo_id, distributor_id };
    const pulp_distributor_ops_t *ops;
    PGresult *distributor;
    pulp_status_t status = PULP_OK;

    (void)result;
    if (!repo_id || !distributor_id)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                              "the argument \"repo_id\" or \"distributor_id\" is missing");
    distributor = read_plugin_row(db, distributor_sql, 2, params, "distributor",
                                  distributor_id, repo_id, error);
    if (!distributor)
        return error->status;

    ops = pulp_distributor_ops_find(PQgetvalue(distributor, 0, 0));
    if (ops && ops->remove) {
        json_object *config = json_tokener_parse(PQgetvalue(distributor, 0, 1));
        json_object *scratchpad = json_tokener_parse(PQgetvalue(distributor, 0, 2));

        status = ops->remove(pulp_task_storage_dir(ctx), repo_id, distributor_id, config,
                             scratchpad, error);
        json_object_put(config);
        json_object_put(scratchpad);
    }
    if (status == PULP_OK)
        status = pulp_db_begin(db, error);
    if (status == PULP_OK &&
        (pulp_db_command(db, error, delete_schedules_sql, 2, params) != PULP_OK ||
         pulp_db_command(db, error, delete_distributor_sql, 2, params) != PULP_OK ||
         pulp_db_commit(db, error) != PULP_OK)) {
        pulp_db_rollback(db);
        status = error->status;
    }
    if (status == PULP_OK)
        pulp_log_info("removed distributor \"%s\" of repository \"%s\"", distributor_id,
                      repo_id);
    PQclear(distributor);
    return status;
}

const pulp_task_kind_t pulp_task_kind_distributor_remove = {
    PULP_TASK_DISTRIBUTOR_REMOVE,
    run_distributor_remove,
};
