/* yum content types and the configuration checks of yum_importer and yum_distributor.
 *
 * Built into the common library, so mod_pulp validates configurations without the worker's
 * libraries. The sync and publish code is in the other files of this folder. */
#include <openssl/x509.h>
#include <string.h>

#include "pulp_config_check.h"
#include "pulp_plugins.h"
#include "pulp_x509.h"

static const char *const rpm_key[] = {
    "name", "epoch", "version", "release", "arch", "checksumtype", "checksum", NULL,
};
static const char *const rpm_indexes[] = {
    "name", "epoch", "version", "release", "arch", "filename", "checksum", "checksumtype", NULL,
};
static const char *const drpm_key[] = {
    "epoch", "version", "release", "filename", "checksumtype", "checksum", NULL,
};
static const char *const erratum_key[] = { "id", NULL };
static const char *const erratum_indexes[] = {
    "version", "release", "type", "status", "updated", "issued", "severity", "references", NULL,
};
static const char *const comps_key[] = { "id", "repo_id", NULL };
static const char *const comps_indexes[] = { "id", "repo_id", "name", NULL };
static const char *const metadata_file_key[] = { "data_type", "repo_id", NULL };
static const char *const distribution_key[] = {
    "distribution_id", "family", "variant", "version", "arch", NULL,
};
static const char *const modulemd_key[] = {
    "name", "stream", "version", "context", "arch", NULL,
};
static const char *const no_indexes[] = { NULL };

const pulp_content_type_t pulp_yum_content_types[] = {
    { "rpm", "RPM", "RPM", rpm_key, rpm_indexes },
    { "srpm", "SRPM", "SRPM", rpm_key, rpm_indexes },
    { "drpm", "DRPM", "DRPM", drpm_key, no_indexes },
    { "erratum", "Erratum", "Erratum", erratum_key, erratum_indexes },
    { "package_group", "Package Group", "Yum Package group information", comps_key,
      comps_indexes },
    { "package_category", "Package Category", "Yum Package category information", comps_key,
      comps_indexes },
    { "package_environment", "Package Environment", "Yum Package environment information",
      comps_key, comps_indexes },
    { "yum_repo_metadata_file", "YUM Repository Metadata File", "YUM Repository Metadata File",
      metadata_file_key, no_indexes },
    { "distribution", "Distribution", "Kickstart trees and all accompanying files",
      distribution_key, no_indexes },
    { "modulemd", "Modulemd", "Modulemd", modulemd_key, no_indexes },
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *const yum_type_ids[] = {
    "rpm", "srpm", "drpm", "erratum", "package_group", "package_category",
    "package_environment", "yum_repo_metadata_file", "distribution", "modulemd", NULL,
};

static const char *const checksum_types[] = {
    "md5", "sha", "sha1", "sha224", "sha256", "sha384", "sha512", NULL,
};

static const pulp_config_key_t importer_keys[] = {
    { "feed", PULP_CONFIG_URL, 0, NULL },
    { "validate", PULP_CONFIG_BOOLEAN, 0, NULL },
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
    { "max_downloads", PULP_CONFIG_POSITIVE, 0, NULL },
    { "max_speed", PULP_CONFIG_POSITIVE, 0, NULL },
    { "remove_missing", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "retain_old_count", PULP_CONFIG_COUNT, 0, NULL },
    { "type_skip_list", PULP_CONFIG_STRING_LIST, 0, yum_type_ids },
    { "skip", PULP_CONFIG_STRING_LIST, 0, yum_type_ids },
    /* Extensions (Pulp 2 has no such keys): seconds without data before a download fails,
     * and the number of retries after a transient download failure. */
    { "read_timeout", PULP_CONFIG_POSITIVE, 0, NULL },
    { "retries", PULP_CONFIG_COUNT, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

static const pulp_config_key_t distributor_keys[] = {
    { "relative_url", PULP_CONFIG_RELATIVE_PATH, 1, NULL },
    { "http", PULP_CONFIG_BOOLEAN, 1, NULL },
    { "https", PULP_CONFIG_BOOLEAN, 1, NULL },
    { "protected", PULP_CONFIG_BOOLEAN, 0, NULL },
    { "auth_ca", PULP_CONFIG_STRING, 0, NULL },
    { "auth_cert", PULP_CONFIG_STRING, 0, NULL },
    { "gpgkey", PULP_CONFIG_STRING, 0, NULL },
    { "checksum_type", PULP_CONFIG_STRING, 0, checksum_types },
    { "skip", PULP_CONFIG_STRING_LIST, 0, yum_type_ids },
    { "generate_sqlite", PULP_CONFIG_BOOLEAN, 0, NULL },
    { NULL, PULP_CONFIG_STRING, 0, NULL },
};

/* Keys that need another key: { key, the key it requires }. Usernames and passwords go in
 * pairs. A proxy port needs a proxy host and a client key needs a client certificate, but a
 * proxy host alone uses the default port, and a certificate file may also contain the key. */
static const char *const importer_dependencies[][2] = {
    { "proxy_username", "proxy_password" },
    { "proxy_password", "proxy_username" },
    { "basic_auth_username", "basic_auth_password" },
    { "basic_auth_password", "basic_auth_username" },
    { "proxy_port", "proxy_host" },
    { "ssl_client_key", "ssl_client_cert" },
};

static int has_value(json_object *config, const char *key)
{
    json_object *value = NULL;

    return config && json_object_object_get_ex(config, key, &value) && value;
}

static pulp_status_t missing_dependency(const char *key, const char *required,
                                        pulp_error_t *error)
{
    json_object *names = json_object_new_array();

    json_object_array_add(names, json_object_new_string(required));
    pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                   "missing configuration key \"%s\": it is required when \"%s\" is set",
                   required, key);
    pulp_error_add_data(error, "property_names", names);
    return PULP_ERR_MISSING_VALUE;
}

static pulp_status_t validate_importer(json_object *config, pulp_error_t *error)
{
    pulp_status_t status = pulp_config_check(config, importer_keys, error);
    size_t count = sizeof importer_dependencies / sizeof importer_dependencies[0];

    if (status != PULP_OK)
        return status;

    for (size_t i = 0; i < count; i++) {
        const char *key = importer_dependencies[i][0];
        const char *required = importer_dependencies[i][1];

        if (has_value(config, key) && !has_value(config, required))
            return missing_dependency(key, required, error);
    }
    return PULP_OK;
}

static pulp_status_t invalid_value(const char *key, pulp_error_t *error)
{
    json_object *names = json_object_new_array();

    json_object_array_add(names, json_object_new_string(key));
    pulp_error_add_data(error, "property_names", names);
    return error->status;
}

/* Every httpd thread parses the CAs of all protected repositories again after each
 * repository change, so their size is bounded. A CA bundle for client certificates is a
 * few certificates of about 2 KB each. */
#define MAX_AUTH_CA_BYTES (256 * 1024)
#define MAX_AUTH_CA_CERTIFICATES 64

static int count_certificates(const char *pem)
{
    int count = 0;

    for (const char *at = pem; (at = strstr(at, "-----BEGIN CERTIFICATE-----")); at++)
        count++;
    return count;
}

/* An auth_ca that is set must parse, even on a distributor that is not protected yet. */
static pulp_status_t check_auth_ca(json_object *config, pulp_error_t *error)
{
    json_object *value = NULL;
    X509_STORE *store = NULL;
    pulp_error_t reason = PULP_ERROR_INIT;

    if (!json_object_object_get_ex(config, "auth_ca", &value) || !value)
        return PULP_OK;
    if (json_object_is_type(value, json_type_string) &&
        (json_object_get_string_len(value) > MAX_AUTH_CA_BYTES ||
         count_certificates(json_object_get_string(value)) > MAX_AUTH_CA_CERTIFICATES)) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid auth_ca: at most %d "
                       "certificates and %d KiB are allowed; give only the CAs that sign the "
                       "clients' certificates", MAX_AUTH_CA_CERTIFICATES,
                       MAX_AUTH_CA_BYTES / 1024);
        return invalid_value("auth_ca", error);
    }
    if (pulp_x509_store_from_pem(json_object_get_string(value), &store, &reason) != PULP_OK) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid auth_ca: %s; set it to the PEM "
                       "text of the CA certificates that sign the clients' certificates",
                       reason.message);
        pulp_error_clear(&reason);
        return invalid_value("auth_ca", error);
    }
    X509_STORE_free(store);
    return PULP_OK;
}

