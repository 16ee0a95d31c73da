#include "yum_download.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "pulp_backoff.h"
#include "pulp_log.h"
#include "yum_curl.h"
#include "yum_rate.h"

#define MAX_RETRY_DELAY_MS 10000

typedef struct transfer {
    struct transfer *next;
    char *url;
    pulp_storage_file_t *file;
    void *user_data;
    CURL *easy;
    int attempts;
    int64_t retry_at_ms;
    pulp_backoff_t backoff;
    pulp_status_t write_status;
    char error_buffer[CURL_ERROR_SIZE];
    yum_tls_trace_t tls_trace;
    yum_rate_t rate;
    /* Set while the write callback keeps the transfer paused for max_speed, until
     * resume_at_ms (monotonic). */
    int paused;
    int64_t resume_at_ms;
} transfer_t;

typedef struct transfer_list {
    transfer_t *head;
    transfer_t *tail;
    size_t count;
} transfer_list_t;

struct pulp_downloader {
    pulp_download_options_t options;
    CURLM *multi;
    /* Transfers not started yet, and failed ones waiting for their retry time. */
    transfer_list_t queued;
    transfer_list_t waiting;
    /* Transfers inside the multi handle: running_items[0 .. running - 1]. */
    transfer_t **running_items;
    size_t running;
    /* Easy handles of ended transfers, kept with their options for the next ones. */
    CURL **idle_handles;
    size_t n_idle;
};

static int curl_ready;

void pulp_download_options_init(pulp_download_options_t *options)
{
    memset(options, 0, sizeof *options);
    options->max_parallel = 5;
    options->read_timeout = 30;
    options->retries = 2;
    options->retry_delay_ms = 1000;
    options->ssl_validation = 1;
}

static void list_push(transfer_list_t *list, transfer_t *item)
{
    item->next = NULL;
    if (list->tail)
        list->tail->next = item;
    else
        list->head = item;
    list->tail = item;
    list->count++;
}

static transfer_t *list_pop(transfer_list_t *list)
{
    transfer_t *item = list->head;

    if (!item)
        return NULL;
    list->head = item->next;
    if (!list->head)
        list->tail = NULL;
    list->count--;
    item->next = NULL;
    return item;
}

static void transfer_free(pulp_downloader_t *downloader, transfer_t *item)
{
    if (!item)
        return;
    if (item->easy && downloader->n_idle < (size_t)downloader->options.max_parallel)
        downloader->idle_handles[downloader->n_idle++] = item->easy;
    else if (item->easy)
        curl_easy_cleanup(item->easy);
    free(item->url);
    free(item);
}

pulp_downloader_t *pulp_downloader_new(const pulp_download_options_t *options,
                                       pulp_error_t *error)
{
    pulp_downloader_t *downloader;

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            pulp_error_set(error, PULP_ERR_INTERNAL, "could not initialise libcurl");
            return NULL;
        }
        curl_ready = 1;
    }

    downloader = calloc(1, sizeof *downloader);
    if (!downloader) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    downloader->options = *options;
    if (downloader->options.max_parallel < 1)
        downloader->options.max_parallel = 1;
    if (downloader->options.read_timeout < 1)
        downloader->options.read_timeout = 1;

    downloader->running_items = calloc((size_t)downloader->options.max_parallel,
                                       sizeof *downloader->running_items);
    downloader->idle_handles = calloc((size_t)downloader->options.max_parallel,
                                      sizeof *downloader->idle_handles);
    downloader->multi = curl_multi_init();
    if (!downloader->multi || !downloader->running_items || !downloader->idle_handles) {
        if (downloader->multi)
            curl_multi_cleanup(downloader->multi);
        free(downloader->running_items);
        free(downloader->idle_handles);
        free(downloader);
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not create a libcurl multi handle");
        return NULL;
    }
    curl_multi_setopt(downloader->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)downloader->options.max_parallel);
    return downloader;
}

void pulp_downloader_free(pulp_downloader_t *downloader)
{
    transfer_t *item;

    if (!downloader)
        return;
    while ((item = list_pop(&downloader->queued)))
        transfer_free(downloader, item);
    while ((item = list_pop(&downloader->waiting)))
        transfer_free(downloader, item);
    for (size_t i = 0; i < downloader->running; i++) {
        curl_multi_remove_handle(downloader->multi, downloader->running_items[i]->easy);
        transfer_free(downloader, downloader->running_items[i]);
    }
    for (size_t i = 0; i < downloader->n_idle; i++)
        curl_easy_cleanup(downloader->idle_handles[i]);
    curl_multi_cleanup(downloader->multi);
    free(downloader->running_items);
    free(downloader->idle_handles);
    free(downloader);
}

size_t pulp_downloader_active(const pulp_downloader_t *downloader)
{
    return downloader->queued.count + downloader->waiting.count + downloader->running;
}

