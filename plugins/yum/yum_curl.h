/* The libcurl settings of the downloader's transfers (TLS, proxy, time-outs) and the text
 * that explains a failed transfer. The speed limit is in yum_rate.c. */
#ifndef PULP_YUM_CURL_H
#define PULP_YUM_CURL_H

#include <stddef.h>

#include <curl/curl.h>

#include "yum_download.h"

/* Facts about the TLS handshake of one transfer, recorded by the debug callback that
 * yum_curl_set_trace installs. */
typedef struct yum_tls_trace {
    /* 1 once the server sent a CertificateRequest. */
    int client_cert_requested;
} yum_tls_trace_t;

/* Sets the options that are the same for every transfer of a downloader on a new easy
 * handle. */
void yum_curl_set_options(CURL *easy, const pulp_download_options_t *options);

/* Makes the handle record its TLS handshakes in trace (reset by the caller before each
 * attempt). */
void yum_curl_set_trace(CURL *easy, yum_tls_trace_t *trace);

/* The facts about a failed transfer that its message is made from. */
typedef struct yum_curl_failure {
    CURLcode code;
    /* The HTTP status of the response, and the one that a proxy returned to CONNECT
     * (0 when there was none). */
    long http_status;
    long connect_status;
    /* libcurl's error buffer (may be empty). */
    const char *detail;
    const yum_tls_trace_t *trace;
} yum_curl_failure_t;

/* Returns 1 when a failure may go away on its own (connection errors, stalls, HTTP 408,
 * 429 and 5xx), so that another attempt makes sense. */
int yum_curl_is_transient(const yum_curl_failure_t *failure);

/* Writes the reason of a failure into out: libcurl's message, and where the importer's
 * configuration is the likely cause, the options to check. */
void yum_curl_describe(const yum_curl_failure_t *failure, const pulp_download_options_t *options,
                       char *out, size_t out_size);

#endif
