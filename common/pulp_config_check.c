#include "pulp_config_check.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pulp_status_t key_error(pulp_error_t *error, pulp_status_t status, const char *key,
                               const char *message)
{
    json_object *names = json_object_new_array();

    json_object_array_add(names, json_object_new_string(key));
    pulp_error_set(error, status, "%s", message);
    pulp_error_add_data(error, "property_names", names);
    return status;
}

static pulp_status_t invalid(pulp_error_t *error, const char *key, const char *expected)
{
    char message[256];

    snprintf(message, sizeof message, "invalid value of configuration key \"%s\": expected %s",
             key, expected);
    return key_error(error, PULP_ERR_INVALID_VALUE, key, message);
}

/* Reads a non-negative integer from a JSON number or a string of digits; -1 otherwise. */
static long long integer_value(json_object *value)
{
    const char *text;
    char *end = NULL;
    long long number;

    if (json_object_is_type(value, json_type_int)) {
        number = json_object_get_int64(value);
        return number < 0 ? -1 : number;
    }
    if (!json_object_is_type(value, json_type_string))
        return -1;

    text = json_object_get_string(value);
    if (!isdigit((unsigned char)text[0]) || strlen(text) != (size_t)json_object_get_string_len(value))
        return -1;
    errno = 0;
    number = strtoll(text, &end, 10);
    if (errno != 0 || *end)
        return -1;
    return number;
}

static int is_boolean(json_object *value)
{
    const char *text;

    if (json_object_is_type(value, json_type_boolean))
        return 1;
    if (!json_object_is_type(value, json_type_string))
        return 0;
    text = json_object_get_string(value);
    return strcasecmp(text, "true") == 0 || strcasecmp(text, "false") == 0;
}

int pulp_config_is_true(json_object *value)
{
    if (json_object_is_type(value, json_type_boolean))
        return json_object_get_boolean(value);
    if (json_object_is_type(value, json_type_string))
        return strcasecmp(json_object_get_string(value), "true") == 0;
    return 0;
}

static int has_nul(json_object *value)
{
    return strlen(json_object_get_string(value)) != (size_t)json_object_get_string_len(value);
}

static int is_url(json_object *value)
{
    static const char *const schemes[] = { "http://", "https://", "ftp://", "file://", NULL };
    const char *text = json_object_get_string(value);

    if (has_nul(value))
        return 0;
    for (const char *c = text; *c; c++) {
        if ((unsigned char)*c <= ' ')
            return 0;
    }
    for (int i = 0; schemes[i]; i++) {
        size_t length = strlen(schemes[i]);

        if (strncasecmp(text, schemes[i], length) == 0 && text[length])
            return 1;
    }
    return 0;
}

int pulp_config_relative_path_is_safe(const char *path, size_t length)
{
    size_t start = 0;

    if (!path || length == 0 || strlen(path) != length || path[0] == '/')
        return 0;

    for (size_t i = 0; i <= length; i++) {
        size_t segment;

        if (i < length && path[i] != '/') {
            if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f || path[i] == '\\')
                return 0;
            continue;
        }
        segment = i - start;
        /* An empty segment is allowed only as the trailing slash. */
        if (segment == 0 && i != length)
            return 0;
        if (segment == 1 && path[start] == '.')
            return 0;
        if (segment == 2 && path[start] == '.' && path[start + 1] == '.')
            return 0;
        start = i + 1;
    }
    return 1;
}

static int is_absolute_path(json_object *value)
{
    const char *text = json_object_get_string(value);
    size_t length = (size_t)json_object_get_string_len(value);

    if (has_nul(value) || text[0] != '/')
        return 0;
    if (length == 1)
        return 1;
    return pulp_config_relative_path_is_safe(text + 1, length - 1);
}

static int in_choices(const char *const *choices, const char *text)
{
    if (!choices)
        return 1;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], text) == 0)
            return 1;
    }
    return 0;
}

static pulp_status_t check_string_list(const pulp_config_key_t *key, json_object *value,
                                       pulp_error_t *error)
{
    if (!json_object_is_type(value, json_type_array))
        return invalid(error, key->name, "a list of strings");

    for (size_t i = 0; i < json_object_array_length(value); i++) {
        json_object *item = json_object_array_get_idx(value, i);

        if (!json_object_is_type(item, json_type_string) || has_nul(item))
            return invalid(error, key->name, "a list of strings");
        if (!in_choices(key->choices, json_object_get_string(item)))
            return invalid(error, key->name, "a list of known type ids");
    }
    return PULP_OK;
}

static pulp_status_t check_string(const pulp_config_key_t *key, json_object *value,
                                  pulp_error_t *error)
{
    if (!json_object_is_type(value, json_type_string) || has_nul(value))
        return invalid(error, key->name, "a string");
    if (!in_choices(key->choices, json_object_get_string(value)))
        return invalid(error, key->name, "one of the documented values");
    return PULP_OK;
}

