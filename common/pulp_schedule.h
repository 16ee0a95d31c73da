/* Schedules of syncs and publishes: ISO 8601 repeating intervals, [R<n>/][<start>/]<duration>
 * such as "R5/2026-01-01T03:00:00Z/P1D" or "PT6H", and the run times they give.
 *
 * Runs sit on a fixed grid counted from the first run: run k is at first_run + k durations.
 * Times are seconds since the Unix epoch, in UTC, so a day is always 86400 seconds. Years and
 * months are calendar steps: run k adds k * months to the first run's date, and a day that
 * the target month lacks becomes its last day (January 31 + 1 month is February 28 or 29). */
#ifndef PULP_SCHEDULE_H
#define PULP_SCHEDULE_H

#include <stdint.h>

#include "pulp_error.h"

/* The latest time a schedule may reach: 9999-12-31T23:59:59Z. */
#define PULP_SCHEDULE_MAX_TIME INT64_C(253402300799)
/* Returned for a run that would come after PULP_SCHEDULE_MAX_TIME. Every other time is a
 * valid result, negative ones (before 1970) included. */
#define PULP_SCHEDULE_NO_RUN INT64_MIN

typedef struct pulp_schedule {
    /* The number of runs of R<n>, or -1 without a limit ("R" alone, or no R part). */
    int64_t runs;
    /* Set when the interval names its start; start is then the first run. */
    int has_start;
    int64_t start;
    /* The duration: whole months (years count as 12) and whole seconds (weeks, days, hours,
     * minutes and seconds). At least one is positive. */
    int64_t months;
    int64_t seconds;
} pulp_schedule_t;

/* Parses and validates text. Fails with PULP_ERR_INVALID_VALUE and a message that names the
 * wrong part: a missing or zero duration, years or months without a start, fractions, R0, a
 * start that is not a valid date and time, a duration longer than 1000 years. */
pulp_status_t pulp_schedule_parse(const char *text, pulp_schedule_t *schedule,
                                  pulp_error_t *error);

/* Returns the time of run number index (0 is the first run, at first_run), or
 * PULP_SCHEDULE_NO_RUN when it would come after PULP_SCHEDULE_MAX_TIME. */
int64_t pulp_schedule_run_time(const pulp_schedule_t *schedule, int64_t first_run,
                               int64_t index);

/* Returns the earliest run time of the grid that starts at first_run and is later than
 * after, or PULP_SCHEDULE_NO_RUN when there is none before PULP_SCHEDULE_MAX_TIME. A schedule that missed
 * several runs while no leader ran it thus runs once, then continues on its grid. */
int64_t pulp_schedule_next_run(const pulp_schedule_t *schedule, int64_t first_run,
                               int64_t after);

#endif
