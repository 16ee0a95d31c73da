/* Declarations shared by the repository resources: repositories.c (the repositories),
 * repo_importers.c, repo_distributors.c and repo_actions.c (sync, publish, history).
 *
 * Documents are built by PostgreSQL (jsonb_build_object) in the shapes of Pulp 2, so a list
 * is sent as the rows' text without parsing it again in the module. */
#ifndef PULP_REPOSITORIES_H
#define PULP_REPOSITORIES_H

#include "mod_pulp.h"
#include "pulp_plugins.h"

/* An ISO 8601 UTC timestamp ("2026-01-31T03:00:00Z") of a timestamptz expression, or null. */
#define PULP_SQL_TIMESTAMP(column) \
    "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The importer document of "importers i". Feed and proxy passwords are returned as "*", as
 * Pulp 2.8 and later do, so that a password never leaves the server once stored. */
#define PULP_SQL_IMPORTER_DOCUMENT \
    "jsonb_build_object('id', i.importer_type_id, 'importer_type_id', i.importer_type_id," \
    " 'repo_id', i.repo_id," \
    " 'config', i.config || (SELECT coalesce(jsonb_object_agg(k, to_jsonb('*'::text))," \
    "                                        '{}'::jsonb)" \
    "                       FROM jsonb_object_keys(i.config) AS k" \
    "                       WHERE k IN ('proxy_password', 'basic_auth_password')" \
    "                         AND jsonb_typeof(i.config -> k) <> 'null')," \
    " 'last_sync', " PULP_SQL_TIMESTAMP("i.last_sync") ", 'scratchpad', i.scratchpad," \
    " '_ns', 'repo_importers'," \
    " '_href', '/pulp/api/v2/repositories/' || i.repo_id || '/importers/' ||" \
    "          i.importer_type_id || '/')"

/* The distributor document of "distributors d". */
#define PULP_SQL_DISTRIBUTOR_DOCUMENT \
    "jsonb_build_object('id', d.distributor_id, 'distributor_type_id', d.distributor_type_id," \
    " 'repo_id', d.repo_id, 'config', d.config, 'auto_publish', d.auto_publish," \
    " 'last_publish', " PULP_SQL_TIMESTAMP("d.last_publish") ", 'scratchpad', d.scratchpad," \
    " '_ns', 'repo_distributors'," \
    " '_href', '/pulp/api/v2/repositories/' || d.repo_id || '/distributors/' ||" \
    "          d.distributor_id || '/')"

/* Unit counts per content type of "repositories r". */
#define PULP_SQL_UNIT_COUNTS \
    "(SELECT coalesce(json_object_agg(t.unit_type_id, t.n), '{}'::json)" \
    " FROM (SELECT c.unit_type_id, count(*) AS n FROM repo_content_units c" \
    "       WHERE c.repo_id = r.id GROUP BY c.unit_type_id) AS t)"

/* Returns the SQL of the repository document (json) of "repositories r", with its importers
 * and distributors when asked for. */
const char *pulp_repo_document_sql(pulp_request_t *req, int importers, int distributors);

/* Sends 404 unless the repository exists; returns DECLINED when it does, OK once the error
 * is sent. */
int pulp_repo_require(pulp_request_t *req, const char *repo_id);

/* Runs sql, which selects the type id and the config text of the importer or distributor
 * named by the path ($1 the repository, $2 the importer or distributor) FOR UPDATE. Returns
 * the type id and sets *config (freed with the request), or returns NULL when there is no
 * such row or on error (then error is set). */
const char *pulp_repo_lock_plugin(pulp_request_t *req, const char *sql, json_object **config,
                                  pulp_error_t *error);

/* Dispatches a task of task_type holding the path's repository (req->params[0]) exclusively,
 * tagged pulp:repository:<id>, then extra_tag unless it is NULL, then pulp:action:<action>;
 * sends the 202 call report or the error and returns OK. */
int pulp_repo_dispatch(pulp_request_t *req, const char *task_type, const char *action,
                       const char *extra_tag, json_object *args);

/* A resource named in a 404: kind and id, and the resource it belongs to (or NULL). */
typedef struct pulp_resource_name {
    const char *kind;
    const char *id;
    const char *parent_kind;
    const char *parent_id;
} pulp_resource_name_t;

/* Sends the single document that sql returns (one row, one column) with http_status, or a
 * 404 naming the resource when there is no row. */
int pulp_send_document(pulp_request_t *req, int http_status, const char *sql, int n_params,
                       const char *const *params, const pulp_resource_name_t *name);

/* Sends the 404 of a missing resource. */
int pulp_send_missing(pulp_request_t *req, const pulp_resource_name_t *name);

/* Validates an importer configuration through the importer type's validate_config. */
pulp_status_t pulp_repo_validate_importer(const pulp_importer_type_t *type, json_object *config,
                                          pulp_error_t *error);

/* Validates a distributor configuration through its type, then checks that its unique path
 * (relative_url) is not used by another distributor of any repository. */
pulp_status_t pulp_repo_validate_distributor(pulp_request_t *req,
                                             const pulp_distributor_type_t *type,
                                             json_object *config, const char *repo_id,
                                             const char *distributor_id, pulp_error_t *error);

/* Turns a unique violation of the relative_url index into a 400 naming relative_url. */
void pulp_repo_map_path_conflict(pulp_error_t *error);

/* Inserts one distributor described by a request body (distributor_type_id, distributor_config,
 * auto_publish, distributor_id) inside the caller's transaction; writes its id. */
pulp_status_t pulp_repo_insert_distributor(pulp_request_t *req, const char *repo_id,
                                           json_object *spec, const char **distributor_id,
                                           pulp_error_t *error);

/* Inserts or replaces the repository's importer inside the caller's transaction. */
pulp_status_t pulp_repo_set_importer(pulp_request_t *req, const char *repo_id,
                                     const char *importer_type_id, json_object *config,
                                     pulp_error_t *error);

/* Records an operation that the API completed at once as a finished task, in the caller's
 * transaction, so that clients that follow the 202 call report see its result; sends 202. */
int pulp_respond_completed_task(pulp_request_t *req, const char *task_type,
                                const char *const *tags, int n_tags, const char *resource,
                                const char *result_json, pulp_error_t *error);

/* Task types of the changes that the API applies at once, named as Pulp 2 names them. */
#define PULP_TASK_IMPORTER_SET "pulp.server.managers.repo.importer.set_importer"
#define PULP_TASK_IMPORTER_UPDATE "pulp.server.managers.repo.importer.update_importer_config"
#define PULP_TASK_IMPORTER_REMOVE "pulp.server.managers.repo.importer.remove_importer"
#define PULP_TASK_DISTRIBUTOR_UPDATE \
    "pulp.server.managers.repo.distributor.update_distributor_config"

#endif