static pulp_status_t check_value(const pulp_config_key_t *key, json_object *value,
                                 pulp_error_t *error)
{
    long long number;

    switch (key->type) {
    case PULP_CONFIG_STRING:
        return check_string(key, value, error);
    case PULP_CONFIG_BOOLEAN:
        return is_boolean(value) ? PULP_OK : invalid(error, key->name, "true or false");
    case PULP_CONFIG_COUNT:
        number = integer_value(value);
        return number >= 0 ? PULP_OK : invalid(error, key->name, "an integer >= 0");
    case PULP_CONFIG_POSITIVE:
        number = integer_value(value);
        return number >= 1 ? PULP_OK : invalid(error, key->name, "an integer >= 1");
    case PULP_CONFIG_PORT:
        number = integer_value(value);
        if (number >= 1 && number <= 65535)
            return PULP_OK;
        return invalid(error, key->name, "a port number from 1 to 65535");
    case PULP_CONFIG_URL:
        if (json_object_is_type(value, json_type_string) && is_url(value))
            return PULP_OK;
        return invalid(error, key->name, "an http, https, ftp or file URL");
    case PULP_CONFIG_RELATIVE_PATH:
        if (json_object_is_type(value, json_type_string) &&
            pulp_config_relative_path_is_safe(json_object_get_string(value),
                                              (size_t)json_object_get_string_len(value)))
            return PULP_OK;
        return invalid(error, key->name,
                       "a relative path without \"..\" or \".\" segments, a leading \"/\" or "
                       "control characters");
    case PULP_CONFIG_ABSOLUTE_PATH:
        if (json_object_is_type(value, json_type_string) && is_absolute_path(value))
            return PULP_OK;
        return invalid(error, key->name, "an absolute path without \"..\" segments");
    case PULP_CONFIG_STRING_LIST:
        return check_string_list(key, value, error);
    case PULP_CONFIG_OBJECT:
        if (json_object_is_type(value, json_type_object))
            return PULP_OK;
        return invalid(error, key->name, "an object");
    }
    return invalid(error, key->name, "a known value");
}

static const pulp_config_key_t *find_key(const pulp_config_key_t *keys, const char *name)
{
    for (const pulp_config_key_t *key = keys; key->name; key++) {
        if (strcmp(key->name, name) == 0)
            return key;
    }
    return NULL;
}

pulp_status_t pulp_config_check(json_object *config, const pulp_config_key_t *keys,
                                pulp_error_t *error)
{
    char message[256];

    if (config && !json_object_is_type(config, json_type_object))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid configuration: expected an object");

    if (config) {
        json_object_object_foreach(config, name, value) {
            const pulp_config_key_t *key = find_key(keys, name);

            if (!key) {
                snprintf(message, sizeof message, "unsupported configuration key \"%.200s\"",
                         name);
                return key_error(error, PULP_ERR_UNSUPPORTED_VALUE, name, message);
            }
            if (value && check_value(key, value, error) != PULP_OK)
                return error ? error->status : PULP_ERR_INVALID_VALUE;
        }
    }

    for (const pulp_config_key_t *key = keys; key->name; key++) {
        json_object *value = NULL;

        if (!key->required)
            continue;
        if (config && json_object_object_get_ex(config, key->name, &value) && value)
            continue;
        snprintf(message, sizeof message, "missing required configuration key \"%s\"",
                 key->name);
        return key_error(error, PULP_ERR_MISSING_VALUE, key->name, message);
    }
    return PULP_OK;
}

json_object *pulp_config_merge(json_object *base, json_object *delta)
{
    json_object *merged = json_object_new_object();

    if (base && json_object_is_type(base, json_type_object)) {
        json_object_object_foreach(base, name, value)
            json_object_object_add(merged, name, json_object_get(value));
    }
    if (delta && json_object_is_type(delta, json_type_object)) {
        json_object_object_foreach(delta, name, value) {
            if (value)
                json_object_object_add(merged, name, json_object_get(value));
            else
                json_object_object_del(merged, name);
        }
    }
    return merged;
}

pulp_status_t pulp_config_blame_override(json_object *override, pulp_error_t *error)
{
    static const char prefix[] = "invalid override_config: ";
    size_t length = strlen(error->message);
    size_t room = sizeof error->message - sizeof prefix;

    if (!override || !json_object_is_type(override, json_type_object) ||
        json_object_object_length(override) == 0 ||
        strncmp(error->message, prefix, sizeof prefix - 1) == 0)
        return error->status;
    /* The message moves right; a message too long for both loses its end. */
    length = length < room ? length : room;
    memmove(error->message + sizeof prefix - 1, error->message, length);
    memcpy(error->message, prefix, sizeof prefix - 1);
    error->message[sizeof prefix - 1 + length] = '\0';
    return error->status;
}
