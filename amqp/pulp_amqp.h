/* One AMQP 1.0 client connection, driven from the caller's poll loop.
 *
 * The connection carries a sender link to the task queue and, optionally, a receiver link on
 * it. It has no thread of its own: the caller polls pulp_amqp_fd() for pulp_amqp_events(),
 * waits at most pulp_amqp_timeout_ms(), then calls pulp_amqp_process(). A lost connection is
 * reopened with capped back-off. Proton types stay inside amqp/: callers see plain integers
 * for deliveries and sent messages.
 *
 * Not thread-safe: every call on one connection must come from the same thread (see
 * pulp_amqp_sender.h for the thread-safe sender that mod_pulp uses). */
#ifndef PULP_AMQP_H
#define PULP_AMQP_H

#include <stddef.h>
#include <stdint.h>

#include "pulp_error.h"

typedef struct pulp_amqp pulp_amqp_t;

typedef enum {
    PULP_AMQP_ACCEPT,
    /* Puts the message back on the queue for another consumer. */
    PULP_AMQP_RELEASE,
    /* Drops a message that no consumer can handle, such as a malformed body. */
    PULP_AMQP_REJECT,
} pulp_amqp_outcome_t;

typedef struct pulp_amqp_callbacks {
    /* A message arrived on the receiver link. delivery identifies it for pulp_amqp_settle;
     * redelivered is 1 when the broker gave it to another consumer before. */
    void (*on_message)(void *baton, uint64_t delivery, const char *body, size_t length,
                       int redelivered);
    /* The broker settled a sent message: accepted is 1, or 0 when it refused the message or
     * the connection was lost before the broker settled it. */
    void (*on_sent)(void *baton, uint64_t tag, int accepted);
    /* The connection came up (connected = 1) or went down. */
    void (*on_connection)(void *baton, int connected);
} pulp_amqp_callbacks_t;

typedef struct pulp_amqp_options {
    /* amqp://[USER[:PASSWORD]@]HOST[:PORT] or amqps://... (see pulp_amqp_check_url); the
     * password is never logged. */
    const char *url;
    /* Address of the task queue, such as "pulp.tasks". */
    const char *queue;
    /* AMQP container id, shown by the broker for this connection. */
    const char *container_id;
    /* Whether to open a receiver link; its credit starts at 0 (see pulp_amqp_set_credit). */
    int receive;
} pulp_amqp_options_t;

/* Checks a broker URL, amqp://[USER[:PASSWORD]@]HOST[:PORT][/] or amqps://..., without
 * connecting. The user information ends at the last '@' and its user name and password are
 * percent-decoded (RFC 3986). HOST may be an [IPv6] literal, and PORT defaults to 5672, or
 * 5671 for amqps. Error messages never contain the password. */
pulp_status_t pulp_amqp_check_url(const char *url, pulp_error_t *error);

/* Creates the connection object; the first connection attempt starts at the first
 * pulp_amqp_process(). Fails when the URL is invalid. */
pulp_amqp_t *pulp_amqp_new(const pulp_amqp_options_t *options,
                           const pulp_amqp_callbacks_t *callbacks, void *baton,
                           pulp_error_t *error);
void pulp_amqp_free(pulp_amqp_t *amqp);

/* The socket to poll, or -1 while there is none (waiting to reconnect). */
int pulp_amqp_fd(pulp_amqp_t *amqp);
/* The poll(2) events to wait for on pulp_amqp_fd(). */
short pulp_amqp_events(pulp_amqp_t *amqp);
/* Milliseconds until pulp_amqp_process() must run even without socket events, or -1. */
int pulp_amqp_timeout_ms(pulp_amqp_t *amqp);
/* Reads, writes, runs the callbacks, and reconnects when it is time. revents are the events
 * poll(2) reported on pulp_amqp_fd(), or 0. */
void pulp_amqp_process(pulp_amqp_t *amqp, short revents);

/* Returns 1 once the broker has opened the connection. */
int pulp_amqp_connected(const pulp_amqp_t *amqp);

/* "HOST:PORT" of the broker, without user or password, for log messages. */
const char *pulp_amqp_peer(const pulp_amqp_t *amqp);

/* Sends body as a durable message to the queue. Returns 0 and sets *tag, which
 * on_sent reports later, or -1 when the connection is not open. */
int pulp_amqp_send(pulp_amqp_t *amqp, const char *body, size_t length, uint64_t *tag);

/* Settles a received delivery. Returns 0, or -1 when the delivery is unknown because the
 * connection it came on was lost (the broker then redelivers the message). */
int pulp_amqp_settle(pulp_amqp_t *amqp, uint64_t delivery, pulp_amqp_outcome_t outcome);

/* Sets how many more messages the receiver link may take: the caller's free capacity. */
void pulp_amqp_set_credit(pulp_amqp_t *amqp, int credit);

/* Closes the receiver link for good; the broker returns its unsettled messages to the queue.
 * The sender link stays open. */
void pulp_amqp_stop_receiving(pulp_amqp_t *amqp);

/* Closes the connection cleanly; returns 1 once it is closed (call pulp_amqp_process until
 * then, or give up and free it). */
int pulp_amqp_close(pulp_amqp_t *amqp);

/* Builds the dispatch message body {"task_id": "<id>"} into buffer; returns its length. */
size_t pulp_amqp_task_message(const char *task_id, char *buffer, size_t size);

/* Reads the task id from a dispatch message body; returns 0, or -1 when the body is not a
 * JSON object whose "task_id" is a UUID. */
int pulp_amqp_task_message_parse(const char *body, size_t length, char task_id[37]);

#endif
