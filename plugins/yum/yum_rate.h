/* The receive speed limit of one download (max_speed), which the downloader applies by
 * pausing the transfer in its write callback until the data may be accepted.
 *
 * libcurl's own CURLOPT_MAX_RECV_SPEED_LARGE is not used, because with libcurl 7.88 a small
 * file arrived much faster than its limit: 350 kB at 64 KiB/s took 3.0 s instead of 5.3 s
 * (curl --limit-rate over loopback on a 2-core Debian 12 machine). */
#ifndef PULP_YUM_RATE_H
#define PULP_YUM_RATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct yum_rate {
    /* The limit; 0 or less means none. */
    long long bytes_per_second;
    /* The monotonic time of the first accepted byte, in milliseconds (0 before it). */
    int64_t start_ms;
    long long accepted;
} yum_rate_t;

/* Starts the count over for a new attempt of a transfer. */
void yum_rate_reset(yum_rate_t *rate, long long bytes_per_second);

/* Returns 0 and counts the bytes when length more bytes keep the transfer within its limit
 * at now_ms. Otherwise returns the monotonic time in milliseconds from which they do. */
int64_t yum_rate_admit(yum_rate_t *rate, size_t length, int64_t now_ms);

#endif
