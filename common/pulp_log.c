#include "pulp_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static pulp_log_level_t current_level = PULP_LOG_INFO;
static pulp_log_handler_t current_handler;
static void *current_baton;

void pulp_log_set_handler(pulp_log_handler_t handler, void *baton)
{
    current_handler = handler;
    current_baton = baton;
}

void pulp_log_set_level(pulp_log_level_t level)
{
    current_level = level;
}

int pulp_log_enabled(pulp_log_level_t level)
{
    return level <= current_level;
}

const char *pulp_log_level_name(pulp_log_level_t level)
{
    if (level > PULP_LOG_DEBUG)
        return "debug";
    return level_names[level];
}

int pulp_log_level_parse(const char *name, pulp_log_level_t *level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (pulp_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void pulp_logv(pulp_log_level_t level, const char *format, va_list args)
{
    char message[2048];

    if (!pulp_log_enabled(level))
        return;

    vsnprintf(message, sizeof message, format, args);

    if (current_handler) {
        current_handler(level, message, current_baton);
        return;
    }
    fprintf(stderr, "%s: %s\n", pulp_log_level_name(level), message);
}

void pulp_log(pulp_log_level_t level, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    pulp_logv(level, format, args);
    va_end(args);
}
