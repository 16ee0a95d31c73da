/* The settings that a supervisor gives to each task process it starts. The task program
 * (pulp-task) is a separate executable, so it cannot inherit them in memory. It reads them
 * from its socket before the first task id, as "setting <key> <value>" lines ended by
 * "settings end". The socket is private to the two processes, so the database password in
 * the connection string never shows in a command line or an environment. */
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pulp_log.h"

#define SETTING_PREFIX "setting "
#define END_LINE "settings end"
/* Maximum length of a settings line; a connection string is far shorter. */
#define MAX_LINE 8192

static void put_text(FILE *out, const char *key, const char *value)
{
    if (value)
        fprintf(out, SETTING_PREFIX "%s %s\n", key, value);
}

static void put_number(FILE *out, const char *key, long value)
{
    fprintf(out, SETTING_PREFIX "%s %ld\n", key, value);
}

/* Formats every setting; durations in seconds, which the parser reads back as they are. */
static void put_settings(FILE *out, const pulp_worker_config_t *config)
{
    put_text(out, "database", config->database);
    put_text(out, "broker", config->broker);
    put_text(out, "queue", config->queue);
    put_text(out, "storage_dir", config->storage_dir);
    put_text(out, "name", config->name);
    put_number(out, "concurrency", config->concurrency);
    put_text(out, "diagnostic_tasks", config->diagnostic_tasks ? "on" : "off");
    put_text(out, "log_level", pulp_log_level_name(config->log_level));
    put_number(out, "heartbeat_interval", config->heartbeat_interval);
    put_number(out, "shutdown_grace", config->shutdown_grace);
    put_number(out, "cancel_grace", config->cancel_grace);
    put_number(out, "completed_task_max_age", config->completed_task_max_age);
    fputs(END_LINE "\n", out);
}

/* Returns 1 when a text setting contains a line break, which the line format cannot carry. */
static int has_line_break(const pulp_worker_config_t *config)
{
    const char *values[] = { config->database, config->broker, config->queue,
                             config->storage_dir, config->name };

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (values[i] && strchr(values[i], '\n'))
            return 1;
    }
    return 0;
}

static int send_all(int fd, const char *data, size_t length)
{
    size_t sent = 0;

    while (sent < length) {
        ssize_t n = send(fd, data + sent, length - sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        sent += (size_t)n;
    }
    return 0;
}

int pulp_task_settings_send(int fd, const pulp_worker_config_t *config)
{
    char *buffer = NULL;
    size_t length = 0;
    FILE *out;
    int rc = -1;

    if (has_line_break(config)) {
        pulp_log_error("could not start a task process: a worker setting contains a line break");
        return -1;
    }
    out = open_memstream(&buffer, &length);
    if (!out)
        return -1;
    put_settings(out, config);
    if (fclose(out) != 0)
        goto end;
    rc = send_all(fd, buffer, length);

end:
    free(buffer);
    return rc;
}

/* Reads one line without reading past it, since the task ids that follow are read by the
 * runner from the same socket. Returns the line's length, or -1 at end of file or error. */
static ssize_t read_line(int fd, char *line, size_t size)
{
    size_t used = 0;

    while (used < size - 1) {
        ssize_t n = read(fd, line + used, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (line[used] == '\n') {
            line[used] = '\0';
            return (ssize_t)used;
        }
        used++;
    }
    return -1;
}

pulp_status_t pulp_task_settings_receive(int fd, pulp_worker_config_t *config,
                                         pulp_error_t *error)
{
    char *line = malloc(MAX_LINE);
    pulp_status_t status = PULP_OK;

    if (!line)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    for (;;) {
        char *key;
        char *value;

        if (read_line(fd, line, MAX_LINE) < 0) {
            status = pulp_error_set(error, PULP_ERR_MISSING_VALUE,
                                    "could not read the settings from the supervisor: the "
                                    "socket closed or a line is longer than %d bytes", MAX_LINE);
            break;
        }
        if (strcmp(line, END_LINE) == 0)
            break;
        key = line + strlen(SETTING_PREFIX);
        value = strchr(key, ' ');
        if (strncmp(line, SETTING_PREFIX, strlen(SETTING_PREFIX)) != 0 || !value) {
            status = pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                    "invalid settings line from the supervisor: \"%.40s\"", line);
            break;
        }
        *value++ = '\0';
        status = pulp_worker_config_set(config, key, value, error);
        if (status != PULP_OK)
            break;
    }
    free(line);
    return status;
}
