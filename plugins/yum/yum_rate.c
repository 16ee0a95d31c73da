#include "yum_rate.h"

void yum_rate_reset(yum_rate_t *rate, long long bytes_per_second)
{
    rate->bytes_per_second = bytes_per_second;
    rate->start_ms = 0;
    rate->accepted = 0;
}

int64_t yum_rate_admit(yum_rate_t *rate, size_t length, int64_t now_ms)
{
    int64_t due_ms;

    if (rate->bytes_per_second <= 0)
        return 0;
    if (rate->start_ms == 0)
        rate->start_ms = now_ms;
    /* The time at which the limit allows accepted + length bytes in all. */
    due_ms = rate->start_ms +
             (int64_t)((rate->accepted + (long long)length) * 1000 / rate->bytes_per_second);
    if (due_ms > now_ms)
        return due_ms;
    rate->accepted += (long long)length;
    return 0;
}
