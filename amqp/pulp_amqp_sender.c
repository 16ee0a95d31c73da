/* The thread-safe sender. One mutex guards the proton connection and the table of messages in
 * flight. A request thread sends its message itself, under the mutex, and waits on a
 * condition variable for the settlement. The I/O thread polls the socket without the mutex
 * and takes it only to process what arrived (settlements, reconnects), which wakes the
 * waiting threads. Sending from the request thread saves a thread switch per message.
 *
 * A request lives on its caller's stack: a caller that times out removes it from the table
 * before it returns, under the mutex, so the I/O thread never touches it afterwards. */
#include "pulp_amqp_sender.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pulp_amqp.h"
#include "pulp_backoff.h"
#include "pulp_log.h"

/* The I/O thread wakes at least this often to check for a stop request. */
#define MAX_POLL_MS 1000
/* A sender that never connected waits this long for its first connection. */
#define FIRST_CONNECT_MS 5000

typedef struct request {
    uint64_t tag;
    int done;
    int accepted;
} request_t;

struct pulp_amqp_sender {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    pthread_t thread;
    /* Wakes the I/O thread when a sender left bytes that the socket did not take. */
    int wake_fd;
    int stop;
    int connected;
    int ever_connected;
    int64_t started_ms;
    pulp_amqp_t *amqp;
    request_t **in_flight;
    size_t n_in_flight;
    size_t in_flight_capacity;
};

static void forget(pulp_amqp_sender_t *sender, request_t *request)
{
    for (size_t i = 0; i < sender->n_in_flight; i++) {
        if (sender->in_flight[i] == request) {
            sender->in_flight[i] = sender->in_flight[--sender->n_in_flight];
            return;
        }
    }
}

/* Runs with the mutex held, from pulp_amqp_process or pulp_amqp_send. */
static void on_sent(void *baton, uint64_t tag, int accepted)
{
    pulp_amqp_sender_t *sender = baton;

    for (size_t i = 0; i < sender->n_in_flight; i++) {
        request_t *request = sender->in_flight[i];

        if (request->tag != tag)
            continue;
        request->done = 1;
        request->accepted = accepted;
        sender->in_flight[i] = sender->in_flight[--sender->n_in_flight];
        pthread_cond_broadcast(&sender->changed);
        return;
    }
}

/* Runs with the mutex held. */
static void on_connection(void *baton, int connected)
{
    pulp_amqp_sender_t *sender = baton;

    sender->connected = connected;
    if (connected)
        sender->ever_connected = 1;
    pthread_cond_broadcast(&sender->changed);
}

static int track(pulp_amqp_sender_t *sender, request_t *request)
{
    if (sender->n_in_flight == sender->in_flight_capacity) {
        size_t capacity = sender->in_flight_capacity ? sender->in_flight_capacity * 2 : 64;
        request_t **larger = realloc(sender->in_flight, capacity * sizeof *larger);

        if (!larger)
            return -1;
        sender->in_flight = larger;
        sender->in_flight_capacity = capacity;
    }
    sender->in_flight[sender->n_in_flight++] = request;
    return 0;
}

static void wake(pulp_amqp_sender_t *sender)
{
    uint64_t one = 1;

    (void)!write(sender->wake_fd, &one, sizeof one);
}

static void *run_io(void *data)
{
    pulp_amqp_sender_t *sender = data;

    pthread_mutex_lock(&sender->mutex);
    while (!sender->stop) {
        struct pollfd fds[2] = {
            { sender->wake_fd, POLLIN, 0 },
            { pulp_amqp_fd(sender->amqp), pulp_amqp_events(sender->amqp), 0 },
        };
        int timeout = pulp_amqp_timeout_ms(sender->amqp);
        uint64_t count;

        if (timeout < 0 || timeout > MAX_POLL_MS)
            timeout = MAX_POLL_MS;
        pthread_mutex_unlock(&sender->mutex);
        poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout);
        if (fds[0].revents & POLLIN)
            (void)!read(sender->wake_fd, &count, sizeof count);
        pthread_mutex_lock(&sender->mutex);

        /* The socket may have changed while unlocked: its events belong to the old one. */
        if (fds[1].fd >= 0 && fds[1].fd != pulp_amqp_fd(sender->amqp))
            fds[1].revents = 0;
        pulp_amqp_process(sender->amqp, fds[1].fd >= 0 ? fds[1].revents : 0);
    }
    pthread_mutex_unlock(&sender->mutex);
    return NULL;
}

