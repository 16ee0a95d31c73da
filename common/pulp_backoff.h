/* Capped exponential back-off for reconnecting to the broker and the database, and a
 * monotonic clock for the timers of the poll loops. */
#ifndef PULP_BACKOFF_H
#define PULP_BACKOFF_H

#include <stdint.h>

typedef struct pulp_backoff {
    int initial_ms;
    int max_ms;
    /* Failed attempts since the last success. */
    int attempts;
} pulp_backoff_t;

void pulp_backoff_init(pulp_backoff_t *backoff, int initial_ms, int max_ms);

/* Returns the delay before the next attempt and counts one more failure: initial_ms doubled
 * per failure, capped at max_ms, minus up to a quarter at random, so that many processes
 * that lost the same server do not all come back in the same millisecond. */
int pulp_backoff_next(pulp_backoff_t *backoff);

/* Starts over after a success. */
void pulp_backoff_reset(pulp_backoff_t *backoff);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t pulp_monotonic_ms(void);

#endif
