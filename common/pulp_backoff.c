#include "pulp_backoff.h"

#include <stdlib.h>
#include <time.h>

void pulp_backoff_init(pulp_backoff_t *backoff, int initial_ms, int max_ms)
{
    backoff->initial_ms = initial_ms > 0 ? initial_ms : 1;
    backoff->max_ms = max_ms > backoff->initial_ms ? max_ms : backoff->initial_ms;
    backoff->attempts = 0;
}

int pulp_backoff_next(pulp_backoff_t *backoff)
{
    int64_t delay = backoff->initial_ms;
    int jitter;

    for (int i = 0; i < backoff->attempts && delay < backoff->max_ms; i++)
        delay *= 2;
    if (delay > backoff->max_ms)
        delay = backoff->max_ms;
    if (backoff->attempts < 1000)
        backoff->attempts++;

    jitter = (int)(delay / 4);
    if (jitter > 0)
        delay -= random() % (jitter + 1);
    return (int)delay;
}

void pulp_backoff_reset(pulp_backoff_t *backoff)
{
    backoff->attempts = 0;
}

int64_t pulp_monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
