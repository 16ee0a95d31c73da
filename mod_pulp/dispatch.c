/* Dispatch from the API, and the per-process AMQP senders it uses.
 *
 * Each httpd child opens one sender per configured (broker, queue) on first use, after the
 * fork, and shares it among its threads (amqp/pulp_amqp_sender.h). A send waits for the
 * broker's settlement for at most SEND_TIMEOUT_MS. When the broker is down the request still
 * succeeds: the task row is committed, and the housekeeping sweeper of the workers sends its
 * message once the broker is back. */
#include "dispatch.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_log.h>

#include "amqp/pulp_amqp.h"
#include "amqp/pulp_amqp_sender.h"
#include "pulp_backoff.h"
#include "pulp_db.h"

APLOG_USE_MODULE(pulp);

#define SEND_TIMEOUT_MS 1000
/* Distinct (broker, queue) pairs of one httpd configuration, at most. */
#define MAX_SENDERS 16
/* Failed sends are logged at most once per this many milliseconds, with their count. */
#define LOG_INTERVAL_MS 10000

typedef struct sender_entry {
    const char *broker;
    const char *queue;
    pulp_amqp_sender_t *sender;
} sender_entry_t;

static pthread_mutex_t senders_mutex = PTHREAD_MUTEX_INITIALIZER;
static sender_entry_t senders[MAX_SENDERS];
static int n_senders;
static pid_t senders_pid;
static int64_t last_failure_log_ms;
static long failures_since_log;

/* Returns this process's sender for the request's broker and queue, starting it on first
 * use. The strings come from the server configuration, which lives as long as the process. */
static pulp_amqp_sender_t *find_sender(pulp_request_t *req)
{
    pulp_server_config_t *config = req->config;
    pulp_amqp_sender_t *sender = NULL;
    pulp_error_t error = PULP_ERROR_INIT;
    char container_id[128];

    pthread_mutex_lock(&senders_mutex);
    /* Senders inherited through fork have no thread: start over in a new process. */
    if (senders_pid != getpid()) {
        n_senders = 0;
        senders_pid = getpid();
    }
    for (int i = 0; i < n_senders && !sender; i++) {
        if (strcmp(senders[i].broker, config->broker) == 0 &&
            strcmp(senders[i].queue, config->task_queue) == 0)
            sender = senders[i].sender;
    }
    if (!sender && n_senders < MAX_SENDERS) {
        apr_snprintf(container_id, sizeof container_id, "mod_pulp-%d", (int)getpid());
        sender = pulp_amqp_sender_start(config->broker, config->task_queue, container_id,
                                        &error);
        if (sender)
            senders[n_senders++] = (sender_entry_t){ config->broker, config->task_queue, sender };
        else
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r, "could not start the AMQP sender: %s",
                          error.message);
    }
    pthread_mutex_unlock(&senders_mutex);
    pulp_error_clear(&error);
    return sender;
}

/* Logs a failed send, at most once per LOG_INTERVAL_MS with the number of failures. */
static void log_send_failure(pulp_request_t *req, const char *task_id, const char *reason)
{
    int64_t now = pulp_monotonic_ms();
    long count;

    pthread_mutex_lock(&senders_mutex);
    failures_since_log++;
    count = failures_since_log;
    if (now - last_failure_log_ms < LOG_INTERVAL_MS && last_failure_log_ms != 0) {
        pthread_mutex_unlock(&senders_mutex);
        return;
    }
    last_failure_log_ms = now;
    failures_since_log = 0;
    pthread_mutex_unlock(&senders_mutex);

    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                  "could not send the dispatch message of task %s to the broker for queue "
                  "\"%s\": %s (%ld such failures since the last report); the workers' "
                  "housekeeping re-sends it", task_id, req->config->task_queue, reason, count);
}

void pulp_dispatch_send(pulp_request_t *req, const char *task_id)
{
    pulp_amqp_sender_t *sender = find_sender(req);
    pulp_error_t error = PULP_ERROR_INIT;
    char body[128];
    size_t length = pulp_amqp_task_message(task_id, body, sizeof body);

    if (!sender) {
        log_send_failure(req, task_id, "no sender");
        return;
    }
    if (pulp_amqp_sender_send(sender, body, length, SEND_TIMEOUT_MS, &error) != PULP_OK)
        log_send_failure(req, task_id, error.message);
    pulp_error_clear(&error);
}

int pulp_dispatch_messaging_connected(pulp_request_t *req)
{
    pulp_amqp_sender_t *sender = find_sender(req);

    return sender && pulp_amqp_sender_connected(sender, SEND_TIMEOUT_MS);
}

pulp_status_t pulp_dispatch(pulp_request_t *req, const pulp_task_spec_t *spec,
                            char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    PGconn *db = pulp_request_db(req, error);
    pulp_task_spec_t queued = *spec;

    if (!db)
        return error->status;
    queued.queue = req->config->task_queue;
    if (pulp_task_insert(db, &queued, task_id, error) != PULP_OK)
        return error->status;
    pulp_dispatch_send(req, task_id);
    return PULP_OK;
}

int pulp_dispatch_and_respond(pulp_request_t *req, const pulp_task_spec_t *spec)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char task_id[PULP_UUID_LENGTH + 1];
    const char *ids[1] = { task_id };
    int result;

    if (pulp_dispatch(req, spec, task_id, &error) != PULP_OK) {
        result = pulp_send_error(req, &error);
        pulp_error_clear(&error);
        return result;
    }
    return pulp_send_json(req, HTTP_ACCEPTED,
                          pulp_request_own_json(req, pulp_call_report_new(ids, 1)));
}
