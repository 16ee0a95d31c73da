/* Dispatch from the API: insert the task row, send its message, respond 202. */
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

/* Sends the dispatch message of an existing task, waiting at most about a second for the
 * broker; a failure is logged only, as for pulp_dispatch. */
void pulp_dispatch_send(pulp_request_t *req, const char *task_id);

/* Returns 1 when this process's connection to the configured broker is open. The first call
 * starts the connection and waits briefly for it. */
int pulp_dispatch_messaging_connected(pulp_request_t *req);

#endif
