/* Logging for code shared by mod_pulp and pulp-worker.
 *
 * common/ does not know where its messages go: httpd installs a handler that forwards to
 * ap_log_error, the worker one that writes a line to stderr. Callers check
 * pulp_log_enabled() before formatting anything expensive. */
#ifndef PULP_LOG_H
#define PULP_LOG_H

#include <stdarg.h>

typedef enum {
    PULP_LOG_ERROR = 0,
    PULP_LOG_WARNING,
    PULP_LOG_INFO,
    PULP_LOG_DEBUG,
} pulp_log_level_t;

typedef void (*pulp_log_handler_t)(pulp_log_level_t level, const char *message, void *baton);

void pulp_log_set_handler(pulp_log_handler_t handler, void *baton);
void pulp_log_set_level(pulp_log_level_t level);
int pulp_log_enabled(pulp_log_level_t level);
const char *pulp_log_level_name(pulp_log_level_t level);
int pulp_log_level_parse(const char *name, pulp_log_level_t *level);

void pulp_log(pulp_log_level_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void pulp_logv(pulp_log_level_t level, const char *format, va_list args);

#define pulp_log_error(...) pulp_log(PULP_LOG_ERROR, __VA_ARGS__)
#define pulp_log_warning(...) pulp_log(PULP_LOG_WARNING, __VA_ARGS__)
#define pulp_log_info(...) pulp_log(PULP_LOG_INFO, __VA_ARGS__)
#define pulp_log_debug(...) \
    do { \
        if (pulp_log_enabled(PULP_LOG_DEBUG)) \
            pulp_log(PULP_LOG_DEBUG, __VA_ARGS__); \
    } while (0)

#endif
