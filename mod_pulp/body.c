#include "body.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ID_LENGTH 255

pulp_status_t pulp_body_error(pulp_error_t *error, pulp_status_t status, const char *key,
                              const char *format, ...)
{
    json_object *names = json_object_new_array();
    va_list args;

    json_object_array_add(names, json_object_new_string(key));
    pulp_error_add_data(error, "property_names", names);
    va_start(args, format);
    pulp_error_setv(error, status, format, args);
    va_end(args);
    return status;
}

pulp_status_t pulp_body_require_object(json_object *body, const char *what, pulp_error_t *error)
{
    if (json_object_is_type(body, json_type_object))
        return PULP_OK;
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid %s: expected a JSON object",
                          what);
}

pulp_status_t pulp_body_check_keys(json_object *body, const char *const *allowed,
                                   pulp_error_t *error)
{
    json_object_object_foreach(body, key, value) {
        int known = 0;

        (void)value;
        for (int i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known)
            return pulp_body_error(error, PULP_ERR_UNSUPPORTED_VALUE, key,
                                   "unsupported property \"%.200s\"", key);
    }
    return PULP_OK;
}

/* Looks key up; returns 0 when absent or null (after the PLP0016 check), 1 when present. */
static int member(json_object *body, const char *key, int required, json_object **value,
                  pulp_status_t *status, pulp_error_t *error)
{
    *value = NULL;
    *status = PULP_OK;
    if (json_object_object_get_ex(body, key, value) && *value)
        return 1;
    if (required)
        *status = pulp_body_error(error, PULP_ERR_MISSING_VALUE, key,
                                  "missing required property \"%s\"", key);
    return 0;
}

pulp_status_t pulp_body_string(json_object *body, const char *key, int required,
                               const char **value, pulp_error_t *error)
{
    json_object *member_value;
    pulp_status_t status;

    *value = NULL;
    if (!member(body, key, required, &member_value, &status, error))
        return status;
    if (!json_object_is_type(member_value, json_type_string))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, key,
                               "invalid property \"%s\": expected a string", key);
    if (strlen(json_object_get_string(member_value)) !=
        (size_t)json_object_get_string_len(member_value))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, key,
                               "invalid property \"%s\": the string contains a NUL character",
                               key);
    *value = json_object_get_string(member_value);
    return PULP_OK;
}

pulp_status_t pulp_body_object(json_object *body, const char *key, int required,
                               json_object **value, pulp_error_t *error)
{
    pulp_status_t status;

    if (!member(body, key, required, value, &status, error))
        return status;
    if (!json_object_is_type(*value, json_type_object))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, key,
                               "invalid property \"%s\": expected an object", key);
    return PULP_OK;
}

pulp_status_t pulp_body_array(json_object *body, const char *key, int required,
                              json_object **value, pulp_error_t *error)
{
    pulp_status_t status;

    if (!member(body, key, required, value, &status, error))
        return status;
    if (!json_object_is_type(*value, json_type_array))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, key,
                               "invalid property \"%s\": expected a list", key);
    return PULP_OK;
}

pulp_status_t pulp_body_boolean(json_object *body, const char *key, int *value,
                                pulp_error_t *error)
{
    json_object *member_value;
    pulp_status_t status;

    if (!member(body, key, 0, &member_value, &status, error))
        return status;
    if (!json_object_is_type(member_value, json_type_boolean))
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, key,
                               "invalid property \"%s\": expected true or false", key);
    *value = json_object_get_boolean(member_value);
    return PULP_OK;
}

int pulp_id_is_valid(const char *id)
{
    size_t length = id ? strlen(id) : 0;

    if (length == 0 || length > MAX_ID_LENGTH)
        return 0;
    if (strspn(id, ".") == length)
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
           length;
}
