#include "directives.h"

#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <openssl/x509.h>

#include "amqp/pulp_amqp.h"
#include "mod_pulp.h"
#include "pulp_x509.h"

#define DEFAULT_BROKER "amqp://127.0.0.1:5672"
#define DEFAULT_TASK_QUEUE "pulp.tasks"
#define DEFAULT_STORAGE_DIR "/var/lib/pulp"
#define DEFAULT_MAX_BODY_SIZE ((apr_off_t)100 * 1024 * 1024)
#define UNSET_SIZE ((apr_off_t)-1)
#define UNSET_FLAG (-1)
/* A CA bundle is a few kilobytes; the limit only stops a wrong path from loading a huge file. */
#define MAX_CA_FILE_SIZE ((apr_off_t)1024 * 1024)

const pulp_directive_info_t pulp_directive_info[] = {
    { "PulpDatabase", "none (the API answers 503 until it is set)", "virtual host overrides" },
    { "PulpBroker", DEFAULT_BROKER, "virtual host overrides" },
    { "PulpTaskQueue", DEFAULT_TASK_QUEUE, "virtual host overrides" },
    { "PulpStorageDir", DEFAULT_STORAGE_DIR, "virtual host overrides" },
    { "PulpMaxBodySize", "104857600 (100 MiB)", "virtual host overrides" },
    { "PulpDiagnosticTasks", "Off", "virtual host overrides" },
    { "PulpRepoAuthCA", "none (a protected repository needs its own auth_ca)",
      "virtual host overrides" },
    { NULL, NULL, NULL },
};

void *pulp_create_server_config(apr_pool_t *pool, server_rec *s)
{
    pulp_server_config_t *config = apr_pcalloc(pool, sizeof *config);

    (void)s;
    config->max_body_size = UNSET_SIZE;
    config->diagnostic_tasks = UNSET_FLAG;
    return config;
}

void *pulp_merge_server_config(apr_pool_t *pool, void *base_config, void *add_config)
{
    pulp_server_config_t *base = base_config;
    pulp_server_config_t *add = add_config;
    pulp_server_config_t *merged = apr_pcalloc(pool, sizeof *merged);

    merged->database = add->database ? add->database : base->database;
    merged->broker = add->broker ? add->broker : base->broker;
    merged->task_queue = add->task_queue ? add->task_queue : base->task_queue;
    merged->storage_dir = add->storage_dir ? add->storage_dir : base->storage_dir;
    merged->max_body_size = add->max_body_size != UNSET_SIZE ? add->max_body_size
                                                              : base->max_body_size;
    merged->diagnostic_tasks = add->diagnostic_tasks != UNSET_FLAG ? add->diagnostic_tasks
                                                                    : base->diagnostic_tasks;
    if (add->repo_auth_ca) {
        merged->repo_auth_ca = add->repo_auth_ca;
        merged->repo_auth_ca_store = add->repo_auth_ca_store;
    } else {
        merged->repo_auth_ca = base->repo_auth_ca;
        merged->repo_auth_ca_store = base->repo_auth_ca_store;
    }
    return merged;
}

static pulp_server_config_t *server_config(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &pulp_module);
}

static const char *set_database(cmd_parms *cmd, void *dir, const char *value)
{
    (void)dir;
    server_config(cmd)->database = value;
    return NULL;
}

/* Checks the whole URL here, so that httpd does not start with a broker URL that every child
 * would fail to use. The message leaves out the URL because it may contain the password. */
static const char *set_broker(cmd_parms *cmd, void *dir, const char *value)
{
    pulp_error_t error = PULP_ERROR_INIT;
    const char *failure = NULL;

    (void)dir;
    if (pulp_amqp_check_url(value, &error) != PULP_OK)
        failure = apr_psprintf(cmd->pool, "PulpBroker: %s", error.message);
    else
        server_config(cmd)->broker = value;
    pulp_error_clear(&error);
    return failure;
}

static const char *set_task_queue(cmd_parms *cmd, void *dir, const char *value)
{
    (void)dir;
    if (!*value)
        return "PulpTaskQueue: the queue name is empty";
    server_config(cmd)->task_queue = value;
    return NULL;
}

static const char *set_storage_dir(cmd_parms *cmd, void *dir, const char *value)
{
    (void)dir;
    if (value[0] != '/')
        return apr_psprintf(cmd->pool, "PulpStorageDir: \"%s\" is not an absolute path", value);
    server_config(cmd)->storage_dir = value;
    return NULL;
}

static const char *set_max_body_size(cmd_parms *cmd, void *dir, const char *value)
{
    char *end = NULL;
    apr_off_t size;

    (void)dir;
    if (apr_strtoff(&size, value, &end, 10) != APR_SUCCESS || *end || size <= 0)
        return apr_psprintf(cmd->pool, "PulpMaxBodySize: invalid size \"%s\": expected a "
                            "positive number of bytes", value);
    server_config(cmd)->max_body_size = size;
    return NULL;
}

