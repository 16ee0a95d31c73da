/* The diagnostic task kind, run only by workers started with diagnostic_tasks on: it lets
 * the test suite make tasks that sleep on a resource, fail, or crash their process.
 *
 * Arguments: {"action": "sleep" | "fail" | "crash" | "noop", "seconds": N,
 * "signal": "SIGSEGV" | "SIGABRT"} (seconds for sleep, signal for crash, default SIGSEGV).
 * The result of sleep and noop carries "started" and "ended", the task's own wall-clock times
 * in seconds since the epoch with microseconds, finer than the task report's times, so that
 * tests can check that two tasks never overlapped. */
#include "task_kinds.h"

#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pulp_backoff.h"

#define SLEEP_STEP_MS 20

static double wall_clock(void)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (double)now.tv_sec + (double)now.tv_usec / 1e6;
}

/* Returns the result of a task that ran from started until now. */
static json_object *timing_result(double started)
{
    json_object *result = json_object_new_object();

    json_object_object_add(result, "started", json_object_new_double(started));
    json_object_object_add(result, "ended", json_object_new_double(wall_clock()));
    return result;
}

static json_object *progress_report(double elapsed, double seconds)
{
    json_object *report = json_object_new_object();
    json_object *diagnostic = json_object_new_object();

    json_object_object_add(diagnostic, "elapsed", json_object_new_double(elapsed));
    json_object_object_add(diagnostic, "seconds", json_object_new_double(seconds));
    json_object_object_add(report, "diagnostic", diagnostic);
    return report;
}

/* Sleeps, reporting progress, until the time is up or the task is canceled. */
static pulp_status_t sleep_task(pulp_task_context_t *ctx, double seconds, double started,
                                json_object **result, pulp_error_t *error)
{
    int64_t start = pulp_monotonic_ms();
    int64_t end = start + (int64_t)(seconds * 1000);
    struct timespec step = { 0, SLEEP_STEP_MS * 1000000L };

    for (;;) {
        int64_t now = pulp_monotonic_ms();
        json_object *report = progress_report((double)(now - start) / 1000, seconds);
        pulp_status_t status = pulp_task_report_progress(ctx, report, 0);

        json_object_put(report);
        if (status == PULP_ERR_CANCELED)
            return pulp_error_set(error, PULP_ERR_CANCELED, "the task was canceled");
        if (now >= end)
            break;
        nanosleep(&step, NULL);
    }
    *result = timing_result(started);
    json_object_object_add(*result, "slept", json_object_new_double(seconds));
    return PULP_OK;
}

static pulp_status_t crash(json_object *args, pulp_error_t *error)
{
    json_object *value = NULL;
    const char *name = "SIGSEGV";
    int signal_number;

    if (json_object_object_get_ex(args, "signal", &value))
        name = json_object_get_string(value);
    if (strcmp(name, "SIGSEGV") == 0)
        signal_number = SIGSEGV;
    else if (strcmp(name, "SIGABRT") == 0)
        signal_number = SIGABRT;
    else
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid signal \"%s\": expected SIGSEGV or SIGABRT", name);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
    return pulp_error_set(error, PULP_ERR_INTERNAL, "the process survived %s", name);
}

static pulp_status_t run_diagnostic(pulp_task_context_t *ctx, json_object **result,
                                    pulp_error_t *error)
{
    json_object *args = pulp_task_args(ctx);
    json_object *value = NULL;
    const char *action = NULL;
    double seconds = 0;
    double started = wall_clock();

    if (json_object_object_get_ex(args, "action", &value))
        action = json_object_get_string(value);
    if (json_object_object_get_ex(args, "seconds", &value))
        seconds = json_object_get_double(value);

    if (!action)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "the argument \"action\" is missing");
    if (strcmp(action, "noop") == 0) {
        *result = timing_result(started);
        return PULP_OK;
    }
    if (strcmp(action, "sleep") == 0)
        return sleep_task(ctx, seconds, started, result, error);
    if (strcmp(action, "fail") == 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "the diagnostic task failed as requested");
    if (strcmp(action, "crash") == 0)
        return crash(args, error);
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                          "invalid action \"%s\": expected sleep, fail, crash or noop", action);
}

const pulp_task_kind_t pulp_task_kind_diagnostic = {
    PULP_TASK_DIAGNOSTIC,
    run_diagnostic,
};
