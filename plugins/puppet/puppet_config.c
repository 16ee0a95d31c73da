/* The puppet_module content type and the configuration checks of puppet_importer,
 * puppet_distributor and puppet_install_distributor. */
#include "pulp_config_check.h"
#include "pulp_plugins.h"

static const char *const module_key[] = { "author", "name", "version", NULL };
static const char *const module_indexes[] = { "author", "name", "version", "tag_list", NULL };

const pulp_content_type_t pulp_puppet_content_types[] = {
    { "puppet_module", "Puppet Module", "Puppet Module", module_key, module_indexes },
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *const puppet_type_ids[] = { "puppet_module", NULL };

static const pulp_config_key_t importer_keys[] = {
    { "feed", PULP_CONFIG_URL, 0, NULL },
    { "queries", PULP_CONFIG_STRING_LIST, 0, NULL },
    { "remove_missing", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "proxy_host", PULP_CONFIG_STRING, 0, NULL },
    { "proxy_port", PULP_CONFIG_PORT, 0, NULL },
    { "proxy_username", PULP_CONFIG_STRING, 0, NULL },
    { "proxy_password", PULP_CONFIG_STRING, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t distributor_keys[] = {
    { "serve_http", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "serve_https", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "absolute_path", PULP_CONFIG_ABSOLUTE_PATH, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t install_distributor_keys[] = {
    { "install_path", PULP_CONFIG_ABSOLUTE_PATH, 1, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static pulp_status_t validate_importer(json_object *config, pulp_error_t *error)
{
    return pulp_config_check(config, importer_keys, error);
}

static pulp_status_t validate_distributor(json_object *config, pulp_error_t *error)
{
    return pulp_config_check(config, distributor_keys, error);
}

static pulp_status_t validate_install_distributor(json_object *config, pulp_error_t *error)
{
    return pulp_config_check(config, install_distributor_keys, error);
}

const pulp_importer_type_t pulp_puppet_importer_type = {
    "puppet_importer", "Puppet Importer", puppet_type_ids, validate_importer,
};

const pulp_distributor_type_t pulp_puppet_distributor_type = {
    "puppet_distributor", "Puppet Distributor", puppet_type_ids, validate_distributor, NULL,
    NULL,
};

const pulp_distributor_type_t pulp_puppet_install_distributor_type = {
    "puppet_install_distributor", "Puppet Install Distributor", puppet_type_ids,
    validate_install_distributor, NULL, NULL,
};
