/* The supervisor's main database connection: the worker lock, heartbeats, LISTEN for
 * cancels, and ending the tasks of processes that died.
 *
 * The session holds an advisory lock on the worker's name for its whole life. The
 * housekeeping leader can thus tell a worker whose session ended (all of it is gone) from one
 * whose task process alone died, which its own supervisor reports. */
#include "supervisor.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_task.h"
#include "worker.h"

#define DB_RETRY_INITIAL_MS 250
#define DB_RETRY_MAX_MS 5000
/* A dead process's session ends a moment after the process: retry taking its lock this
 * often, and leave it to the housekeeping leader after this long with the database up. */
#define REAP_RETRY_MS 50
#define REAP_GIVE_UP_MS 5000
#define MAX_HANDOFF 64

static const char worker_lock_sql[] =
    "SELECT pg_try_advisory_lock(hashtextextended('worker:' || $1, 0))";

static const char heartbeat_sql[] =
    "INSERT INTO workers (name, hostname, pid, concurrency) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (name) DO UPDATE SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,"
    " concurrency = EXCLUDED.concurrency, last_heartbeat = now(), missing = false";

static const char cancel_pending_sql[] =
    "SELECT task_id FROM tasks"
    " WHERE state = 'running' AND worker_name = $1 AND cancel_requested";

static const char remove_worker_sql[] = "DELETE FROM workers WHERE name = $1";

static void lose_connection(supervisor_t *sv, const char *reason)
{
    int delay = pulp_backoff_next(&sv->db_backoff);

    pulp_log_error("lost the database connection: %s; reconnecting in %d ms", reason, delay);
    /* The spare's session most likely went down with this one. */
    pulp_children_dismiss_spare(sv);
    PQfinish(sv->db);
    sv->db = NULL;
    sv->db_ready = 0;
    sv->db_retry_ms = pulp_monotonic_ms() + delay;
    pulp_supervisor_update_credit(sv);
}

static pulp_status_t heartbeat(supervisor_t *sv, pulp_error_t *error)
{
    char pid[16];
    char concurrency[16];
    const char *params[4] = { sv->name, sv->hostname, pid, concurrency };

    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(concurrency, sizeof concurrency, "%d", sv->config->concurrency);
    sv->heartbeat_ms = pulp_monotonic_ms() + (int64_t)sv->config->heartbeat_interval * 1000;
    return pulp_db_command(sv->db, error, heartbeat_sql, 4, params);
}

/* Signals the processes of tasks whose cancel was requested while no NOTIFY could reach us. */
static void cancel_requested_tasks(supervisor_t *sv, pulp_error_t *error)
{
    const char *params[1] = { sv->name };
    PGresult *result = pulp_db_query(sv->db, error, cancel_pending_sql, 1, params);

    if (!result)
        return;
    for (int row = 0; row < PQntuples(result); row++)
        pulp_children_cancel(sv, PQgetvalue(result, row, 0));
    PQclear(result);
}

/* Takes the worker lock, listens for cancels and sends the first heartbeat. */
static int set_up_session(supervisor_t *sv, pulp_error_t *error)
{
    const char *params[1] = { sv->name };
    PGresult *result = pulp_db_query(sv->db, error, worker_lock_sql, 1, params);
    int locked;

    if (!result)
        return -1;
    locked = strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    if (!locked) {
        pulp_error_set(error, PULP_ERR_CONFLICT, "another worker named \"%s\" is running",
                       sv->name);
        return -1;
    }
    if (pulp_db_command(sv->db, error, "LISTEN " PULP_TASK_CANCEL_CHANNEL, 0, NULL) != PULP_OK ||
        heartbeat(sv, error) != PULP_OK)
        return -1;
    cancel_requested_tasks(sv, error);
    return error->status == PULP_OK ? 0 : -1;
}

static void connect_db(supervisor_t *sv)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char application_name[64];

    snprintf(application_name, sizeof application_name, "pulp-worker %s", sv->name);
    sv->db = pulp_db_connect(sv->config->database, application_name, &error);
    if (sv->db && set_up_session(sv, &error) != 0) {
        PQfinish(sv->db);
        sv->db = NULL;
    }
    if (!sv->db) {
        int delay = pulp_backoff_next(&sv->db_backoff);

        pulp_log_error("%s; retrying in %d ms", error.message, delay);
        sv->db_retry_ms = pulp_monotonic_ms() + delay;
        pulp_error_clear(&error);
        return;
    }

    pulp_log_info("connected to the database%s", sv->db_started ? " again" : "");
    sv->db_ready = 1;
    sv->db_started = 1;
    pulp_backoff_reset(&sv->db_backoff);
    pulp_supervisor_update_credit(sv);
    pulp_children_ensure_spare(sv);
}