/* httpd checks client certificates only over HTTPS, so a protected repository must have its
 * https tree. Whether a CA is available (auth_ca or httpd's PulpRepoAuthCA) is checked by
 * mod_pulp, because the fallback CA is part of its configuration. */
static pulp_status_t check_protected(json_object *config, pulp_error_t *error)
{
    json_object *protected = NULL;
    json_object *https = NULL;

    if (!json_object_object_get_ex(config, "protected", &protected) ||
        !pulp_config_is_true(protected))
        return PULP_OK;
    json_object_object_get_ex(config, "https", &https);
    if (pulp_config_is_true(https))
        return PULP_OK;
    pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid https: a protected repository is "
                   "served only over HTTPS, so \"protected\": true requires \"https\": true");
    return invalid_value("https", error);
}

static pulp_status_t validate_distributor(json_object *config, pulp_error_t *error)
{
    if (pulp_config_check(config, distributor_keys, error) != PULP_OK)
        return error->status;
    if (!config)
        return PULP_OK;
    if (check_auth_ca(config, error) != PULP_OK || check_protected(config, error) != PULP_OK)
        return error->status;
    return PULP_OK;
}

const pulp_importer_type_t pulp_yum_importer_type = {
    "yum_importer", "Yum Importer", yum_type_ids, validate_importer,
};

static const char *const yum_serving_keys[] = {
    "relative_url", "http", "https", "protected", "auth_ca", NULL,
};

const pulp_distributor_type_t pulp_yum_distributor_type = {
    "yum_distributor", "Yum Distributor", yum_type_ids, validate_distributor, "relative_url",
    yum_serving_keys,
};
