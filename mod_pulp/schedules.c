/* /repositories/<id>/importers/<importer_id>/schedules/sync/ and
 * /repositories/<id>/distributors/<distributor_id>/schedules/publish/: scheduled syncs and
 * publishes. The API stores the schedules, and the workers' housekeeping leader dispatches
 * the due ones (worker/scheduler.c).
 *
 * A schedule's runs sit on a grid counted from its first run (common/pulp_schedule.h). The
 * API sets first_run, next_run and remaining_runs when a schedule is created or its
 * "schedule" changes, with the database's clock, which the leader also reads. */
#include "repositories.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_schedule.h"
#include "pulp_uuid.h"
#include "router.h"

/* The schedule document of "schedules s". */
#define SCHEDULE_DOCUMENT \
    "jsonb_build_object('_id', s.id::text," \
    " '_href', '/pulp/api/v2/repositories/' || s.repo_id ||" \
    "          CASE s.action WHEN 'sync' THEN '/importers/' ELSE '/distributors/' END ||" \
    "          s.owner_id || '/schedules/' || s.action || '/' || s.id::text || '/'," \
    " 'schedule', s.schedule, 'enabled', s.enabled, 'failure_threshold', s.failure_threshold," \
    " 'consecutive_failures', s.consecutive_failures," \
    " 'first_run', " PULP_SQL_TIMESTAMP("s.first_run") "," \
    " 'last_run_at', " PULP_SQL_TIMESTAMP("s.last_run_at") "," \
    " 'next_run', " PULP_SQL_TIMESTAMP("s.next_run") "," \
    " 'remaining_runs', s.remaining_runs, 'total_run_count', s.total_run_count," \
    " 'override_config', s.override_config)::text"

/* The resource whose schedules a request reads or changes, from its path. */
typedef struct schedule_owner {
    /* "sync" (an importer's schedules) or "publish" (a distributor's). */
    const char *action;
    /* "importer" or "distributor", as 404 errors name it. */
    const char *kind;
    const char *repo_id;
    const char *owner_id;
    /* The path's schedule id, or NULL on the collection. */
    const char *schedule_id;
    /* Read by find_owner: the owner's type and configuration. */
    const char *type_id;
    json_object *config;
} schedule_owner_t;

/* The checked members of a request body. Each is NULL (or -1) when the body lacks it. */
typedef struct schedule_body {
    const char *schedule;
    pulp_schedule_t parsed;
    json_object *override_config;
    /* Set when the body has failure_threshold; the value is its text, or NULL for null. */
    int has_failure_threshold;
    const char *failure_threshold;
    int enabled;
} schedule_body_t;

static schedule_owner_t owner_of(pulp_request_t *req, const char *action)
{
    schedule_owner_t owner = { 0 };
    int sync = strcmp(action, "sync") == 0;

    owner.action = action;
    owner.kind = sync ? "importer" : "distributor";
    owner.repo_id = req->params[0];
    owner.owner_id = req->params[1];
    owner.schedule_id = req->n_params > 2 ? req->params[2] : NULL;
    return owner;
}

static int send_missing_schedule(pulp_request_t *req, const schedule_owner_t *owner)
{
    pulp_resource_name_t name = { "schedule", owner->schedule_id, owner->kind, owner->owner_id };

    return pulp_send_missing(req, &name);
}

/* Reads the owner's type and configuration. With lock set it locks the owner's row FOR SHARE
 * in the open transaction, so that the owner cannot be removed before the schedule is stored.
 * Sends 404 when the repository or the owner is missing. Returns DECLINED when found. */
static int find_owner(pulp_request_t *req, schedule_owner_t *owner, int lock)
{
    static const char importer_sql[] =
        "SELECT importer_type_id, config::text FROM importers"
        " WHERE repo_id = $1 AND importer_type_id = $2";
    static const char distributor_sql[] =
        "SELECT distributor_type_id, config::text FROM distributors"
        " WHERE repo_id = $1 AND distributor_id = $2";
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { owner->repo_id, owner->owner_id };
    const char *sql = strcmp(owner->action, "sync") == 0 ? importer_sql : distributor_sql;
    pulp_resource_name_t name = { owner->kind, owner->owner_id, "repository", owner->repo_id };
    PGresult *result;
    int found = pulp_repo_require(req, owner->repo_id);

    if (found != DECLINED)
        return found;
    if (lock)
        sql = apr_pstrcat(req->r->pool, sql, " FOR SHARE", NULL);
    result = pulp_db_query(req->db, &error, sql, 2, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0) {
        PQclear(result);
        return pulp_send_missing(req, &name);
    }
    owner->type_id = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
    owner->config = pulp_request_own_json(req, json_tokener_parse(PQgetvalue(result, 0, 1)));
    PQclear(result);
    return DECLINED;
}