pulp_amqp_sender_t *pulp_amqp_sender_start(const char *url, const char *queue,
                                           const char *container_id, pulp_error_t *error)
{
    pulp_amqp_callbacks_t callbacks = { NULL, on_sent, on_connection };
    pulp_amqp_options_t options = { url, queue, container_id, 0 };
    pulp_amqp_sender_t *sender = calloc(1, sizeof *sender);
    pthread_condattr_t attributes;

    if (!sender) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&sender->mutex, NULL);
    /* The waits' deadlines are on the monotonic clock, immune to changes of the time of day. */
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&sender->changed, &attributes);
    pthread_condattr_destroy(&attributes);
    sender->started_ms = pulp_monotonic_ms();
    sender->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sender->amqp = pulp_amqp_new(&options, &callbacks, sender, error);
    if (sender->wake_fd < 0 || !sender->amqp) {
        if (sender->wake_fd < 0)
            pulp_error_set(error, PULP_ERR_INTERNAL, "could not create an eventfd: %s",
                           strerror(errno));
        goto fail;
    }
    if (pthread_create(&sender->thread, NULL, run_io, sender) != 0) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not start the AMQP sender thread");
        goto fail;
    }
    return sender;

fail:
    if (sender->wake_fd >= 0)
        close(sender->wake_fd);
    pulp_amqp_free(sender->amqp);
    free(sender);
    return NULL;
}

void pulp_amqp_sender_stop(pulp_amqp_sender_t *sender)
{
    if (!sender)
        return;
    pthread_mutex_lock(&sender->mutex);
    sender->stop = 1;
    pthread_mutex_unlock(&sender->mutex);
    wake(sender);
    pthread_join(sender->thread, NULL);

    /* Fails the messages that the broker never settled; their callers still wait. */
    pthread_mutex_lock(&sender->mutex);
    while (sender->n_in_flight > 0) {
        request_t *request = sender->in_flight[--sender->n_in_flight];

        request->done = 1;
        request->accepted = 0;
    }
    pthread_cond_broadcast(&sender->changed);
    pulp_amqp_close(sender->amqp);
    pthread_mutex_unlock(&sender->mutex);
    /* NOTE: a caller still waiting here would use the freed mutex; mod_pulp stops its
     * senders only when its process exits, after the last request. */
    pulp_amqp_free(sender->amqp);
    close(sender->wake_fd);
    free(sender->in_flight);
    pthread_cond_destroy(&sender->changed);
    pthread_mutex_destroy(&sender->mutex);
    free(sender);
}

static void deadline_after(struct timespec *deadline, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += timeout_ms / 1000;
    deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

/* Waits, with the mutex held, until the first connection is up or given up on. Returns 1
 * when connected. */
static int wait_first_connection(pulp_amqp_sender_t *sender, const struct timespec *deadline)
{
    while (!sender->connected && !sender->ever_connected &&
           pulp_monotonic_ms() - sender->started_ms < FIRST_CONNECT_MS) {
        if (pthread_cond_timedwait(&sender->changed, &sender->mutex, deadline) == ETIMEDOUT)
            break;
    }
    return sender->connected;
}

int pulp_amqp_sender_connected(pulp_amqp_sender_t *sender, int timeout_ms)
{
    struct timespec deadline;
    int connected;

    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&sender->mutex);
    connected = wait_first_connection(sender, &deadline);
    pthread_mutex_unlock(&sender->mutex);
    return connected;
}

/* Sends with the mutex held; returns 0 once the message is in flight. */
static int send_locked(pulp_amqp_sender_t *sender, request_t *request, const char *body,
                       size_t length)
{
    if (track(sender, request) != 0)
        return -1;
    if (pulp_amqp_send(sender->amqp, body, length, &request->tag) != 0) {
        forget(sender, request);
        return -1;
    }
    /* Bytes the socket did not take are written by the I/O thread once it can. */
    if (pulp_amqp_events(sender->amqp) & POLLOUT)
        wake(sender);
    return 0;
}

pulp_status_t pulp_amqp_sender_send(pulp_amqp_sender_t *sender, const char *body, size_t length,
                                    int timeout_ms, pulp_error_t *error)
{
    request_t request = { 0, 0, 0 };
    struct timespec deadline;
    pulp_status_t status = PULP_OK;

    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&sender->mutex);
    if (!wait_first_connection(sender, &deadline)) {
        pthread_mutex_unlock(&sender->mutex);
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "not connected to the broker");
    }
    if (send_locked(sender, &request, body, length) != 0) {
        pthread_mutex_unlock(&sender->mutex);
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not send the message");
    }

    while (!request.done) {
        if (pthread_cond_timedwait(&sender->changed, &sender->mutex, &deadline) == ETIMEDOUT)
            break;
    }
    if (!request.done) {
        forget(sender, &request);
        status = pulp_error_set(error, PULP_ERR_UNAVAILABLE,
                                "the broker did not confirm the message within %d ms",
                                timeout_ms);
    } else if (!request.accepted) {
        status = pulp_error_set(error, PULP_ERR_UNAVAILABLE,
                                "the broker did not accept the message");
    }
    pthread_mutex_unlock(&sender->mutex);
    return status;
}
