/* Dispatch from the API: insert the task row, send its message, answer 202. */
#ifndef PULP_DISPATCH_H
#define PULP_DISPATCH_H

#include "mod_pulp.h"
#include "pulp_task.h"

/* Inserts the task and sends its dispatch message. A broker that cannot be reached is logged
 * and does not fail the call: the housekeeping leader re-sends the message later. */
pulp_status_t pulp_dispatch(pulp_request_t *req, const pulp_task_spec_t *spec,
                            char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error);

/* Dispatches the task and sends 202 with its call report, or the error body. */
int pulp_dispatch_and_respond(pulp_request_t *req, const pulp_task_spec_t *spec);

#endif