/* Checks an override like the sync and publish actions do: merged into the owner's stored
 * configuration, the result must pass the plugin's validation, and a publish's may not change
 * where the repository is served. */
static pulp_status_t check_override(const schedule_owner_t *owner, json_object *override,
                                    pulp_error_t *error)
{
    if (!override)
        return PULP_OK;
    if (strcmp(owner->action, "sync") == 0) {
        const pulp_importer_type_t *type = pulp_importer_type_find(owner->type_id);

        if (!type)
            return pulp_error_set(error, PULP_ERR_INTERNAL,
                                  "importer type \"%s\" is not registered", owner->type_id);
        return pulp_importer_check_sync(type, owner->config, override, error);
    } else {
        const pulp_distributor_type_t *type = pulp_distributor_type_find(owner->type_id);

        if (!type)
            return pulp_error_set(error, PULP_ERR_INTERNAL,
                                  "distributor type \"%s\" is not registered", owner->type_id);
        return pulp_distributor_check_publish(type, owner->config, override, error);
    }
}

static pulp_status_t read_failure_threshold(pulp_request_t *req, json_object *body,
                                            schedule_body_t *fields, pulp_error_t *error)
{
    json_object *value = NULL;
    int64_t threshold;

    fields->has_failure_threshold = json_object_object_get_ex(body, "failure_threshold", &value);
    if (!value)
        return PULP_OK;
    if (!json_object_is_type(value, json_type_int))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "failure_threshold",
                               "invalid property \"failure_threshold\": expected a whole number "
                               "or null");
    threshold = json_object_get_int64(value);
    if (threshold < 0 || threshold > INT32_MAX)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "failure_threshold",
                               "invalid failure_threshold %lld: expected 0 (never disable) to "
                               "2147483647", (long long)threshold);
    fields->failure_threshold = apr_psprintf(req->r->pool, "%" APR_INT64_T_FMT, threshold);
    return PULP_OK;
}

/* Rejects a null schedule, override_config or enabled in an update, which would otherwise
 * read as an absent member and keep the stored value. Only failure_threshold has a meaning
 * for null. On creation a null member counts as left out, and takes its default. */
static pulp_status_t reject_nulls(json_object *body, pulp_error_t *error)
{
    static const char *const members[] = { "schedule", "override_config", "enabled", NULL };
    json_object *value;

    for (size_t i = 0; members[i]; i++) {
        if (json_object_object_get_ex(body, members[i], &value) && !value)
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, members[i],
                                   "invalid property \"%s\": null is not allowed; leave the "
                                   "member out to keep its value", members[i]);
    }
    return PULP_OK;
}

/* Reads and checks a POST or PUT body. "schedule" is required when creating. */
static pulp_status_t read_body(pulp_request_t *req, int creating, schedule_body_t *fields,
                               pulp_error_t *error)
{
    static const char *const keys[] = {
        "schedule", "override_config", "failure_threshold", "enabled", NULL,
    };
    json_object *body = pulp_request_json_object(req, error);

    memset(fields, 0, sizeof *fields);
    fields->enabled = -1;
    if (!body || pulp_body_check_keys(body, keys, error) != PULP_OK ||
        (!creating && reject_nulls(body, error) != PULP_OK) ||
        pulp_body_string(body, "schedule", creating, &fields->schedule, error) != PULP_OK ||
        pulp_body_object(body, "override_config", 0, &fields->override_config, error) !=
            PULP_OK ||
        read_failure_threshold(req, body, fields, error) != PULP_OK ||
        pulp_body_boolean(body, "enabled", &fields->enabled, error) != PULP_OK)
        return error->status;

    if (fields->schedule && pulp_schedule_parse(fields->schedule, &fields->parsed, error) !=
                                PULP_OK) {
        json_object *names = json_object_new_array();

        json_object_array_add(names, json_object_new_string("schedule"));
        pulp_error_add_data(error, "property_names", names);
        return error->status;
    }
    return PULP_OK;
}

/* The columns that a (new) "schedule" sets, as SQL parameter texts. */
typedef struct schedule_times {
    char first_run[32];
    char next_run[32];
    char remaining_runs[32];
    /* Point into the buffers above, or NULL for SQL NULL. */
    const char *next_run_param;
    const char *remaining_runs_param;
} schedule_times_t;