static size_t write_body(char *data, size_t size, size_t count, void *baton)
{
    transfer_t *item = baton;
    pulp_error_t error = PULP_ERROR_INIT;
    size_t length = size * count;
    int64_t due_ms = yum_rate_admit(&item->rate, length, pulp_monotonic_ms());

    /* libcurl keeps the data and passes it again once resume_paused unpauses the
     * transfer. */
    if (due_ms > 0) {
        item->paused = 1;
        item->resume_at_ms = due_ms;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (pulp_storage_file_write(item->file, data, length, &error) != PULP_OK) {
        item->write_status = error.status;
        snprintf(item->error_buffer, sizeof item->error_buffer, "%.200s", error.message);
        return 0;
    }
    return length;
}

static int same_origin(const char *url, const char *origin)
{
    char actual[512];

    if (!origin || !*origin)
        return 0;
    pulp_download_url_origin(url, actual, sizeof actual);
    return strcmp(actual, origin) == 0;
}

/* Returns an easy handle for the transfer: an idle one of an ended transfer, or a new one. */
static CURL *make_easy(pulp_downloader_t *downloader, transfer_t *item)
{
    const pulp_download_options_t *options = &downloader->options;
    CURL *easy;

    if (downloader->n_idle > 0) {
        easy = downloader->idle_handles[--downloader->n_idle];
    } else {
        easy = curl_easy_init();
        if (!easy)
            return NULL;
        yum_curl_set_options(easy, options);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
    }
    curl_easy_setopt(easy, CURLOPT_URL, item->url);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, item);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, item);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, item->error_buffer);
    yum_curl_set_trace(easy, &item->tls_trace);
    if (options->username && same_origin(item->url, options->auth_origin)) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, options->username);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, options->password ? options->password : "");
    } else {
        curl_easy_setopt(easy, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, NULL);
    }
    return easy;
}

static pulp_status_t start_transfer(pulp_downloader_t *downloader, transfer_t *item,
                                    pulp_error_t *error)
{
    item->error_buffer[0] = '\0';
    item->write_status = PULP_OK;
    memset(&item->tls_trace, 0, sizeof item->tls_trace);
    yum_rate_reset(&item->rate, downloader->options.max_speed);
    item->paused = 0;
    item->attempts++;
    if (!item->easy)
        item->easy = make_easy(downloader, item);
    if (!item->easy)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not create a libcurl handle");
    if (curl_multi_add_handle(downloader->multi, item->easy) != CURLM_OK)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not start the download of "
                              "\"%s\"", item->url);
    downloader->running_items[downloader->running++] = item;
    return PULP_OK;
}

void pulp_downloader_wakeup(pulp_downloader_t *downloader)
{
    curl_multi_wakeup(downloader->multi);
}

pulp_status_t pulp_downloader_add(pulp_downloader_t *downloader, const char *url,
                                  pulp_storage_file_t *file, void *user_data,
                                  pulp_error_t *error)
{
    transfer_t *item = calloc(1, sizeof *item);

    if (!item || !(item->url = strdup(url))) {
        free(item);
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    }
    item->file = file;
    item->user_data = user_data;
    pulp_backoff_init(&item->backoff, downloader->options.retry_delay_ms, MAX_RETRY_DELAY_MS);
    list_push(&downloader->queued, item);
    return PULP_OK;
}

static void describe_failure(const pulp_downloader_t *downloader, transfer_t *item,
                             const yum_curl_failure_t *failure, char *out, size_t out_size)
{
    char reason[CURL_ERROR_SIZE + 256];

    if (item->write_status != PULP_OK)
        snprintf(reason, sizeof reason, "%s", item->error_buffer);
    else
        yum_curl_describe(failure, &downloader->options, reason, sizeof reason);

    if (item->attempts > 1)
        snprintf(out, out_size, "could not download \"%s\": %s (after %d attempts)",
                 item->url, reason, item->attempts);
    else
        snprintf(out, out_size, "could not download \"%s\": %s", item->url, reason);
}

