/* The task kinds this worker runs, looked up by task type (see task_kinds.c). */
#ifndef PULP_TASK_KINDS_H
#define PULP_TASK_KINDS_H

#include "task_context.h"

/* Returns the kind registered for task_type, or NULL. */
const pulp_task_kind_t *pulp_task_kind_find(const char *task_type);

/* The kinds defined in worker/ itself. */
extern const pulp_task_kind_t pulp_task_kind_diagnostic;
extern const pulp_task_kind_t pulp_task_kind_repo_delete;

#endif
