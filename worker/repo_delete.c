/* The repository delete task kind. It removes what the repository's distributors published,
 * through each distributor type's remove operation (repo_tasks.h), then deletes the
 * repository row. Its importer, distributors, history and unit associations go with the row
 * by ON DELETE CASCADE. The files go first and the row last, so that a delete that fails half
 * way can run again. Units stay in the store until an orphan cleanup removes them.
 *
 * Arguments: {"repo_id": "<id>"}. */
#include "task_kinds.h"

#include "pulp_db.h"
#include "pulp_log.h"
#include "repo_tasks.h"

static const char delete_sql[] = "DELETE FROM repositories WHERE id = $1";

static pulp_status_t run_repo_delete(pulp_task_context_t *ctx, json_object **result,
                                     pulp_error_t *error)
{
    json_object *value = NULL;
    const char *params[1];

    (void)result;
    if (!json_object_object_get_ex(pulp_task_args(ctx), "repo_id", &value) ||
        !json_object_is_type(value, json_type_string))
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "the argument \"repo_id\" is missing");
    params[0] = json_object_get_string(value);

    if (pulp_repo_remove_published(pulp_task_db(ctx), pulp_task_storage_dir(ctx), params[0],
                                   error) != PULP_OK ||
        pulp_db_command(pulp_task_db(ctx), error, delete_sql, 1, params) != PULP_OK)
        return error->status;
    pulp_log_info("deleted repository \"%s\"", params[0]);
    return PULP_OK;
}

const pulp_task_kind_t pulp_task_kind_repo_delete = {
    PULP_TASK_REPO_DELETE,
    run_repo_delete,
};
