/* Checks of request bodies: each helper reads one member, checks its type and fills a Pulp
 * error that names the member (in error_message and in "property_names") when it is wrong. */
#ifndef PULP_BODY_H
#define PULP_BODY_H

#include <json-c/json.h>

#include "pulp_error.h"

/* Fails with PLP0015 unless body is a JSON object. */
pulp_status_t pulp_body_require_object(json_object *body, const char *what, pulp_error_t *error);

/* Fails with PLP0017 when body has a member not in allowed (NULL-terminated). */
pulp_status_t pulp_body_check_keys(json_object *body, const char *const *allowed,
                                   pulp_error_t *error);

/* Reads a string member. Missing or null: *value = NULL, or PLP0016 when required. Any other
 * type, or a string holding a NUL byte: PLP0015. */
pulp_status_t pulp_body_string(json_object *body, const char *key, int required,
                               const char **value, pulp_error_t *error);

/* Reads an object member the same way; *value is borrowed from body. */
pulp_status_t pulp_body_object(json_object *body, const char *key, int required,
                               json_object **value, pulp_error_t *error);

/* Reads an array member the same way. */
pulp_status_t pulp_body_array(json_object *body, const char *key, int required,
                              json_object **value, pulp_error_t *error);

/* Reads a boolean member; missing or null leaves *value unchanged. */
pulp_status_t pulp_body_boolean(json_object *body, const char *key, int *value,
                                pulp_error_t *error);

/* Fills error with status and message and sets "property_names": [key]. */
pulp_status_t pulp_body_error(pulp_error_t *error, pulp_status_t status, const char *key,
                              const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Returns 1 when id is a valid resource id: 1 to 255 letters, digits, "-", "_" or ".", and
 * not "." or ".." (which would name a directory above a published tree). */
int pulp_id_is_valid(const char *id);

#endif
