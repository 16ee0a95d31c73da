/* Typed reads of importer and distributor configuration values. The API validated the
 * configuration already (yum_config.c), so a value of the wrong type reads as absent. */
#include <stdlib.h>
#include <string.h>

#include "pulp_config_check.h"
#include "yum.h"

static json_object *config_value(json_object *config, const char *key)
{
    json_object *value = NULL;

    if (!config || !json_object_object_get_ex(config, key, &value))
        return NULL;
    return value;
}

int yum_config_bool(json_object *config, const char *key, int fallback)
{
    json_object *value = config_value(config, key);

    if (!value)
        return fallback;
    if (json_object_is_type(value, json_type_boolean))
        return json_object_get_boolean(value);
    if (json_object_is_type(value, json_type_string))
        return pulp_config_is_true(value);
    return fallback;
}

long long yum_config_int(json_object *config, const char *key, long long fallback)
{
    json_object *value = config_value(config, key);
    const char *text;
    char *end = NULL;
    long long number;

    if (!value)
        return fallback;
    if (json_object_is_type(value, json_type_int))
        return json_object_get_int64(value);
    if (!json_object_is_type(value, json_type_string))
        return fallback;

    text = json_object_get_string(value);
    number = strtoll(text, &end, 10);
    if (end == text || *end)
        return fallback;
    return number;
}

const char *yum_config_string(json_object *config, const char *key)
{
    json_object *value = config_value(config, key);

    if (!value || !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static int list_contains(json_object *list, const char *item)
{
    if (!list || !json_object_is_type(list, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *entry = json_object_array_get_idx(list, i);

        if (json_object_is_type(entry, json_type_string) &&
            strcmp(json_object_get_string(entry), item) == 0)
            return 1;
    }
    return 0;
}

int yum_config_skips(json_object *config, const char *type_id)
{
    return list_contains(config_value(config, "type_skip_list"), type_id) ||
           list_contains(config_value(config, "skip"), type_id);
}