static const char *set_diagnostic_tasks(cmd_parms *cmd, void *dir, int flag)
{
    (void)dir;
    server_config(cmd)->diagnostic_tasks = flag;
    return NULL;
}

static apr_status_t free_store(void *store)
{
    X509_STORE_free(store);
    return APR_SUCCESS;
}

/* Reads the whole file at path into a NUL-terminated string from pool. */
static const char *read_text_file(apr_pool_t *pool, const char *path, const char **text)
{
    apr_file_t *file = NULL;
    apr_finfo_t info;
    apr_size_t length;
    char *buffer;
    apr_status_t rv;
    char reason[120];

    rv = apr_file_open(&file, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, pool);
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(&info, APR_FINFO_SIZE, file);
    if (rv != APR_SUCCESS) {
        if (file)
            apr_file_close(file);
        return apr_psprintf(pool, "could not read \"%s\": %s", path,
                            apr_strerror(rv, reason, sizeof reason));
    }
    if (info.size > MAX_CA_FILE_SIZE) {
        apr_file_close(file);
        return apr_psprintf(pool, "\"%s\" is larger than %" APR_OFF_T_FMT " bytes", path,
                            MAX_CA_FILE_SIZE);
    }
    length = (apr_size_t)info.size;
    buffer = apr_palloc(pool, length + 1);
    rv = apr_file_read_full(file, buffer, length, &length);
    apr_file_close(file);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(pool, "could not read \"%s\": %s", path,
                            apr_strerror(rv, reason, sizeof reason));
    buffer[length] = '\0';
    *text = buffer;
    return NULL;
}

/* Loads the CA file once, when httpd reads its configuration, so that a bad file stops
 * httpd from starting instead of failing every request. */
static const char *set_repo_auth_ca(cmd_parms *cmd, void *dir, const char *value)
{
    pulp_server_config_t *config = server_config(cmd);
    pulp_error_t error = PULP_ERROR_INIT;
    const char *path = ap_server_root_relative(cmd->pool, value);
    const char *text = NULL;
    const char *failure;
    X509_STORE *store = NULL;

    (void)dir;
    if (!path)
        return apr_psprintf(cmd->pool, "PulpRepoAuthCA: invalid path \"%s\"", value);
    failure = read_text_file(cmd->temp_pool, path, &text);
    if (failure)
        return apr_pstrcat(cmd->pool, "PulpRepoAuthCA: ", failure, NULL);
    if (pulp_x509_store_from_pem(text, &store, &error) != PULP_OK) {
        failure = apr_psprintf(cmd->pool, "PulpRepoAuthCA: invalid CA file \"%s\": %s", path,
                               error.message);
        pulp_error_clear(&error);
        return failure;
    }
    apr_pool_cleanup_register(cmd->pool, store, free_store, apr_pool_cleanup_null);
    config->repo_auth_ca = path;
    config->repo_auth_ca_store = store;
    return NULL;
}

const command_rec pulp_directives[] = {
    AP_INIT_TAKE1("PulpDatabase", set_database, NULL, RSRC_CONF,
                  "libpq connection string of the Pulp database"),
    AP_INIT_TAKE1("PulpBroker", set_broker, NULL, RSRC_CONF,
                  "URL of the AMQP 1.0 broker, amqp[s]://[USER[:PASSWORD]@]HOST[:PORT] (default "
                  DEFAULT_BROKER ")"),
    AP_INIT_TAKE1("PulpTaskQueue", set_task_queue, NULL, RSRC_CONF,
                  "address of the task queue (default " DEFAULT_TASK_QUEUE ")"),
    AP_INIT_TAKE1("PulpStorageDir", set_storage_dir, NULL, RSRC_CONF,
                  "directory of the content store and published trees (default "
                  DEFAULT_STORAGE_DIR ")"),
    AP_INIT_TAKE1("PulpMaxBodySize", set_max_body_size, NULL, RSRC_CONF,
                  "largest accepted request body in bytes (default 104857600)"),
    AP_INIT_FLAG("PulpDiagnosticTasks", set_diagnostic_tasks, NULL, RSRC_CONF,
                 "accept the diagnostic task kind used by the test suite (default Off)"),
    AP_INIT_TAKE1("PulpRepoAuthCA", set_repo_auth_ca, NULL, RSRC_CONF,
                  "PEM file of the CA certificates that sign the client certificates of "
                  "protected repositories without their own auth_ca (default none)"),
    { NULL },
};

/* Applies the defaults to a merged configuration; called for every server at startup. */
void pulp_config_apply_defaults(pulp_server_config_t *config)
{
    if (!config->broker)
        config->broker = DEFAULT_BROKER;
    if (!config->task_queue)
        config->task_queue = DEFAULT_TASK_QUEUE;
    if (!config->storage_dir)
        config->storage_dir = DEFAULT_STORAGE_DIR;
    if (config->max_body_size == UNSET_SIZE)
        config->max_body_size = DEFAULT_MAX_BODY_SIZE;
    if (config->diagnostic_tasks == UNSET_FLAG)
        config->diagnostic_tasks = 0;
}
