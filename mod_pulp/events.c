/* /events/: event listeners, notified when a sync or publish starts or finishes.
 *
 * A listener has a notifier type (http, email or amqp), its configuration, and the event
 * types it wants ("*" for all). The http notifier's password is returned as "*". */
#include "mod_pulp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_config_check.h"
#include "pulp_db.h"
#include "pulp_uuid.h"
#include "repositories.h"
#include "router.h"

#define LISTENER_DOCUMENT \
    "jsonb_build_object('id', e.id::text, 'notifier_type_id', e.notifier_type_id," \
    " 'notifier_config', e.notifier_config || CASE WHEN e.notifier_config ? 'password'" \
    "     THEN jsonb_build_object('password', '*') ELSE '{}'::jsonb END," \
    " 'event_types', to_jsonb(e.event_types), '_ns', 'event_listeners'," \
    " '_href', '/pulp/api/v2/events/' || e.id::text || '/')"

#define LISTENER_SQL \
    "SELECT (" LISTENER_DOCUMENT ")::text FROM event_listeners e WHERE e.id = $1::uuid"

static const char *const event_types[] = {
    "repo.sync.start", "repo.sync.finish", "repo.publish.start", "repo.publish.finish", "*",
    NULL,
};

static const pulp_config_key_t http_keys[] = {
    { "url", PULP_CONFIG_URL, 1, NULL },
    { "username", PULP_CONFIG_STRING, 0, NULL },
    { "password", PULP_CONFIG_STRING, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t email_keys[] = {
    { "subject", PULP_CONFIG_STRING, 1, NULL },
    { "addresses", PULP_CONFIG_STRING_LIST, 1, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t amqp_keys[] = {
    { "exchange", PULP_CONFIG_STRING, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

typedef struct notifier {
    const char *id;
    const pulp_config_key_t *keys;
} notifier_t;

static const notifier_t notifiers[] = {
    { "http", http_keys },
    { "email", email_keys },
    { "amqp", amqp_keys },
    { NULL, NULL },
};

static const notifier_t *find_notifier(const char *id)
{
    for (const notifier_t *notifier = notifiers; id && notifier->id; notifier++) {
        if (strcmp(notifier->id, id) == 0)
            return notifier;
    }
    return NULL;
}

/* Checks "event_types" and returns it as an SQL array literal. */
static pulp_status_t read_event_types(pulp_request_t *req, json_object *list, const char **array,
                                      pulp_error_t *error)
{
    size_t n_types = json_object_array_length(list);
    const char **names;
    char *literal;

    if (n_types == 0)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "event_types",
                               "invalid property \"event_types\": the list is empty");
    names = apr_pcalloc(req->r->pool, sizeof *names * n_types);
    for (size_t i = 0; i < n_types; i++) {
        json_object *item = json_object_array_get_idx(list, i);
        int known = 0;

        for (int k = 0; json_object_is_type(item, json_type_string) && event_types[k]; k++)
            known = known || strcmp(event_types[k], json_object_get_string(item)) == 0;
        if (!known)
            return pulp_body_error(error, PULP_ERR_INVALID_VALUE, "event_types",
                                   "invalid event type \"%.100s\": expected repo.sync.start, "
                                   "repo.sync.finish, repo.publish.start, repo.publish.finish "
                                   "or *", json_object_get_string(item));
        names[i] = json_object_get_string(item);
    }
    literal = pulp_db_text_array(names, n_types);
    if (!literal)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    *array = apr_pstrdup(req->r->pool, literal);
    free(literal);
    return PULP_OK;
}

static pulp_status_t check_notifier_config(const notifier_t *notifier, json_object *config,
                                           pulp_error_t *error)
{
    if (pulp_config_check(config, notifier->keys, error) == PULP_OK)
        return PULP_OK;
    /* property_names names the key, and the message also names the member it belongs to. */
    {
        char message[sizeof error->message];

        snprintf(message, sizeof message, "invalid notifier_config: %.900s", error->message);
        memcpy(error->message, message, sizeof message);
    }
    return error->status;
}

static int list_listeners(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    PGresult *result = NULL;
    int status;

    if (pulp_request_db(req, &error))
        result = pulp_db_query(req->db, &error,
                               "SELECT (" LISTENER_DOCUMENT ")::text FROM event_listeners e"
                               " ORDER BY e.created, e.id", 0, NULL);
    if (!result)
        return pulp_send_error_clear(req, &error);
    status = pulp_send_json_rows(req, HTTP_OK, result);
    PQclear(result);
    return status;
}

static int send_listener(pulp_request_t *req, int http_status, const char *id)
{
    const char *params[] = { id };
    pulp_resource_name_t name = { "event_listener", id, NULL, NULL };

    if (!pulp_uuid_is_valid(id))
        return pulp_send_missing(req, &name);
    return pulp_send_document(req, http_status, LISTENER_SQL, 1, params, &name);
}

static int get_listener(pulp_request_t *req)
{
    return send_listener(req, HTTP_OK, req->params[0]);
}

static int create_listener(pulp_request_t *req)
{
    static const char *const keys[] = {
        "notifier_type_id", "notifier_config", "event_types", NULL,
    };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    json_object *config = NULL;
    json_object *types = NULL;
    const char *type_id = NULL;
    const notifier_t *notifier;
    char id[PULP_UUID_LENGTH + 1];
    const char *params[4] = { id, NULL, NULL, NULL };

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_string(body, "notifier_type_id", 1, &type_id, &error) != PULP_OK ||
        pulp_body_object(body, "notifier_config", 0, &config, &error) != PULP_OK ||
        pulp_body_array(body, "event_types", 1, &types, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);

    notifier = find_notifier(type_id);
    if (!notifier) {
        pulp_body_error(&error, PULP_ERR_INVALID_VALUE, "notifier_type_id",
                        "invalid notifier_type_id \"%.100s\": expected http, email or amqp",
                        type_id);
        return pulp_send_error_clear(req, &error);
    }
    if (check_notifier_config(notifier, config, &error) != PULP_OK ||
        read_event_types(req, types, &params[3], &error) != PULP_OK ||
        pulp_uuid_generate(id) != 0 || !pulp_request_db(req, &error))
        return pulp_send_error_clear(req, &error);

    params[1] = notifier->id;
    params[2] = config ? json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN) : "{}";
    if (pulp_db_command(req->db, &error,
                        "INSERT INTO event_listeners (id, notifier_type_id, notifier_config,"
                        "                             event_types)"
                        " VALUES ($1::uuid, $2, $3::jsonb, $4::text[])", 4, params) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    apr_table_setn(req->r->headers_out, "Location", pulp_href(req, "/events/%s/", id));
    return send_listener(req, HTTP_CREATED, apr_pstrdup(req->r->pool, id));
}

/* Reads the listener's notifier and configuration, locked; DECLINED when it exists. */
static int lock_listener(pulp_request_t *req, const notifier_t **notifier, json_object **config)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    pulp_resource_name_t name = { "event_listener", req->params[0], NULL, NULL };
    PGresult *result;

    if (!pulp_uuid_is_valid(req->params[0]))
        return pulp_send_missing(req, &name);
    result = pulp_db_query(req->db, &error,
                           "SELECT notifier_type_id, notifier_config::text FROM event_listeners"
                           " WHERE id = $1::uuid FOR UPDATE", 1, params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    if (PQntuples(result) == 0) {
        PQclear(result);
        return pulp_send_missing(req, &name);
    }
    *notifier = find_notifier(PQgetvalue(result, 0, 0));
    *config = pulp_request_own_json(req, json_tokener_parse(PQgetvalue(result, 0, 1)));
    PQclear(result);
    return DECLINED;
}

static pulp_status_t apply_listener_update(pulp_request_t *req, json_object *body,
                                           const notifier_t *notifier, json_object *current,
                                           pulp_error_t *error)
{
    static const char *const keys[] = { "notifier_config", "event_types", NULL };
    json_object *delta = NULL;
    json_object *types = NULL;
    json_object *merged;
    const char *params[3] = { req->params[0], NULL, NULL };

    if (pulp_body_check_keys(body, keys, error) != PULP_OK ||
        pulp_body_object(body, "notifier_config", 0, &delta, error) != PULP_OK ||
        pulp_body_array(body, "event_types", 0, &types, error) != PULP_OK)
        return error->status;
    merged = pulp_request_own_json(req, pulp_config_merge(current, delta));
    if (!notifier || check_notifier_config(notifier, merged, error) != PULP_OK)
        return notifier ? error->status
                        : pulp_error_set(error, PULP_ERR_INTERNAL, "unknown notifier type");
    if (types && read_event_types(req, types, &params[2], error) != PULP_OK)
        return error->status;
    params[1] = json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN);
    return pulp_db_command(req->db, error,
                           "UPDATE event_listeners SET notifier_config = $2::jsonb,"
                           " event_types = coalesce($3::text[], event_types)"
                           " WHERE id = $1::uuid", 3, params);
}

static int update_listener(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_request_json_object(req, &error);
    const notifier_t *notifier = NULL;
    json_object *current = NULL;
    int found;

    if (!body || !pulp_request_db(req, &error) || pulp_db_begin(req->db, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    found = lock_listener(req, &notifier, &current);
    if (found != DECLINED) {
        pulp_db_rollback(req->db);
        return found;
    }
    if (apply_listener_update(req, body, notifier, current, &error) != PULP_OK ||
        pulp_db_commit(req->db, &error) != PULP_OK) {
        pulp_db_rollback(req->db);
        return pulp_send_error_clear(req, &error);
    }
    return send_listener(req, HTTP_OK, req->params[0]);
}

static int delete_listener(pulp_request_t *req)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *params[] = { req->params[0] };
    pulp_resource_name_t name = { "event_listener", req->params[0], NULL, NULL };
    PGresult *result = NULL;
    int deleted;

    if (!pulp_uuid_is_valid(req->params[0]))
        return pulp_send_missing(req, &name);
    if (pulp_request_db(req, &error))
        result = pulp_db_query(req->db, &error,
                               "DELETE FROM event_listeners WHERE id = $1::uuid RETURNING 1", 1,
                               params);
    if (!result)
        return pulp_send_error_clear(req, &error);
    deleted = PQntuples(result) > 0;
    PQclear(result);
    if (!deleted)
        return pulp_send_missing(req, &name);
    return pulp_send_json_text(req, HTTP_OK, "null");
}

const pulp_route_t pulp_event_routes[] = {
    { "GET", "/events/", list_listeners, PULP_OPERATION_READ },
    { "POST", "/events/", create_listener, PULP_OPERATION_CREATE },
    { "GET", "/events/{listener_id}/", get_listener, PULP_OPERATION_READ },
    { "PUT", "/events/{listener_id}/", update_listener, PULP_OPERATION_UPDATE },
    { "DELETE", "/events/{listener_id}/", delete_listener, PULP_OPERATION_DELETE },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
