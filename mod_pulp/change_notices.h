/* Change notices: how each httpd child learns that what it cached has changed.
 *
 * Triggers notify a channel when a change commits (sql/002_repositories.sql,
 * sql/008_change_notices.sql), and every database connection of the module LISTENs on all
 * channels. Each channel has an epoch, a counter bumped whenever a notification of that
 * channel arrives on any connection of the child; a cache tags what it stores with the epoch
 * read before its query and serves it only while the epoch is unchanged.
 *
 * A request first calls pulp_changes_catch_up on its connection. That is one round trip, an
 * empty query: PostgreSQL signals the listening sessions before it confirms a commit to the
 * committing client, and a session delivers the notifications it was signalled before it
 * answers its next query. So once the round trip returns, every change committed before the
 * request began (by any child on any host) has bumped its epoch, and a client always reads
 * its own writes.
 *
 * Concurrency: the epochs are atomic counters, shared by the threads of one child. */
#ifndef PULP_CHANGE_NOTICES_H
#define PULP_CHANGE_NOTICES_H

#include <libpq-fe.h>

#include "pulp_error.h"

typedef enum pulp_change_channel {
    /* Repositories, importers, distributors and unit associations. */
    PULP_CHANGES_REPOSITORIES,
    /* Users, roles, role memberships and permissions. */
    PULP_CHANGES_AUTH,
    /* Removal of tasks and changes to completed ones. */
    PULP_CHANGES_TASKS,
    PULP_CHANGES_CHANNELS
} pulp_change_channel_t;

/* Makes conn LISTEN on every channel; for a new connection, before its first use. */
pulp_status_t pulp_changes_listen(PGconn *conn, pulp_error_t *error);

/* Bumps every epoch: for a new connection, since changes committed before it started to
 * listen were never notified to it, and for a broken one, whose notifications are lost. */
void pulp_changes_forget_all(void);

/* Reads the notifications that conn has already received, without a round trip. */
void pulp_changes_drain(PGconn *conn);

/* One round trip on conn, then pulp_changes_drain: afterwards every change committed before
 * the call has bumped its channel's epoch. */
pulp_status_t pulp_changes_catch_up(PGconn *conn, pulp_error_t *error);

/* The current epoch of channel; never 0. */
unsigned long pulp_changes_epoch(pulp_change_channel_t channel);

#endif
