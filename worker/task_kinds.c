/* The registry of task kinds: one line per kind. A plugin that adds a kind defines its
 * pulp_task_kind_t in its own file, declares it below and adds one line to task_kinds[]. */
#include "task_kinds.h"

#include <string.h>

#include "repo_tasks.h"

static const pulp_task_kind_t *const task_kinds[] = {
    &pulp_task_kind_diagnostic,
    &pulp_task_kind_repo_delete,
    /* Plugins: add one line per kind here. */
    &pulp_task_kind_repo_sync,
    &pulp_task_kind_repo_publish,
    &pulp_task_kind_distributor_remove,
    NULL,
};

const pulp_task_kind_t *pulp_task_kind_find(const char *task_type)
{
    for (size_t i = 0; task_kinds[i]; i++) {
        if (strcmp(task_kinds[i]->task_type, task_type) == 0)
            return task_kinds[i];
    }
    return NULL;
}
