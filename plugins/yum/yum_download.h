/* Parallel downloads into the content store with libcurl's multi interface.
 *
 * The caller adds transfers (a URL and a pulp_storage_file_t to fill) and calls
 * pulp_downloader_perform in a loop. Each call runs the transfers for a short while and
 * returns the ones that ended. Transient failures (connection errors, stalls, HTTP 408, 429
 * and 5xx) are retried with capped exponential back-off, each retry starting the file over.
 * The downloader never verifies content: the caller checks size and checksum afterwards. */
#ifndef PULP_YUM_DOWNLOAD_H
#define PULP_YUM_DOWNLOAD_H

#include "pulp_error.h"
#include "pulp_storage.h"

typedef struct pulp_download_options {
    /* Transfers running at the same time (default 5). */
    int max_parallel;
    /* Bytes per second for each transfer; 0 means no limit. */
    long long max_speed;
    /* Seconds without any data (or without a connection) before a transfer fails. */
    int read_timeout;
    /* Further attempts after a transient failure. */
    int retries;
    /* First delay before a retry, in milliseconds; it doubles up to 10 s. */
    int retry_delay_ms;
    /* 0 skips the verification of the server's certificate and host name. */
    int ssl_validation;
    /* PEM text, or NULL. */
    const char *ssl_ca_cert;
    const char *ssl_client_cert;
    const char *ssl_client_key;
    /* Proxy URL or host name, port (0 for the default) and credentials, or NULL. */
    const char *proxy_host;
    long proxy_port;
    const char *proxy_username;
    const char *proxy_password;
    /* HTTP basic credentials, sent only to auth_origin ("http://host:port") and never to
     * another host, after a redirect or otherwise. */
    const char *username;
    const char *password;
    const char *auth_origin;
} pulp_download_options_t;

/* A transfer that ended. */
typedef struct pulp_download_result {
    void *user_data;
    /* PULP_OK, or the failure after the last attempt. */
    pulp_status_t status;
    /* When failed: "could not download "<url>": <reason>". */
    char message[768];
} pulp_download_result_t;

typedef struct pulp_downloader pulp_downloader_t;

/* Sets the defaults: 5 parallel transfers, no speed limit, 30 s read timeout, 2 retries
 * starting at 1 s, certificate validation on. */
void pulp_download_options_init(pulp_download_options_t *options);

pulp_downloader_t *pulp_downloader_new(const pulp_download_options_t *options,
                                       pulp_error_t *error);
void pulp_downloader_free(pulp_downloader_t *downloader);

/* Queues a transfer of url into file (borrowed until the transfer ends). */
pulp_status_t pulp_downloader_add(pulp_downloader_t *downloader, const char *url,
                                  pulp_storage_file_t *file, void *user_data,
                                  pulp_error_t *error);

/* Makes a pulp_downloader_perform that waits in another thread return at once. The only
 * function that another thread than the downloader's may call. */
void pulp_downloader_wakeup(pulp_downloader_t *downloader);

/* Returns the number of transfers queued, running or waiting for a retry. */
size_t pulp_downloader_active(const pulp_downloader_t *downloader);

/* Runs the transfers for at most timeout_ms (less when one ends) and stores up to
 * max_results ended transfers in results. Returns how many it stored. */
int pulp_downloader_perform(pulp_downloader_t *downloader, int timeout_ms,
                            pulp_download_result_t *results, int max_results);

/* Writes base joined with a relative path into out, percent-encoding the characters of the
 * path that a URL cannot carry as they are. base may or may not end in "/". */
pulp_status_t pulp_download_url_join(const char *base, const char *path, char *out,
                                     size_t out_size, pulp_error_t *error);

/* Writes "scheme://host:port" of url into out, with lower-case scheme and host and the
 * scheme's default port when none is given. Writes an empty string when url cannot be
 * parsed. */
void pulp_download_url_origin(const char *url, char *out, size_t out_size);

/* Writes url without its user name and password into out, and those two, percent-decoded,
 * into username and password ("" when absent), so that the URL can appear in messages.
 * Fails when libcurl cannot parse url, or when a credential or the URL does not fit. The
 * error message never contains the credentials. */
pulp_status_t pulp_download_url_split_credentials(const char *url, char *out, size_t out_size,
                                                  char *username, size_t username_size,
                                                  char *password, size_t password_size,
                                                  pulp_error_t *error);

#endif
