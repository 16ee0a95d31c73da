/* The registry: the one place that lists every plugin's descriptors. A new plugin adds its
 * content types, importer and distributors to the lists below. */
#include "pulp_plugins.h"

#include <stddef.h>
#include <string.h>

#include "pulp_config_check.h"

static const pulp_content_type_t *const content_type_lists[] = {
    pulp_yum_content_types,
    pulp_puppet_content_types,
    pulp_iso_content_types,
};

static const pulp_importer_type_t *const importer_types[] = {
    &pulp_yum_importer_type,
    &pulp_puppet_importer_type,
    &pulp_iso_importer_type,
};

static const pulp_distributor_type_t *const distributor_types[] = {
    &pulp_yum_distributor_type,
    &pulp_puppet_distributor_type,
    &pulp_puppet_install_distributor_type,
    &pulp_iso_distributor_type,
};

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

const pulp_content_type_t *pulp_content_type_at(int index)
{
    if (index < 0)
        return NULL;
    for (int list = 0; list < COUNT(content_type_lists); list++) {
        for (const pulp_content_type_t *type = content_type_lists[list]; type->id; type++) {
            if (index == 0)
                return type;
            index--;
        }
    }
    return NULL;
}

const pulp_importer_type_t *pulp_importer_type_at(int index)
{
    if (index < 0 || index >= COUNT(importer_types))
        return NULL;
    return importer_types[index];
}

const pulp_distributor_type_t *pulp_distributor_type_at(int index)
{
    if (index < 0 || index >= COUNT(distributor_types))
        return NULL;
    return distributor_types[index];
}

const pulp_content_type_t *pulp_content_type_find(const char *id)
{
    if (!id)
        return NULL;
    for (int list = 0; list < COUNT(content_type_lists); list++) {
        for (const pulp_content_type_t *type = content_type_lists[list]; type->id; type++) {
            if (strcmp(type->id, id) == 0)
                return type;
        }
    }
    return NULL;
}

const pulp_importer_type_t *pulp_importer_type_find(const char *id)
{
    for (int i = 0; id && i < COUNT(importer_types); i++) {
        if (strcmp(importer_types[i]->id, id) == 0)
            return importer_types[i];
    }
    return NULL;
}

const pulp_distributor_type_t *pulp_distributor_type_find(const char *id)
{
    for (int i = 0; id && i < COUNT(distributor_types); i++) {
        if (strcmp(distributor_types[i]->id, id) == 0)
            return distributor_types[i];
    }
    return NULL;
}

pulp_status_t pulp_importer_check_sync(const pulp_importer_type_t *type, json_object *stored,
                                       json_object *override, pulp_error_t *error)
{
    json_object *merged = pulp_config_merge(stored, override);
    pulp_status_t status = type->validate_config(merged, error);

    json_object_put(merged);
    return status == PULP_OK ? PULP_OK : pulp_config_blame_override(override, error);
}

pulp_status_t pulp_distributor_check_publish(const pulp_distributor_type_t *type,
                                             json_object *stored, json_object *override,
                                             pulp_error_t *error)
{
    json_object *merged;
    pulp_status_t status;

    for (size_t i = 0; override && type->serving_keys && type->serving_keys[i]; i++) {
        const char *key = type->serving_keys[i];
        json_object *names;

        if (!json_object_object_get_ex(override, key, NULL))
            continue;
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid override_config: \"%s\" cannot "
                       "be overridden for one publish, because it decides where the repository "
                       "is served; change the distributor's configuration instead", key);
        names = json_object_new_array();
        json_object_array_add(names, json_object_new_string(key));
        pulp_error_add_data(error, "property_names", names);
        return error->status;
    }
    merged = pulp_config_merge(stored, override);
    status = type->validate_config(merged, error);
    json_object_put(merged);
    return status == PULP_OK ? PULP_OK : pulp_config_blame_override(override, error);
}
