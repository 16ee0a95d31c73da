/* The iso content type and the configuration checks of iso_importer and iso_distributor. */
#include "pulp_config_check.h"
#include "pulp_plugins.h"

static const char *const iso_key[] = { "name", "checksum", "size", NULL };
static const char *const iso_indexes[] = { "name", NULL };

const pulp_content_type_t pulp_iso_content_types[] = {
    { "iso", "ISO", "ISO", iso_key, iso_indexes },
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *const iso_type_ids[] = { "iso", NULL };

static const pulp_config_key_t importer_keys[] = {
    { "feed", PULP_CONFIG_URL, 0, NULL },
    { "validate", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "remove_missing", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "max_downloads", PULP_CONFIG_POSITIVE, 0, NULL },
    { "max_speed", PULP_CONFIG_POSITIVE, 0, NULL },
    { "ssl_validation", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "ssl_ca_cert", PULP_CONFIG_STRING, 0, NULL },
    { "ssl_client_cert", PULP_CONFIG_STRING, 0, NULL },
    { "ssl_client_key", PULP_CONFIG_STRING, 0, NULL },
    { "proxy_host", PULP_CONFIG_STRING, 0, NULL },
    { "proxy_port", PULP_CONFIG_PORT, 0, NULL },
    { "proxy_username", PULP_CONFIG_STRING, 0, NULL },
    { "proxy_password", PULP_CONFIG_STRING, 0, NULL },
    { "basic_auth_username", PULP_CONFIG_STRING, 0, NULL },
    { "basic_auth_password", PULP_CONFIG_STRING, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t distributor_keys[] = {
    { "serve_http", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "serve_https", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "https_ca", PULP_CONFIG_STRING, 0, NULL },
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

const pulp_importer_type_t pulp_iso_importer_type = {
    "iso_importer", "ISO Importer", iso_type_ids, validate_importer,
};

/* Trees are served at /pulp/isos/<repo_id>/, so there is no path to keep unique. */
const pulp_distributor_type_t pulp_iso_distributor_type = {
    "iso_distributor", "ISO Distributor", iso_type_ids, validate_distributor, NULL, NULL,
};
