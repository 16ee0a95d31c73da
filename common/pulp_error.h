/* Errors as values: a status from a fixed list plus a message that names the failing value.
 *
 * Functions in common/ return a pulp_status_t and fill a pulp_error_t; mod_pulp turns it into
 * the Pulp error body (code, HTTP status, description), pulp-worker into a task's error. */
#ifndef PULP_ERROR_H
#define PULP_ERROR_H

#include <stdarg.h>

#include <json-c/json.h>

typedef enum {
    PULP_OK = 0,
    PULP_ERR_INTERNAL,             /* PLP0000, 500 */
    PULP_ERR_MISSING_RESOURCE,     /* PLP0009, 404 */
    PULP_ERR_INVALID_VALUE,        /* PLP0015, 400 */
    PULP_ERR_MISSING_VALUE,        /* PLP0016, 400 */
    PULP_ERR_UNSUPPORTED_VALUE,    /* PLP0017, 400 */
    PULP_ERR_DUPLICATE_RESOURCE,   /* PLP0018, 409 */
    PULP_ERR_INPUT_ENCODING,       /* PLP0019, 400 */
    PULP_ERR_TASK_COMPLETE,        /* PLP0023, 409 */
    PULP_ERR_NO_WORKERS,           /* PLP0024, 503 */
    PULP_ERR_AUTHENTICATION,       /* PLP0025, 401 */
    PULP_ERR_PERMISSION,           /* PLP0026, 403 */
    PULP_ERR_UNAVAILABLE,          /* PLP0000, 503: the database cannot be reached */
    PULP_ERR_METHOD_NOT_ALLOWED,   /* PLP0000, 405 */
    PULP_ERR_TOO_LARGE,            /* PLP0015, 413 */
    PULP_ERR_NOT_IMPLEMENTED,      /* PLP0000, 501 */
    PULP_ERR_CONFLICT,             /* PLP0000, 409: a resource is in a state that forbids it */
    PULP_ERR_CANCELED,             /* PLP0000, 409: a running task was asked to stop */
    PULP_STATUS_COUNT
} pulp_status_t;

typedef struct pulp_error {
    pulp_status_t status;
    char message[1024];
    /* Extra members of the error body, such as resource_id or property_names; owned. */
    json_object *data;
} pulp_error_t;

#define PULP_ERROR_INIT { PULP_OK, { 0 }, NULL }

pulp_status_t pulp_error_set(pulp_error_t *error, pulp_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
pulp_status_t pulp_error_setv(pulp_error_t *error, pulp_status_t status, const char *format,
                              va_list args) __attribute__((format(printf, 3, 0)));
void pulp_error_add_data(pulp_error_t *error, const char *key, json_object *value);
void pulp_error_clear(pulp_error_t *error);

const char *pulp_status_code(pulp_status_t status);
const char *pulp_status_description(pulp_status_t status);
int pulp_status_http(pulp_status_t status);

/* Fills error with a 404 (PLP0009) for a missing resource: the message names it ("missing
 * resource: distributor "d" of repository "r"") and the data carries "resources":
 * {kind: id, parent_kind: parent_id}. parent_kind may be NULL; id may be NULL when the
 * parent has no resource of that kind at all. */
pulp_status_t pulp_error_missing(pulp_error_t *error, const char *kind, const char *id,
                                 const char *parent_kind, const char *parent_id);

#endif
