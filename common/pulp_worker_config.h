/* Settings of pulp-worker: read from a file of "key = value" lines, then overridden by
 * command-line options. Kept free of process state so that the unit tests parse it directly. */
#ifndef PULP_WORKER_CONFIG_H
#define PULP_WORKER_CONFIG_H

#include "pulp_error.h"
#include "pulp_log.h"

#define PULP_WORKER_DEFAULT_BROKER "amqp://127.0.0.1:5672"
#define PULP_WORKER_DEFAULT_QUEUE "pulp.tasks"
#define PULP_WORKER_DEFAULT_STORAGE_DIR "/var/lib/pulp"

typedef struct pulp_worker_config {
    /* libpq connection string; required. */
    char *database;
    char *broker;
    char *queue;
    char *storage_dir;
    /* Unique among the workers of a deployment; NULL picks "worker-<pid>@<hostname>". */
    char *name;
    /* Tasks run at the same time, one child process each. */
    int concurrency;
    /* Whether this worker runs the diagnostic task kind used by the test suite. */
    int diagnostic_tasks;
    pulp_log_level_t log_level;
    /* Seconds between two heartbeats; a worker silent for 30 s is reported missing. */
    int heartbeat_interval;
    /* Seconds that running tasks get to finish after SIGTERM before they are canceled. */
    int shutdown_grace;
    /* Seconds that a canceled task gets to stop before its process is killed. */
    int cancel_grace;
    /* Completed tasks older than this many seconds are deleted by the housekeeping leader. */
    long completed_task_max_age;
} pulp_worker_config_t;

/* Fills every setting with its default; the strings are owned by the configuration. */
void pulp_worker_config_init(pulp_worker_config_t *config);
void pulp_worker_config_free(pulp_worker_config_t *config);

/* Sets one setting by its file key (such as "concurrency"); fails with a message naming the
 * key and the value when either is invalid. */
pulp_status_t pulp_worker_config_set(pulp_worker_config_t *config, const char *key,
                                     const char *value, pulp_error_t *error);

/* Reads a configuration file: one "key = value" per line, blank lines and lines starting with
 * '#' ignored, the value running to the end of the line. Errors name the file and line. */
pulp_status_t pulp_worker_config_read(pulp_worker_config_t *config, const char *path,
                                      pulp_error_t *error);

/* Checks that the settings that have no default are present. */
pulp_status_t pulp_worker_config_check(const pulp_worker_config_t *config, pulp_error_t *error);

/* Parses a duration such as "90", "90s", "15m", "2h" or "7d" into seconds; returns 0, or -1
 * when text is not a positive duration. */
int pulp_duration_parse(const char *text, long *seconds);

#endif
