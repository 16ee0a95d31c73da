/* GET /status/: the server's health in the shape of Pulp 2.6 and later. No authentication. */
#include "mod_pulp.h"
#include "router.h"
#include "dispatch.h"

#include "pulp_db.h"
#include "pulp_version.h"

static json_object *known_workers(PGconn *db, pulp_error_t *error)
{
    json_object *workers = json_object_new_array();
    PGresult *result;

    /* The heartbeat is checked here too, because the leader marks a silent worker missing
     * only every few seconds, and not at all while no worker is the leader. */
    result = pulp_db_query(db, error,
                           "SELECT name, to_char(last_heartbeat AT TIME ZONE 'UTC',"
                           " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM workers"
                           " WHERE NOT missing AND last_heartbeat >= now() - interval '30 seconds'"
                           " ORDER BY name",
                           0, NULL);
    if (!result)
        return workers;

    for (int row = 0; row < PQntuples(result); row++) {
        json_object *worker = json_object_new_object();

        json_object_object_add(worker, "_id", json_object_new_string(PQgetvalue(result, row, 0)));
        json_object_object_add(worker, "last_heartbeat",
                               json_object_new_string(PQgetvalue(result, row, 1)));
        json_object_array_add(workers, worker);
    }
    PQclear(result);
    return workers;
}

static int get_status(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *status = pulp_request_own_json(req, json_object_new_object());
    json_object *versions = json_object_new_object();
    json_object *database = json_object_new_object();
    json_object *messaging = json_object_new_object();
    PGconn *db = pulp_request_db(req, &error);
    json_object *workers = db ? known_workers(db, &error) : json_object_new_array();
    int connected = db && error.status == PULP_OK;

    json_object_object_add(versions, "platform_version", json_object_new_string(PULP_VERSION));
    json_object_object_add(status, "api_version", json_object_new_string("2"));
    json_object_object_add(status, "versions", versions);
    json_object_object_add(database, "connected", json_object_new_boolean(connected));
    json_object_object_add(status, "database_connection", database);
    json_object_object_add(messaging, "connected",
                           json_object_new_boolean(pulp_dispatch_messaging_connected(req)));
    json_object_object_add(status, "messaging_connection", messaging);
    json_object_object_add(status, "known_workers", workers);

    pulp_error_clear(&error);
    return pulp_send_json(req, HTTP_OK, status);
}

const pulp_route_t pulp_status_routes[] = {
    { "GET", "/status/", get_status, PULP_OPERATION_NONE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
