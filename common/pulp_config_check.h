/* Table-driven checks of importer and distributor configurations.
 *
 * A plugin describes its keys once (name, type, whether required) and calls
 * pulp_config_check() from its validate_config. Every failure is a 400 whose message names the
 * key and whose error data carries "property_names": [key], as Pulp 2 reports it. */
#ifndef PULP_CONFIG_CHECK_H
#define PULP_CONFIG_CHECK_H

#include <json-c/json.h>

#include "pulp_error.h"

typedef enum {
    /* Any JSON string. */
    PULP_CONFIG_STRING,
    /* A JSON boolean, or the string "true" or "false" (any case), as Pulp 2 accepts. */
    PULP_CONFIG_BOOLEAN,
    /* An integer >= 0, as a JSON number or a string of digits. */
    PULP_CONFIG_COUNT,
    /* An integer >= 1, as a JSON number or a string of digits. */
    PULP_CONFIG_POSITIVE,
    /* An integer from 1 to 65535. */
    PULP_CONFIG_PORT,
    /* An http, https, ftp or file URL. */
    PULP_CONFIG_URL,
    /* A relative path that stays below its root: no "..", not absolute, no NUL byte. */
    PULP_CONFIG_RELATIVE_PATH,
    /* An absolute path without ".." segments or NUL bytes. */
    PULP_CONFIG_ABSOLUTE_PATH,
    /* A JSON array of strings. */
    PULP_CONFIG_STRING_LIST,
    /* A JSON object with any members. */
    PULP_CONFIG_OBJECT,
} pulp_config_type_t;

typedef struct pulp_config_key {
    const char *name;
    pulp_config_type_t type;
    /* 1 when the key must be present with a non-null value. */
    int required;
    /* Allowed values of a STRING or each item of a STRING_LIST, NULL-terminated; NULL allows
     * any value. */
    const char *const *choices;
} pulp_config_key_t;

/* Checks config against keys, a list ended by an entry whose name is NULL. A key that is not
 * listed is PLP0017 (unsupported), a required key that is missing or null PLP0016, a value of
 * the wrong type or out of range PLP0015. A null value of an optional key is accepted: on
 * update it removes the key (see pulp_config_merge). */
pulp_status_t pulp_config_check(json_object *config, const pulp_config_key_t *keys,
                                pulp_error_t *error);

/* Returns 1 when path is a relative path that cannot leave its root: not empty, not
 * absolute, no "." or ".." segment, no empty segment except a trailing slash, no NUL byte,
 * no backslash or control character. length is the byte length (JSON strings may hold NUL). */
int pulp_config_relative_path_is_safe(const char *path, size_t length);

/* Returns a new object: base's members overridden by delta's, where a null member of delta
 * removes the key. Either argument may be NULL. */
json_object *pulp_config_merge(json_object *base, json_object *delta);

/* Marks error, set by the check of a configuration with override merged in, as the
 * override's: its message gains the prefix "invalid override_config: " when override has
 * members. Returns error->status. */
pulp_status_t pulp_config_blame_override(json_object *override, pulp_error_t *error);

/* Returns 1 when value is a boolean true or a "true" string (any case); 0 otherwise. */
int pulp_config_is_true(json_object *value);

#endif