/* Reads the database's clock, so that the API and the leader use the same one. */
static pulp_status_t database_now(pulp_request_t *req, int64_t *now, pulp_error_t *error)
{
    PGresult *result = pulp_db_query(req->db, error,
                                     "SELECT floor(extract(epoch FROM now()))::bigint", 0, NULL);

    if (!result)
        return error->status;
    *now = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return PULP_OK;
}

/* Computes first_run (the start, or now without one), next_run (the first run at or after
 * now, on the grid) and remaining_runs (R<n>, or NULL without a limit). */
static void compute_times(const pulp_schedule_t *schedule, int64_t now, schedule_times_t *times)
{
    int64_t first_run = schedule->has_start ? schedule->start : now;
    int64_t next_run = pulp_schedule_next_run(schedule, first_run, now - 1);

    snprintf(times->first_run, sizeof times->first_run, "%lld", (long long)first_run);
    snprintf(times->next_run, sizeof times->next_run, "%lld", (long long)next_run);
    snprintf(times->remaining_runs, sizeof times->remaining_runs, "%lld",
             (long long)schedule->runs);
    /* NOTE: a schedule with no run before 9999-12-31 is stored with no next_run: it never
     * runs. */
    times->next_run_param = next_run != PULP_SCHEDULE_NO_RUN ? times->next_run : NULL;
    times->remaining_runs_param = schedule->runs >= 0 ? times->remaining_runs : NULL;
}

/* Commits, then sends the document of the first row of result, with a Location header
 * unless location is NULL. On failure it rolls back and sends the error instead. */
static int commit_and_send(pulp_request_t *req, int http_status, PGresult *result,
                           const char *location, pulp_error_t *error)
{
    const char *document;

    if (!result || pulp_db_commit(req->db, error) != PULP_OK) {
        PQclear(result);
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, error);
    }
    document = apr_pstrdup(req->r->pool, PQgetvalue(result, 0, 0));
    PQclear(result);
    if (location)
        apr_table_setn(req->r->headers_out, "Location", location);
    return pulp_send_json_text(req, http_status, document);
}

