#include "pulp_error.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct {
    const char *code;
    int http_status;
    const char *description;
} status_info_t;

/* Codes and descriptions follow Pulp 2's pulp.common.error_codes. */
static const status_info_t status_table[PULP_STATUS_COUNT] = {
    [PULP_OK] = { "", 200, "" },
    [PULP_ERR_INTERNAL] = { "PLP0000", 500, "Unexpected server error" },
    [PULP_ERR_MISSING_RESOURCE] = { "PLP0009", 404, "Missing resource(s)" },
    [PULP_ERR_INVALID_VALUE] = { "PLP0015", 400, "Invalid properties" },
    [PULP_ERR_MISSING_VALUE] = { "PLP0016", 400, "Missing required properties" },
    [PULP_ERR_UNSUPPORTED_VALUE] = { "PLP0017", 400, "Unsupported properties" },
    [PULP_ERR_DUPLICATE_RESOURCE] = { "PLP0018", 409, "Duplicate resource" },
    [PULP_ERR_INPUT_ENCODING] = { "PLP0019", 400, "Invalid input encoding" },
    [PULP_ERR_TASK_COMPLETE] = { "PLP0023", 409, "Task is already in a complete state" },
    [PULP_ERR_NO_WORKERS] = { "PLP0024", 503, "There are no available workers" },
    [PULP_ERR_AUTHENTICATION] = { "PLP0025", 401, "Authentication failed" },
    [PULP_ERR_PERMISSION] = { "PLP0026", 403, "Permission denied" },
    [PULP_ERR_UNAVAILABLE] = { "PLP0000", 503, "Database unavailable" },
    [PULP_ERR_METHOD_NOT_ALLOWED] = { "PLP0000", 405, "Method not allowed" },
    [PULP_ERR_TOO_LARGE] = { "PLP0015", 413, "Request body too large" },
    [PULP_ERR_NOT_IMPLEMENTED] = { "PLP0000", 501, "Not implemented" },
    [PULP_ERR_CONFLICT] = { "PLP0000", 409, "Conflicting state" },
    [PULP_ERR_CANCELED] = { "PLP0000", 409, "Task canceled" },
};

static const status_info_t *status_info(pulp_status_t status)
{
    if (status < 0 || status >= PULP_STATUS_COUNT)
        status = PULP_ERR_INTERNAL;
    return &status_table[status];
}

pulp_status_t pulp_error_setv(pulp_error_t *error, pulp_status_t status, const char *format,
                              va_list args)
{
    if (!error)
        return status;
    error->status = status;
    vsnprintf(error->message, sizeof error->message, format, args);
    return status;
}

pulp_status_t pulp_error_set(pulp_error_t *error, pulp_status_t status, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    pulp_error_setv(error, status, format, args);
    va_end(args);
    return status;
}

void pulp_error_add_data(pulp_error_t *error, const char *key, json_object *value)
{
    if (!error) {
        json_object_put(value);
        return;
    }
    if (!error->data)
        error->data = json_object_new_object();
    json_object_object_add(error->data, key, value);
}

void pulp_error_clear(pulp_error_t *error)
{
    if (!error)
        return;
    json_object_put(error->data);
    error->data = NULL;
    error->status = PULP_OK;
    error->message[0] = '\0';
}

const char *pulp_status_code(pulp_status_t status)
{
    return status_info(status)->code;
}

const char *pulp_status_description(pulp_status_t status)
{
    return status_info(status)->description;
}

int pulp_status_http(pulp_status_t status)
{
    return status_info(status)->http_status;
}

pulp_status_t pulp_error_missing(pulp_error_t *error, const char *kind, const char *id,
                                 const char *parent_kind, const char *parent_id)
{
    json_object *resources = json_object_new_object();

    json_object_object_add(resources, kind, id ? json_object_new_string(id) : NULL);
    if (parent_kind && !id) {
        json_object_object_add(resources, parent_kind, json_object_new_string(parent_id));
        pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "missing resource: %s of %s \"%s\"",
                       kind, parent_kind, parent_id);
    } else if (parent_kind) {
        json_object_object_add(resources, parent_kind, json_object_new_string(parent_id));
        pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "missing resource: %s \"%s\" of %s \"%s\"",
                       kind, id, parent_kind, parent_id);
    } else {
        pulp_error_set(error, PULP_ERR_MISSING_RESOURCE, "missing resource: %s \"%s\"", kind, id);
    }
    pulp_error_add_data(error, "resources", resources);
    return PULP_ERR_MISSING_RESOURCE;
}
