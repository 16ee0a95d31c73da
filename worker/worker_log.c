/* The worker's log: one line per event on stderr, which journald or the caller keeps. */
#include "worker.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pulp_log.h"

static char worker_name[256];
static char task_id[PULP_UUID_LENGTH + 1];

/* Copies a message onto one line, because the log has one line per event and libraries
 * return messages of several lines (libpq puts a hint on an indented second line). Each line
 * break and the indentation after it become one space, and final line breaks are dropped. */
static void join_lines(const char *message, char *line, size_t size)
{
    size_t length = 0;

    for (const char *c = message; *c && length + 1 < size; c++) {
        if (*c != '\n' && *c != '\r') {
            line[length++] = *c;
            continue;
        }
        while (c[1] == '\n' || c[1] == '\r' || c[1] == '\t' || c[1] == ' ')
            c++;
        if (c[1] != '\0')
            line[length++] = ' ';
    }
    line[length] = '\0';
}

static void write_line(pulp_log_level_t level, const char *raw_message, void *baton)
{
    struct timeval now;
    struct tm utc;
    char stamp[32];
    char message[2048];

    (void)baton;
    join_lines(raw_message, message, sizeof message);
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