/* Opens the request's transaction, then reads the owner (see find_owner). */
static int begin_with_owner(pulp_request_t *req, schedule_owner_t *owner)
{
    pulp_error_t error = PULP_ERROR_INIT;
    int found;

    if (!pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = find_owner(req, owner, 1);
    if (found != DECLINED)
        pulp_db_rollback(req->db);
    return found;
}

static int create_schedule(pulp_request_t *req, const char *action)
{
    static const char insert_sql[] =
        "INSERT INTO schedules AS s (id, action, repo_id, owner_id, schedule, enabled,"
        "                            failure_threshold, first_run, next_run, remaining_runs,"
        "                            override_config)"
        " VALUES ($1::uuid, $2, $3, $4, $5, $6::boolean, $7::integer,"
        "         to_timestamp($8::bigint), to_timestamp($9::bigint), $10::integer,"
        "         coalesce($11::jsonb, '{}'::jsonb))"
        " RETURNING " SCHEDULE_DOCUMENT;
    pulp_error_t error = PULP_ERROR_INIT;
    schedule_owner_t owner = owner_of(req, action);
    schedule_body_t fields;
    schedule_times_t times;
    char id[PULP_UUID_LENGTH + 1];
    const char *params[11];
    const char *location;
    int64_t now;
    int found;

    if (read_body(req, 1, &fields, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = begin_with_owner(req, &owner);
    if (found != DECLINED)
        return found;
    if (check_override(&owner, fields.override_config, &error) != PULP_OK ||
        database_now(req, &now, &error) != PULP_OK || pulp_uuid_generate(id) != 0) {
        if (error.status == PULP_OK)
            pulp_error_set(&error, PULP_ERR_INTERNAL, "could not generate a schedule id");
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }

    compute_times(&fields.parsed, now, &times);
    params[0] = id;
    params[1] = action;
    params[2] = owner.repo_id;
    params[3] = owner.owner_id;
    params[4] = fields.schedule;
    params[5] = fields.enabled == 0 ? "false" : "true";
    params[6] = fields.failure_threshold;
    params[7] = times.first_run;
    params[8] = times.next_run_param;
    params[9] = times.remaining_runs_param;
    params[10] = fields.override_config ? json_object_to_json_string_ext(
                                              fields.override_config, JSON_C_TO_STRING_PLAIN)
                                        : NULL;
    location = pulp_href(req, "/repositories/%s/%s/%s/schedules/%s/%s/", owner.repo_id,
                         strcmp(action, "sync") == 0 ? "importers" : "distributors",
                         owner.owner_id, action, id);
    return commit_and_send(req, HTTP_CREATED,
                           pulp_db_query(req->db, &error, insert_sql, 11, params), location,
                           &error);
}

/* Re-enabling a schedule resets its failure count, so that it is not disabled again by the
 * next failure. */
/* Refuses to enable a schedule without a next run (its R<n> runs are used up) unless the
 * same request sets a new schedule: enabled, it would never run. */
static pulp_status_t check_enable(pulp_request_t *req, const schedule_owner_t *owner,
                                  const schedule_body_t *fields, pulp_error_t *error)
{
    const char *params[1] = { owner->schedule_id };
    PGresult *result;
    int used_up;

    if (fields->enabled != 1 || fields->schedule)
        return PULP_OK;
    result = pulp_db_query(req->db, error,
                           "SELECT next_run IS NULL FROM schedules WHERE id = $1::uuid",
                           1, params);
    if (!result)
        return error->status;
    used_up = PQntuples(result) > 0 && strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    if (!used_up)
        return PULP_OK;
    return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "enabled",
                           "invalid enabled: schedule %s has no run left, so enabled it would "
                           "never run; set a new schedule in the same request",
                           owner->schedule_id);
}

static int update_schedule(pulp_request_t *req, const char *action)
{
    static const char update_sql[] =
        "UPDATE schedules s SET"
        " schedule = coalesce($5, s.schedule),"
        " first_run = CASE WHEN $5 IS NULL THEN s.first_run"
        "                  ELSE to_timestamp($6::bigint) END,"
        " next_run = CASE WHEN $5 IS NULL THEN s.next_run ELSE to_timestamp($7::bigint) END,"
        " remaining_runs = CASE WHEN $5 IS NULL THEN s.remaining_runs ELSE $8::integer END,"
        " override_config = coalesce($9::jsonb, s.override_config),"
        " failure_threshold = CASE WHEN $10::boolean THEN $11::integer"
        "                          ELSE s.failure_threshold END,"
        " enabled = coalesce($12::boolean, s.enabled),"
        " consecutive_failures = CASE WHEN $12::boolean AND NOT s.enabled THEN 0"
        "                             ELSE s.consecutive_failures END"
        " WHERE s.id = $1::uuid AND s.repo_id = $2 AND s.action = $3 AND s.owner_id = $4"
        " RETURNING " SCHEDULE_DOCUMENT;
    pulp_error_t error = PULP_ERROR_INIT;
    schedule_owner_t owner = owner_of(req, action);
    schedule_body_t fields;
    schedule_times_t times = { .next_run_param = NULL, .remaining_runs_param = NULL };
    const char *params[12];
    PGresult *result;
    int64_t now = 0;
    int found;

    if (read_body(req, 0, &fields, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = begin_with_owner(req, &owner);
    if (found != DECLINED)
        return found;
    if (!pulp_uuid_is_valid(owner.schedule_id)) {
        pulp_db_rollback(req->db);
        return send_missing_schedule(req, &owner);
    }
    if (check_override(&owner, fields.override_config, &error) != PULP_OK ||
        check_enable(req, &owner, &fields, &error) != PULP_OK ||
        (fields.schedule && database_now(req, &now, &error) != PULP_OK)) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }

    if (fields.schedule)
        compute_times(&fields.parsed, now, &times);
    params[0] = owner.schedule_id;
    params[1] = owner.repo_id;
    params[2] = action;
    params[3] = owner.owner_id;
    params[4] = fields.schedule;
    params[5] = fields.schedule ? times.first_run : NULL;
    params[6] = times.next_run_param;
    params[7] = times.remaining_runs_param;
    params[8] = fields.override_config ? json_object_to_json_string_ext(
                                             fields.override_config, JSON_C_TO_STRING_PLAIN)
                                       : NULL;
    params[9] = fields.has_failure_threshold ? "true" : "false";
    params[10] = fields.failure_threshold;
    params[11] = NULL;
    if (fields.enabled >= 0)
        params[11] = fields.enabled ? "true" : "false";
    result = pulp_db_query(req->db, &error, update_sql, 12, params);
    if (result && PQntuples(result) == 0) {
        PQclear(result);
        pulp_db_rollback(req->db);
        return send_missing_schedule(req, &owner);
    }
    return commit_and_send(req, HTTP_OK, result, NULL, &error);
}

static int list_schedules(pulp_request_t *req, const char *action)
{
    pulp_error_t error = PULP_ERROR_INIT;
    schedule_owner_t owner = owner_of(req, action);
    const char *params[] = { owner.repo_id, action, owner.owner_id };
    PGresult *result;
    int found = find_owner(req, &owner, 0);
    int status;

    if (found != DECLINED)
        return found;
    result = pulp_db_query(req->db, &error,
                           "SELECT " SCHEDULE_DOCUMENT " FROM schedules s"
                           " WHERE s.repo_id = $1 AND s.action = $2 AND s.owner_id = $3"
                           " ORDER BY s.created, s.id", 3, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int get_schedule(pulp_request_t *req, const char *action)
{
    schedule_owner_t owner = owner_of(req, action);
    const char *params[] = { owner.schedule_id, owner.repo_id, action, owner.owner_id };
    pulp_resource_name_t name = { "schedule", owner.schedule_id, owner.kind, owner.owner_id };
    int found = find_owner(req, &owner, 0);

    if (found != DECLINED)
        return found;
    if (!pulp_uuid_is_valid(owner.schedule_id))
        return send_missing_schedule(req, &owner);
    return pulp_send_document(req, HTTP_OK,
                              "SELECT " SCHEDULE_DOCUMENT " FROM schedules s"
                              " WHERE s.id = $1::uuid AND s.repo_id = $2 AND s.action = $3"
                              " AND s.owner_id = $4",
                              4, params, &name);
}

static int delete_schedule(pulp_request_t *req, const char *action)
{
    pulp_error_t error = PULP_ERROR_INIT;
    schedule_owner_t owner = owner_of(req, action);
    const char *params[] = { owner.schedule_id, owner.repo_id, action, owner.owner_id };
    PGresult *result;
    int deleted;
    int found = find_owner(req, &owner, 0);

    if (found != DECLINED)
        return found;
    if (!pulp_uuid_is_valid(owner.schedule_id))
        return send_missing_schedule(req, &owner);
    result = pulp_db_query(req->db, &error,
                           "DELETE FROM schedules WHERE id = $1::uuid AND repo_id = $2"
                           " AND action = $3 AND owner_id = $4", 4, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    deleted = atoi(PQcmdTuples(result)) > 0;
    PQclear(result);
    if (!deleted)
        return send_missing_schedule(req, &owner);
    return pulp_send_json_text(req, HTTP_OK, "null");
}

static int list_sync_schedules(pulp_request_t *req)
{
    return list_schedules(req, "sync");
}

static int create_sync_schedule(pulp_request_t *req)
{
    return create_schedule(req, "sync");
}

static int get_sync_schedule(pulp_request_t *req)
{
    return get_schedule(req, "sync");
}

static int update_sync_schedule(pulp_request_t *req)
{
    return update_schedule(req, "sync");
}

static int delete_sync_schedule(pulp_request_t *req)
{
    return delete_schedule(req, "sync");
}

static int list_publish_schedules(pulp_request_t *req)
{
    return list_schedules(req, "publish");
}

static int create_publish_schedule(pulp_request_t *req)
{
    return create_schedule(req, "publish");
}

static int get_publish_schedule(pulp_request_t *req)
{
    return get_schedule(req, "publish");
}

static int update_publish_schedule(pulp_request_t *req)
{
    return update_schedule(req, "publish");
}

static int delete_publish_schedule(pulp_request_t *req)
{
    return delete_schedule(req, "publish");
}

#define SYNC_SCHEDULES "/repositories/{repo_id}/importers/{importer_id}/schedules/sync/"
#define PUBLISH_SCHEDULES \
    "/repositories/{repo_id}/distributors/{distributor_id}/schedules/publish/"

const pulp_route_t pulp_schedule_routes[] = {
    { "GET", SYNC_SCHEDULES, list_sync_schedules, PULP_OPERATION_READ },
    { "POST", SYNC_SCHEDULES, create_sync_schedule, PULP_OPERATION_CREATE },
    { "GET", SYNC_SCHEDULES "{schedule_id}/", get_sync_schedule, PULP_OPERATION_READ },
    { "PUT", SYNC_SCHEDULES "{schedule_id}/", update_sync_schedule, PULP_OPERATION_UPDATE },
    { "DELETE", SYNC_SCHEDULES "{schedule_id}/", delete_sync_schedule, PULP_OPERATION_DELETE },
    { "GET", PUBLISH_SCHEDULES, list_publish_schedules, PULP_OPERATION_READ },
    { "POST", PUBLISH_SCHEDULES, create_publish_schedule, PULP_OPERATION_CREATE },
    { "GET", PUBLISH_SCHEDULES "{schedule_id}/", get_publish_schedule, PULP_OPERATION_READ },
    { "PUT", PUBLISH_SCHEDULES "{schedule_id}/", update_publish_schedule,
      PULP_OPERATION_UPDATE },
    { "DELETE", PUBLISH_SCHEDULES "{schedule_id}/", delete_publish_schedule,
      PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
