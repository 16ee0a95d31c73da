#include "dispatch.h"

#include "pulp_db.h"

pulp_status_t pulp_dispatch(pulp_request_t *req, const pulp_task_spec_t *spec,
                            char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    PGconn *db = pulp_request_db(req, error);

    if (!db)
        return error->status;
    /* TODO: send the dispatch message to the broker once amqp/ provides a sender. */
    return pulp_task_insert(db, spec, task_id, error);
}

int pulp_dispatch_and_respond(pulp_request_t *req, const pulp_task_spec_t *spec)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char task_id[PULP_UUID_LENGTH + 1];
    const char *ids[1] = { task_id };
    int result;

    if (pulp_dispatch(req, spec, task_id, &error) != PULP_OK) {
        result = pulp_send_error(req, &error);
        pulp_error_clear(&error);
        return result;
    }
    return pulp_send_json(req, HTTP_ACCEPTED,
                          pulp_request_own_json(req, pulp_call_report_new(ids, 1)));
}
