#include "directives.h"

#include <string.h>

#include <apr_strings.h>

#include "mod_pulp.h"

#define DEFAULT_BROKER "amqp://127.0.0.1:5672"
#define DEFAULT_TASK_QUEUE "pulp.tasks"
#define DEFAULT_STORAGE_DIR "/var/lib/pulp"
#define DEFAULT_MAX_BODY_SIZE ((apr_off_t)100 * 1024 * 1024)
#define UNSET_SIZE ((apr_off_t)-1)
#define UNSET_FLAG (-1)

const pulp_directive_info_t pulp_directive_info[] = {
    { "PulpDatabase", "none (the API answers 503 until it is set)", "virtual host overrides" },
    { "PulpBroker", DEFAULT_BROKER, "virtual host overrides" },
    { "PulpTaskQueue", DEFAULT_TASK_QUEUE, "virtual host overrides" },
    { "PulpStorageDir", DEFAULT_STORAGE_DIR, "virtual host overrides" },
    { "PulpMaxBodySize", "104857600 (100 MiB)", "virtual host overrides" },
    { "PulpDiagnosticTasks", "Off", "virtual host overrides" },
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

static const char *set_broker(cmd_parms *cmd, void *dir, const char *value)
{
    (void)dir;
    if (strncmp(value, "amqp://", 7) != 0 && strncmp(value, "amqps://", 8) != 0)
        return apr_psprintf(cmd->pool, "PulpBroker: invalid URL \"%s\": expected amqp://HOST:PORT "
                            "or amqps://HOST:PORT", value);
    server_config(cmd)->broker = value;
    return NULL;
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

const command_rec pulp_directives[] = {
    AP_INIT_TAKE1("PulpDatabase", set_database, NULL, RSRC_CONF,
                  "libpq connection string of the Pulp database"),
    AP_INIT_TAKE1("PulpBroker", set_broker, NULL, RSRC_CONF,
                  "URL of the AMQP 1.0 broker, amqp://HOST:PORT (default " DEFAULT_BROKER ")"),
    AP_INIT_TAKE1("PulpTaskQueue", set_task_queue, NULL, RSRC_CONF,
                  "address of the task queue (default " DEFAULT_TASK_QUEUE ")"),
    AP_INIT_TAKE1("PulpStorageDir", set_storage_dir, NULL, RSRC_CONF,
                  "directory of the content store and published trees (default "
                  DEFAULT_STORAGE_DIR ")"),
    AP_INIT_TAKE1("PulpMaxBodySize", set_max_body_size, NULL, RSRC_CONF,
                  "largest accepted request body in bytes (default 104857600)"),
    AP_INIT_FLAG("PulpDiagnosticTasks", set_diagnostic_tasks, NULL, RSRC_CONF,
                 "accept the diagnostic task kind used by the test suite (default Off)"),
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
