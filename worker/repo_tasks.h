/* The repository sync and publish task kinds, and the operations that importer and
 * distributor plugins give them.
 *
 * The task kinds (repo_tasks.c) read the importer or distributor row and merge the task's
 * override_config into its configuration. They call the plugin through the table registered
 * for its type, then record the sync or publish history. After a successful sync they
 * dispatch a publish for each distributor with auto_publish. A new plugin adds its table to
 * the lists in repo_tasks.c, and nothing else in the worker changes. */
#ifndef PULP_REPO_TASKS_H
#define PULP_REPO_TASKS_H

#include <json-c/json.h>

#include "pulp_error.h"
#include "task_context.h"

/* What a plugin's sync or publish returns besides its status. */
typedef struct pulp_plugin_report {
    long long added;
    long long removed;
    long long updated;
    /* Owned by the caller afterwards; either may be NULL. */
    json_object *summary;
    json_object *details;
} pulp_plugin_report_t;

typedef struct pulp_importer_ops {
    const char *importer_type_id;
    /* Syncs the repository with config (the stored configuration merged with the task's
     * override) and the importer's scratchpad. The scratchpad is read-only here, because
     * the plugin stores a new one in its own final transaction. Leaves the repository
     * unchanged on failure. */
    pulp_status_t (*sync)(pulp_task_context_t *ctx, const char *repo_id, json_object *config,
                          json_object *scratchpad, pulp_plugin_report_t *report,
                          pulp_error_t *error);
} pulp_importer_ops_t;

typedef struct pulp_distributor_ops {
    const char *distributor_type_id;
    /* Publishes the repository's current content; the plugin stores its scratchpad. */
    pulp_status_t (*publish)(pulp_task_context_t *ctx, const char *repo_id,
                             const char *distributor_id, json_object *config,
                             json_object *scratchpad, pulp_plugin_report_t *report,
                             pulp_error_t *error);
    /* Removes what the distributor published, and nothing of another distributor; called
     * before the distributor's row is deleted (distributor removal, repository deletion). */
    pulp_status_t (*remove)(const char *storage_dir, const char *repo_id,
                            const char *distributor_id, json_object *config,
                            json_object *scratchpad, pulp_error_t *error);
} pulp_distributor_ops_t;

/* The operations registered for a type id, or NULL. */
const pulp_importer_ops_t *pulp_importer_ops_find(const char *importer_type_id);
const pulp_distributor_ops_t *pulp_distributor_ops_find(const char *distributor_type_id);

/* Calls the remove operation of every distributor of the repository (before a repository
 * is deleted); a distributor without one is skipped. */
pulp_status_t pulp_repo_remove_published(PGconn *db, const char *storage_dir,
                                         const char *repo_id, pulp_error_t *error);

extern const pulp_task_kind_t pulp_task_kind_repo_sync;
extern const pulp_task_kind_t pulp_task_kind_repo_publish;
/* Removes a distributor: its published files through its remove operation, then its row. */
extern const pulp_task_kind_t pulp_task_kind_distributor_remove;

/* The plugins' tables. */
extern const pulp_importer_ops_t pulp_yum_importer_ops;
extern const pulp_distributor_ops_t pulp_yum_distributor_ops;

#endif
