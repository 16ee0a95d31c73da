/* The worker's log: one line per event on stderr, which journald or the caller keeps. */
#include "worker.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pulp_log.h"

static char worker_name[256];
static char task_id[PULP_UUID_LENGTH + 1];

static void write_line(pulp_log_level_t level, const char *message, void *baton)
{
    struct timeval now;
    struct tm utc;
    char stamp[32];

    (void)baton;
    gettimeofday(&now, NULL);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    if (task_id[0])
        fprintf(stderr, "%s.%03ldZ %s %s task %s: %s\n", stamp, (long)now.tv_usec / 1000,
                pulp_log_level_name(level), worker_name, task_id, message);
    else
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, (long)now.tv_usec / 1000,
                pulp_log_level_name(level), worker_name, message);
}

void pulp_worker_log_init(const char *name)
{
    snprintf(worker_name, sizeof worker_name, "%s", name);
    setvbuf(stderr, NULL, _IOLBF, 0);
    pulp_log_set_handler(write_line, NULL);
}

void pulp_worker_log_set_task(const char *id)
{
    snprintf(task_id, sizeof task_id, "%s", id ? id : "");
}
