#include "pulp_worker_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONCURRENCY 2
#define DEFAULT_HEARTBEAT_INTERVAL 15
#define DEFAULT_SHUTDOWN_GRACE 30
#define DEFAULT_CANCEL_GRACE 10
#define DEFAULT_COMPLETED_TASK_MAX_AGE (7L * 24 * 3600)
#define MAX_CONCURRENCY 256

void pulp_worker_config_init(pulp_worker_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->broker = strdup(PULP_WORKER_DEFAULT_BROKER);
    config->queue = strdup(PULP_WORKER_DEFAULT_QUEUE);
    config->storage_dir = strdup(PULP_WORKER_DEFAULT_STORAGE_DIR);
    config->concurrency = DEFAULT_CONCURRENCY;
    config->log_level = PULP_LOG_INFO;
    config->heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL;
    config->shutdown_grace = DEFAULT_SHUTDOWN_GRACE;
    config->cancel_grace = DEFAULT_CANCEL_GRACE;
    config->completed_task_max_age = DEFAULT_COMPLETED_TASK_MAX_AGE;
}

void pulp_worker_config_free(pulp_worker_config_t *config)
{
    free(config->database);
    free(config->broker);
    free(config->queue);
    free(config->storage_dir);
    free(config->name);
    memset(config, 0, sizeof *config);
}

int pulp_duration_parse(const char *text, long *seconds)
{
    char *end = NULL;
    long value;
    long unit = 1;

    if (!text || !isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || value <= 0)
        return -1;

    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    else if (*end == 'd')
        unit = 86400, end++;
    if (*end != '\0' || value > LONG_MAX / unit)
        return -1;
    *seconds = value * unit;
    return 0;
}

static int parse_int(const char *text, int min, int max, int *out)
{
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = (int)value;
    return 0;
}

static int parse_flag(const char *text, int *out)
{
    static const char *const on[] = { "on", "true", "yes", "1" };
    static const char *const off[] = { "off", "false", "no", "0" };

    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        if (strcasecmp(text, on[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, off[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static pulp_status_t set_string(char **field, const char *key, const char *value,
                                pulp_error_t *error)
{
    char *copy;

    if (!*value)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "the value of \"%s\" is empty", key);
    copy = strdup(value);
    if (!copy)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    free(*field);
    *field = copy;
    return PULP_OK;
}

static pulp_status_t invalid(pulp_error_t *error, const char *key, const char *value,
                             const char *expected)
{
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid value \"%s\" for \"%s\": %s",
                          value, key, expected);
}

static pulp_status_t set_broker(pulp_worker_config_t *config, const char *value,
                                pulp_error_t *error)
{
    /* The value is not repeated, because it may contain the broker password. */
    if (strncmp(value, "amqp://", 7) != 0 && strncmp(value, "amqps://", 8) != 0)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid value for \"broker\": "
                              "expected amqp://[USER[:PASSWORD]@]HOST[:PORT] or amqps://...");
    return set_string(&config->broker, "broker", value, error);
}

static pulp_status_t set_number(const char *key, const char *value, int min, int max, int *field,
                                pulp_error_t *error)
{
    char expected[64];

    if (parse_int(value, min, max, field) == 0)
        return PULP_OK;
    snprintf(expected, sizeof expected, "expected an integer from %d to %d", min, max);
    return invalid(error, key, value, expected);
}

static pulp_status_t set_seconds(const char *key, const char *value, long max, long *field,
                                 pulp_error_t *error)
{
    long seconds;

    if (pulp_duration_parse(value, &seconds) != 0 || seconds > max)
        return invalid(error, key, value, "expected a positive duration such as 30s, 5m, 2h or 7d");
    *field = seconds;
    return PULP_OK;
}

static pulp_status_t set_int_seconds(const char *key, const char *value, int *field,
                                     pulp_error_t *error)
{
    long seconds = 0;
    pulp_status_t status = set_seconds(key, value, INT_MAX, &seconds, error);

    if (status == PULP_OK)
        *field = (int)seconds;
    return status;
}

pulp_status_t pulp_worker_config_set(pulp_worker_config_t *config, const char *key,
                                     const char *value, pulp_error_t *error)
{
    if (strcmp(key, "database") == 0)
        return set_string(&config->database, key, value, error);
    if (strcmp(key, "broker") == 0)
        return set_broker(config, value, error);
    if (strcmp(key, "queue") == 0)
        return set_string(&config->queue, key, value, error);
    if (strcmp(key, "storage_dir") == 0) {
        if (value[0] != '/')
            return invalid(error, key, value, "expected an absolute path");
        return set_string(&config->storage_dir, key, value, error);
    }
    if (strcmp(key, "name") == 0)
        return set_string(&config->name, key, value, error);
    if (strcmp(key, "concurrency") == 0)
        return set_number(key, value, 1, MAX_CONCURRENCY, &config->concurrency, error);
    if (strcmp(key, "diagnostic_tasks") == 0) {
        if (parse_flag(value, &config->diagnostic_tasks) != 0)
            return invalid(error, key, value, "expected on or off");
        return PULP_OK;
    }
    if (strcmp(key, "log_level") == 0) {
        if (pulp_log_level_parse(value, &config->log_level) != 0)
            return invalid(error, key, value, "expected error, warning, info or debug");
        return PULP_OK;
    }
    if (strcmp(key, "heartbeat_interval") == 0)
        return set_int_seconds(key, value, &config->heartbeat_interval, error);
    if (strcmp(key, "shutdown_grace") == 0)
        return set_int_seconds(key, value, &config->shutdown_grace, error);
    if (strcmp(key, "cancel_grace") == 0)
        return set_int_seconds(key, value, &config->cancel_grace, error);
    if (strcmp(key, "completed_task_max_age") == 0)
        return set_seconds(key, value, LONG_MAX, &config->completed_task_max_age, error);
    return pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "unknown setting \"%s\"", key);
}

static char *trim(char *text)
{
    char *end;

    while (isspace((unsigned char)*text))
        text++;
    end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return text;
}

/* Applies one line of the file; blank lines and comments are accepted and ignored. */
static pulp_status_t apply_line(pulp_worker_config_t *config, char *line, pulp_error_t *error)
{
    char *text = trim(line);
    char *equals;

    if (*text == '\0' || *text == '#')
        return PULP_OK;
    equals = strchr(text, '=');
    if (!equals)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "expected \"key = value\"");
    *equals = '\0';
    return pulp_worker_config_set(config, trim(text), trim(equals + 1), error);
}

pulp_status_t pulp_worker_config_read(pulp_worker_config_t *config, const char *path,
                                      pulp_error_t *error)
{
    FILE *file = fopen(path, "r");
    char *line = NULL;
    size_t capacity = 0;
    int number = 0;
    pulp_status_t status = PULP_OK;

    if (!file)
        return pulp_error_set(error, PULP_ERR_MISSING_RESOURCE,
                              "could not open configuration file \"%s\": %s", path,
                              strerror(errno));

    while (getline(&line, &capacity, file) >= 0) {
        pulp_error_t line_error = PULP_ERROR_INIT;

        number++;
        status = apply_line(config, line, &line_error);
        if (status != PULP_OK) {
            pulp_error_set(error, status, "%s:%d: %s", path, number, line_error.message);
            pulp_error_clear(&line_error);
            break;
        }
    }
    free(line);
    fclose(file);
    return status;
}

pulp_status_t pulp_worker_config_check(const pulp_worker_config_t *config, pulp_error_t *error)
{
    if (!config->database)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                              "no database is configured: set \"database\" in the configuration "
                              "file or pass --database");
    return PULP_OK;
}
