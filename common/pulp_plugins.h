/* The registry of content types, importer types and distributor types.
 *
 * Each content type registers its descriptors here (plugins/<type>/<type>_config.c); the core
 * (API, tasks, storage) looks types up by id and never switches on a type name. */
#ifndef PULP_PLUGINS_H
#define PULP_PLUGINS_H

#include <json-c/json.h>

#include "pulp_error.h"

typedef struct pulp_content_type {
    const char *id;
    const char *display_name;
    const char *description;
    /* Fields of the unit key, NULL-terminated. */
    const char *const *unit_key;
    /* Fields that searches may name besides the unit key, NULL-terminated. */
    const char *const *search_indexes;
} pulp_content_type_t;

typedef struct pulp_importer_type {
    const char *id;
    const char *display_name;
    /* Content types this importer brings in, NULL-terminated. */
    const char *const *content_types;
    /* Checks a complete importer configuration; on failure fills error with a 400 status
     * whose message names the key, and sets error data "property_names". */
    pulp_status_t (*validate_config)(json_object *config, pulp_error_t *error);
} pulp_importer_type_t;

typedef struct pulp_distributor_type {
    const char *id;
    const char *display_name;
    const char *const *content_types;
    pulp_status_t (*validate_config)(json_object *config, pulp_error_t *error);
    /* The config key whose value is served below a shared root and must be unique across
     * repositories (such as "relative_url"), or NULL. */
    const char *unique_path_key;
    /* The config keys that decide where and to whom the published tree is served, ending
     * with NULL, or NULL for none. A publish's override_config may not set them, because
     * httpd and the URL conflict checks read them from the stored configuration. */
    const char *const *serving_keys;
} pulp_distributor_type_t;

/* The descriptors of each plugin, defined in plugins/<name>/<name>_config.c and listed in
 * pulp_plugins.c. Content type lists end with an entry whose id is NULL. */
extern const pulp_content_type_t pulp_yum_content_types[];
extern const pulp_importer_type_t pulp_yum_importer_type;
extern const pulp_distributor_type_t pulp_yum_distributor_type;

extern const pulp_content_type_t pulp_iso_content_types[];
extern const pulp_importer_type_t pulp_iso_importer_type;
extern const pulp_distributor_type_t pulp_iso_distributor_type;

extern const pulp_content_type_t pulp_puppet_content_types[];
extern const pulp_importer_type_t pulp_puppet_importer_type;
extern const pulp_distributor_type_t pulp_puppet_distributor_type;
extern const pulp_distributor_type_t pulp_puppet_install_distributor_type;

/* Lookups by id: NULL when no plugin registers the id. */
const pulp_content_type_t *pulp_content_type_find(const char *id);
const pulp_importer_type_t *pulp_importer_type_find(const char *id);
const pulp_distributor_type_t *pulp_distributor_type_find(const char *id);

/* Checks the configuration of one sync: the stored configuration with override (NULL: none)
 * merged in passes the type's validation. An error caused with an override is marked as the
 * override's (pulp_config_blame_override). */
pulp_status_t pulp_importer_check_sync(const pulp_importer_type_t *type, json_object *stored,
                                       json_object *override, pulp_error_t *error);

/* Checks the configuration of one publish: override_config (NULL: none) sets none of the
 * type's serving_keys, and the stored configuration with the override merged in passes the
 * type's validation. */
pulp_status_t pulp_distributor_check_publish(const pulp_distributor_type_t *type,
                                             json_object *stored, json_object *override,
                                             pulp_error_t *error);

/* Iteration over every registered type: returns NULL past the last one. */
const pulp_content_type_t *pulp_content_type_at(int index);
const pulp_importer_type_t *pulp_importer_type_at(int index);
const pulp_distributor_type_t *pulp_distributor_type_at(int index);

#endif
