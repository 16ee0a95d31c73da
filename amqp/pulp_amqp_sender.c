/* The thread-safe sender: callers queue requests under a mutex and wake the I/O thread with
 * an eventfd; the I/O thread alone touches proton and the socket.
 *
 * A request is shared by its caller and the I/O thread and freed by whichever lets go of it
 * last, so a caller that times out can leave while its message is still in flight. */
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
    char *body;
    size_t length;
    uint64_t tag;
    int done;
    int accepted;
    /* Two while both the caller and the I/O thread use the request. */
    int references;
    struct request *next;
} request_t;

struct pulp_amqp_sender {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    pthread_t thread;
    int wake_fd;
    int stop;
    int connected;
    int ever_connected;
    int64_t started_ms;
    request_t *queue_head;
    request_t *queue_tail;

    /* Owned by the I/O thread. */
    pulp_amqp_t *amqp;
    request_t **in_flight;
    size_t n_in_flight;
    size_t in_flight_capacity;
};

/* Drops one reference; the caller holds the mutex. */
static void release(request_t *request)
{
    if (--request->references > 0)
        return;
    free(request->body);
    free(request);
}

/* Ends a request from the I/O thread and wakes its caller. */
static void complete(pulp_amqp_sender_t *sender, request_t *request, int accepted)
{
    pthread_mutex_lock(&sender->mutex);
    request->done = 1;
    request->accepted = accepted;
    release(request);
    pthread_cond_broadcast(&sender->changed);
    pthread_mutex_unlock(&sender->mutex);
}

static void on_sent(void *baton, uint64_t tag, int accepted)
{
    pulp_amqp_sender_t *sender = baton;

    for (size_t i = 0; i < sender->n_in_flight; i++) {
        request_t *request = sender->in_flight[i];

        if (request->tag != tag)
            continue;
        sender->in_flight[i] = sender->in_flight[--sender->n_in_flight];
        complete(sender, request, accepted);
        return;
    }
}

static void on_connection(void *baton, int connected)
{
    pulp_amqp_sender_t *sender = baton;

    pthread_mutex_lock(&sender->mutex);
    sender->connected = connected;
    if (connected)
        sender->ever_connected = 1;
    pthread_cond_broadcast(&sender->changed);
    pthread_mutex_unlock(&sender->mutex);
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

/* Sends every queued request, or fails it when the connection is down. */
static void send_queued(pulp_amqp_sender_t *sender)
{
    request_t *request;

    pthread_mutex_lock(&sender->mutex);
    request = sender->queue_head;
    sender->queue_head = NULL;
    sender->queue_tail = NULL;
    pthread_mutex_unlock(&sender->mutex);

    while (request) {
        request_t *next = request->next;

        if (pulp_amqp_send(sender->amqp, request->body, request->length, &request->tag) != 0 ||
            track(sender, request) != 0)
            complete(sender, request, 0);
        request = next;
    }
}

static void *run_io(void *data)
{
    pulp_amqp_sender_t *sender = data;

    for (;;) {
        struct pollfd fds[2] = {
            { sender->wake_fd, POLLIN, 0 },
            { pulp_amqp_fd(sender->amqp), pulp_amqp_events(sender->amqp), 0 },
        };
        int timeout = pulp_amqp_timeout_ms(sender->amqp);
        uint64_t count;
        int stop;

        if (timeout < 0 || timeout > MAX_POLL_MS)
            timeout = MAX_POLL_MS;
        poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout);
        if (fds[0].revents & POLLIN)
            (void)!read(sender->wake_fd, &count, sizeof count);

        pulp_amqp_process(sender->amqp, fds[1].fd >= 0 ? fds[1].revents : 0);
        pthread_mutex_lock(&sender->mutex);
        stop = sender->stop;
        pthread_mutex_unlock(&sender->mutex);
        if (stop)
            break;
        send_queued(sender);
    }
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

static void wake(pulp_amqp_sender_t *sender)
{
    uint64_t one = 1;

    (void)!write(sender->wake_fd, &one, sizeof one);
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

    /* Fails what is left: queued requests and messages the broker never settled. */
    while (sender->queue_head) {
        request_t *request = sender->queue_head;

        sender->queue_head = request->next;
        complete(sender, request, 0);
    }
    while (sender->n_in_flight > 0)
        complete(sender, sender->in_flight[--sender->n_in_flight], 0);
    pulp_amqp_close(sender->amqp);
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

static request_t *new_request(const char *body, size_t length)
{
    request_t *request = calloc(1, sizeof *request);

    if (!request)
        return NULL;
    request->body = malloc(length);
    if (!request->body) {
        free(request);
        return NULL;
    }
    memcpy(request->body, body, length);
    request->length = length;
    request->references = 2;
    return request;
}

pulp_status_t pulp_amqp_sender_send(pulp_amqp_sender_t *sender, const char *body, size_t length,
                                    int timeout_ms, pulp_error_t *error)
{
    struct timespec deadline;
    request_t *request;
    pulp_status_t status = PULP_OK;

    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&sender->mutex);
    if (!wait_first_connection(sender, &deadline)) {
        pthread_mutex_unlock(&sender->mutex);
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "not connected to the broker");
    }
    request = new_request(body, length);
    if (!request) {
        pthread_mutex_unlock(&sender->mutex);
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    }
    if (sender->queue_tail)
        sender->queue_tail->next = request;
    else
        sender->queue_head = request;
    sender->queue_tail = request;
    wake(sender);

    while (!request->done) {
        if (pthread_cond_timedwait(&sender->changed, &sender->mutex, &deadline) == ETIMEDOUT)
            break;
    }
    if (!request->done)
        status = pulp_error_set(error, PULP_ERR_UNAVAILABLE,
                                "the broker did not confirm the message within %d ms",
                                timeout_ms);
    else if (!request->accepted)
        status = pulp_error_set(error, PULP_ERR_UNAVAILABLE,
                                "the broker did not accept the message");
    release(request);
    pthread_mutex_unlock(&sender->mutex);
    return status;
}
