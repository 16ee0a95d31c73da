/* A thread-safe sender of dispatch messages, for processes whose threads each serve requests
 * (httpd's worker and event MPMs).
 *
 * One I/O thread owns the AMQP connection; any thread may send. Messages from several
 * threads are in flight on the link at once, and each caller waits only for the broker's
 * settlement of its own message, at most the timeout it passes. Create the sender after
 * fork: the thread does not survive one. */
#ifndef PULP_AMQP_SENDER_H
#define PULP_AMQP_SENDER_H

#include <stddef.h>

#include "pulp_error.h"

typedef struct pulp_amqp_sender pulp_amqp_sender_t;

/* Starts the I/O thread, which connects to url (and reconnects with back-off). */
pulp_amqp_sender_t *pulp_amqp_sender_start(const char *url, const char *queue,
                                           const char *container_id, pulp_error_t *error);

/* Stops the thread, closes the connection and frees the sender; waiting senders fail. */
void pulp_amqp_sender_stop(pulp_amqp_sender_t *sender);

/* Sends body as a durable message and waits up to timeout_ms for the broker to accept it.
 * Fails at once, with PULP_ERR_UNAVAILABLE, while the connection is down, except during
 * the first connection attempt, which it waits for within the same timeout. */
pulp_status_t pulp_amqp_sender_send(pulp_amqp_sender_t *sender, const char *body, size_t length,
                                    int timeout_ms, pulp_error_t *error);

/* Returns 1 while the connection to the broker is open. During the first connection attempt
 * it waits for the outcome, at most timeout_ms. */
int pulp_amqp_sender_connected(pulp_amqp_sender_t *sender, int timeout_ms);

#endif