static void handle_notifications(supervisor_t *sv)
{
    PGnotify *notify;

    while ((notify = PQnotifies(sv->db))) {
        if (strcmp(notify->relname, PULP_TASK_CANCEL_CHANNEL) == 0)
            pulp_children_cancel(sv, notify->extra);
        PQfreemem(notify);
    }
}

void pulp_supervisor_queue_reap(supervisor_t *sv, const char *task_id, const char *state,
                                const char *message)
{
    pending_reap_t *reap;
    int64_t now = pulp_monotonic_ms();

    if (sv->n_reaps == MAX_PENDING_REAPS) {
        pulp_log_warning("too many tasks to end at once; task %s is left to the housekeeping "
                         "leader", task_id);
        return;
    }
    reap = &sv->reaps[sv->n_reaps++];
    snprintf(reap->task_id, sizeof reap->task_id, "%s", task_id);
    reap->state = state;
    snprintf(reap->message, sizeof reap->message, "%s", message);
    reap->next_ms = now;
    reap->give_up_ms = now + REAP_GIVE_UP_MS;
}

/* Tries one pending reap; returns 1 when it is settled (ended, or nothing to end). */
static int try_reap(supervisor_t *sv, pending_reap_t *reap)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char handoff[MAX_HANDOFF][PULP_UUID_LENGTH + 1];
    size_t n_handoff = 0;
    int done = 0;

    if (pulp_worker_reap_task(sv->db, reap->task_id, reap->state, reap->message, &done, handoff,
                              MAX_HANDOFF, &n_handoff, &error) != PULP_OK) {
        pulp_log_warning("could not end task %s: %s", reap->task_id, error.message);
        pulp_error_clear(&error);
        return 0;
    }
    for (size_t i = 0; i < n_handoff; i++)
        pulp_supervisor_send_task(sv, handoff[i]);
    return done;
}

static void process_reaps(supervisor_t *sv)
{
    int64_t now = pulp_monotonic_ms();
    size_t i = 0;

    while (i < sv->n_reaps) {
        pending_reap_t *reap = &sv->reaps[i];
        int settled = 0;

        if (reap->next_ms > now) {
            i++;
            continue;
        }
        if (sv->db_ready)
            settled = try_reap(sv, reap);
        else
            reap->give_up_ms = now + REAP_GIVE_UP_MS;
        if (!settled && now >= reap->give_up_ms) {
            pulp_log_info("task %s is left to the housekeeping leader", reap->task_id);
            settled = 1;
        }
        if (settled) {
            sv->reaps[i] = sv->reaps[--sv->n_reaps];
            continue;
        }
        reap->next_ms = now + REAP_RETRY_MS;
        i++;
    }
}

void pulp_supervisor_db_process(supervisor_t *sv, short revents)
{
    pulp_error_t error = PULP_ERROR_INIT;

    if (!sv->db) {
        if (!sv->stopping && pulp_monotonic_ms() >= sv->db_retry_ms)
            connect_db(sv);
        if (!sv->db)
            return;
    }
    if ((revents & POLLIN) && !PQconsumeInput(sv->db)) {
        lose_connection(sv, PQerrorMessage(sv->db));
        return;
    }
    handle_notifications(sv);
    if (pulp_monotonic_ms() >= sv->heartbeat_ms && !sv->stopping &&
        heartbeat(sv, &error) != PULP_OK)
        pulp_log_warning("could not send a heartbeat: %s", error.message);
    if (sv->n_reaps > 0)
        process_reaps(sv);
    if (pulp_db_connection_lost(sv->db))
        lose_connection(sv, error.message[0] ? error.message : "the server closed the connection");
    else
        handle_notifications(sv);
    pulp_error_clear(&error);
}

int pulp_supervisor_db_fd(const supervisor_t *sv)
{
    return sv->db ? PQsocket(sv->db) : -1;
}

int64_t pulp_supervisor_db_deadline(const supervisor_t *sv)
{
    int64_t deadline;

    if (!sv->db)
        return sv->stopping ? INT64_MAX : sv->db_retry_ms;
    deadline = sv->stopping ? INT64_MAX : sv->heartbeat_ms;
    for (size_t i = 0; i < sv->n_reaps; i++) {
        if (sv->reaps[i].next_ms < deadline)
            deadline = sv->reaps[i].next_ms;
    }
    return deadline;
}

void pulp_supervisor_db_close(supervisor_t *sv)
{
    const char *params[1] = { sv->name };

    if (sv->db && sv->db_ready)
        pulp_db_command(sv->db, NULL, remove_worker_sql, 1, params);
    PQfinish(sv->db);
    sv->db = NULL;
    sv->db_ready = 0;
}

void pulp_supervisor_db_init(supervisor_t *sv)
{
    pulp_backoff_init(&sv->db_backoff, DB_RETRY_INITIAL_MS, DB_RETRY_MAX_MS);
}