/* Handles one ended transfer: schedules a retry, or fills result and returns 1. */
static int finish_transfer(pulp_downloader_t *downloader, transfer_t *item, CURLcode code,
                           pulp_download_result_t *result)
{
    yum_curl_failure_t failure = { code, 0, 0, item->error_buffer, &item->tls_trace };
    pulp_error_t error = PULP_ERROR_INIT;

    curl_multi_remove_handle(downloader->multi, item->easy);
    for (size_t i = 0; i < downloader->running; i++) {
        if (downloader->running_items[i] == item) {
            downloader->running_items[i] = downloader->running_items[--downloader->running];
            break;
        }
    }
    curl_easy_getinfo(item->easy, CURLINFO_RESPONSE_CODE, &failure.http_status);
    curl_easy_getinfo(item->easy, CURLINFO_HTTP_CONNECTCODE, &failure.connect_status);

    if (code == CURLE_OK) {
        result->user_data = item->user_data;
        result->status = PULP_OK;
        result->message[0] = '\0';
        transfer_free(downloader, item);
        return 1;
    }

    if (item->write_status == PULP_OK && yum_curl_is_transient(&failure) &&
        item->attempts <= downloader->options.retries &&
        pulp_storage_file_reset(item->file, &error) == PULP_OK) {
        int delay = pulp_backoff_next(&item->backoff);

        pulp_log_info("retrying the download of \"%s\" in %d ms: %s", item->url, delay,
                      item->error_buffer[0] ? item->error_buffer : curl_easy_strerror(code));
        item->retry_at_ms = pulp_monotonic_ms() + delay;
        list_push(&downloader->waiting, item);
        return 0;
    }

    result->user_data = item->user_data;
    result->status = item->write_status != PULP_OK ? item->write_status : PULP_ERR_UNAVAILABLE;
    describe_failure(downloader, item, &failure, result->message, sizeof result->message);
    transfer_free(downloader, item);
    return 1;
}

/* Moves retries that are due back to the queue's front, then starts queued transfers up to
 * the parallel limit. A transfer that cannot start ends at once with its error. */
static int start_pending(pulp_downloader_t *downloader, pulp_download_result_t *results,
                         int max_results)
{
    int64_t now = pulp_monotonic_ms();
    transfer_list_t still_waiting = { NULL, NULL, 0 };
    transfer_t *item;
    int stored = 0;

    while ((item = list_pop(&downloader->waiting))) {
        if (item->retry_at_ms <= now) {
            item->next = downloader->queued.head;
            downloader->queued.head = item;
            if (!downloader->queued.tail)
                downloader->queued.tail = item;
            downloader->queued.count++;
        } else {
            list_push(&still_waiting, item);
        }
    }
    downloader->waiting = still_waiting;

    while (downloader->running < (size_t)downloader->options.max_parallel &&
           downloader->queued.count > 0 && stored < max_results) {
        pulp_error_t error = PULP_ERROR_INIT;

        item = list_pop(&downloader->queued);
        if (start_transfer(downloader, item, &error) == PULP_OK)
            continue;
        results[stored].user_data = item->user_data;
        results[stored].status = error.status;
        snprintf(results[stored].message, sizeof results[stored].message,
                 "could not download \"%.400s\": %.200s", item->url, error.message);
        stored++;
        transfer_free(downloader, item);
    }
    return stored;
}

/* Returns the milliseconds until the earliest retry is due, or -1 when none waits. */
static int next_retry_in(const pulp_downloader_t *downloader)
{
    int64_t now = pulp_monotonic_ms();
    int64_t earliest = -1;

    for (const transfer_t *item = downloader->waiting.head; item; item = item->next) {
        if (earliest < 0 || item->retry_at_ms < earliest)
            earliest = item->retry_at_ms;
    }
    if (earliest < 0)
        return -1;
    return earliest <= now ? 0 : (int)(earliest - now);
}

/* Unpauses the transfers paused for max_speed whose time has come. libcurl passes the
 * data it kept to the write callback from within curl_easy_pause. */
static void resume_paused(pulp_downloader_t *downloader)
{
    int64_t now = pulp_monotonic_ms();

    for (size_t i = 0; i < downloader->running; i++) {
        transfer_t *item = downloader->running_items[i];
        CURLcode code;

        if (!item->paused || item->resume_at_ms > now)
            continue;
        item->paused = 0;
        code = curl_easy_pause(item->easy, CURLPAUSE_CONT);
        /* The transfer goes on, and fails with the write callback's error when it has one. */
        if (code != CURLE_OK)
            pulp_log_warning("could not resume the download of \"%s\": %s", item->url,
                             curl_easy_strerror(code));
    }
}

/* Returns the milliseconds until the earliest paused transfer may resume, or -1 when none
 * is paused. */
static int next_resume_in(const pulp_downloader_t *downloader)
{
    int64_t now = pulp_monotonic_ms();
    int64_t earliest = -1;

    for (size_t i = 0; i < downloader->running; i++) {
        const transfer_t *item = downloader->running_items[i];

        if (item->paused && (earliest < 0 || item->resume_at_ms < earliest))
            earliest = item->resume_at_ms;
    }
    if (earliest < 0)
        return -1;
    return earliest <= now ? 0 : (int)(earliest - now);
}

