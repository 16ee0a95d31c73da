#ifndef PULP_SEND_TASK_H
#define PULP_SEND_TASK_H

#include "pulp_worker_config.h"

/* Sends {"task_id": task_id} to the task queue; returns the process exit status. */
int pulp_send_task_main(const pulp_worker_config_t *config, const char *task_id);

#endif