int pulp_downloader_perform(pulp_downloader_t *downloader, int timeout_ms,
                            pulp_download_result_t *results, int max_results)
{
    int stored = start_pending(downloader, results, max_results);
    int still_running = 0;
    int resume_in;
    int left = 0;
    CURLMsg *message;

    if (stored > 0)
        return stored;

    if (downloader->running == 0) {
        int wait_ms = next_retry_in(downloader);

        if (wait_ms > 0) {
            struct timespec pause = { 0, 0 };
            int sleep_ms = wait_ms < timeout_ms ? wait_ms : timeout_ms;

            pause.tv_sec = sleep_ms / 1000;
            pause.tv_nsec = (long)(sleep_ms % 1000) * 1000000L;
            nanosleep(&pause, NULL);
        }
        return start_pending(downloader, results, max_results);
    }

    resume_paused(downloader);
    curl_multi_perform(downloader->multi, &still_running);
    while (stored < max_results && (message = curl_multi_info_read(downloader->multi, &left))) {
        transfer_t *item = NULL;

        if (message->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&item);
        stored += finish_transfer(downloader, item, message->data.result, &results[stored]);
    }
    if (stored > 0 || still_running == 0)
        return stored;

    resume_in = next_resume_in(downloader);
    if (resume_in >= 0 && resume_in < timeout_ms)
        timeout_ms = resume_in;
    curl_multi_poll(downloader->multi, NULL, 0, timeout_ms, NULL);
    return stored;
}

static int is_url_safe(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("-._~/+!$&'()*,;=:@", c) != NULL;
}

pulp_status_t pulp_download_url_join(const char *base, const char *path, char *out,
                                     size_t out_size, pulp_error_t *error)
{
    size_t base_length = strlen(base);
    size_t written = 0;
    int needs_slash = base_length == 0 || base[base_length - 1] != '/';

    if (base_length + (size_t)needs_slash + 1 > out_size)
        goto too_long;
    memcpy(out, base, base_length);
    written = base_length;
    if (needs_slash)
        out[written++] = '/';

    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (is_url_safe(*c)) {
            if (written + 2 > out_size)
                goto too_long;
            out[written++] = (char)*c;
            continue;
        }
        if (written + 4 > out_size)
            goto too_long;
        snprintf(out + written, 4, "%%%02X", *c);
        written += 3;
    }
    out[written] = '\0';
    return PULP_OK;

too_long:
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid URL \"%s\" + \"%s\": it is "
                          "too long", base, path);
}

void pulp_download_url_origin(const char *url, char *out, size_t out_size)
{
    CURLU *handle = curl_url();
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;

    out[0] = '\0';
    if (!handle)
        return;
    if (curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(handle, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(handle, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        snprintf(out, out_size, "%s://%s:%s", scheme, host, port);
        for (char *c = out; *c; c++) {
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(handle);
}

/* Copies a part of a parsed URL, percent-decoded, into out, or "" when the URL lacks it.
 * Returns 0 when the part does not fit. */
static int copy_url_part(CURLU *handle, CURLUPart part, char *out, size_t out_size)
{
    char *value = NULL;
    size_t length;

    out[0] = '\0';
    if (curl_url_get(handle, part, &value, CURLU_URLDECODE) != CURLUE_OK)
        return 1;
    length = strlen(value);
    if (length < out_size)
        memcpy(out, value, length + 1);
    curl_free(value);
    return length < out_size;
}

pulp_status_t pulp_download_url_split_credentials(const char *url, char *out, size_t out_size,
                                                  char *username, size_t username_size,
                                                  char *password, size_t password_size,
                                                  pulp_error_t *error)
{
    CURLU *handle = curl_url();
    char *stripped = NULL;
    pulp_status_t status = PULP_OK;
    CURLUcode parsed;

    username[0] = password[0] = '\0';
    if (!handle)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    /* The message leaves out the URL, which may contain a password. */
    parsed = curl_url_set(handle, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (parsed != CURLUE_OK) {
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid URL: %s",
                                curl_url_strerror(parsed));
        goto end;
    }
    if (!copy_url_part(handle, CURLUPART_USER, username, username_size) ||
        !copy_url_part(handle, CURLUPART_PASSWORD, password, password_size)) {
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid credentials in a URL: "
                                "the user name or the password is longer than %zu bytes",
                                (username_size < password_size ? username_size : password_size) - 1);
        goto end;
    }
    if (!username[0] && !password[0]) {
        if ((size_t)snprintf(out, out_size, "%s", url) >= out_size)
            status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid URL \"%s\": it is "
                                    "too long", url);
        goto end;
    }
    if (curl_url_set(handle, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(handle, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
        curl_url_get(handle, CURLUPART_URL, &stripped, 0) != CURLUE_OK) {
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not remove the credentials "
                                "from a URL");
        goto end;
    }
    if ((size_t)snprintf(out, out_size, "%s", stripped) >= out_size)
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid URL \"%s\": it is too "
                                "long", stripped);

end:
    if (status != PULP_OK)
        username[0] = password[0] = '\0';
    curl_free(stripped);
    curl_url_cleanup(handle);
    return status;
}
