/* PostgreSQL access shared by mod_pulp, pulp-worker and pulp-manage-db.
 *
 * Every statement is parameterised (PQexecParams): no value ever reaches SQL text. Failures
 * fill a pulp_error_t whose status follows the SQLSTATE (unique violation is a duplicate
 * resource, a lost connection is PULP_ERR_UNAVAILABLE). */
#ifndef PULP_DB_H
#define PULP_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "pulp_error.h"

/* Opens a session-mode connection with short TCP keepalives, so that PostgreSQL drops the
 * session (and its advisory locks) of a host that vanished in well under a minute. */
PGconn *pulp_db_connect(const char *conninfo, const char *application_name, pulp_error_t *error);

/* Returns 1 when the connection is unusable and must be reopened. */
int pulp_db_connection_lost(PGconn *conn);

/* Runs one statement; returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), which the
 * caller clears, or NULL with error set. */
PGresult *pulp_db_query(PGconn *conn, pulp_error_t *error, const char *sql, int n_params,
                        const char *const *params);

/* Runs one statement like pulp_db_query with a statement_timeout of timeout_ms milliseconds,
 * in a transaction of its own, so outside a transaction only. *timed_out is 1 when
 * PostgreSQL canceled the statement, and then error is set as well. */
PGresult *pulp_db_query_timeout(PGconn *conn, pulp_error_t *error, int timeout_ms,
                                const char *sql, int n_params, const char *const *params,
                                int *timed_out);

/* Runs one statement like pulp_db_query, as a prepared statement named after a hash of its
 * text, preparing it on the first use on each connection. This saves the planning of hot,
 * fixed statements. Outside a transaction only: inside one it runs pulp_db_query instead,
 * because the failed first execution would abort the transaction. Use it only for SQL text
 * that does not depend on the input, since each distinct text stays prepared. */
PGresult *pulp_db_query_prepared(PGconn *conn, pulp_error_t *error, const char *sql,
                                 int n_params, const char *const *params);

/* Runs DISCARD ALL, which returns the session to the state of a new connection (settings,
 * temporary tables, prepared statements, advisory locks), and clears the record of the
 * statements that pulp_db_query_prepared prepared on it. Not inside a transaction or a pipeline. After a
 * failure the session's state is unknown: close the connection. */
pulp_status_t pulp_db_discard_session(PGconn *conn, pulp_error_t *error);

/* Runs one statement and discards its result. */
pulp_status_t pulp_db_command(PGconn *conn, pulp_error_t *error, const char *sql, int n_params,
                              const char *const *params);

pulp_status_t pulp_db_begin(PGconn *conn, pulp_error_t *error);
pulp_status_t pulp_db_commit(PGconn *conn, pulp_error_t *error);
/* Rolls back if a transaction is open; safe to call on any connection state. */
void pulp_db_rollback(PGconn *conn);

/* Maps an SQLSTATE to the status the API reports for it. */
pulp_status_t pulp_db_status_from_sqlstate(const char *sqlstate);

/* Returns the value of a column by name in the given row, or NULL when it is SQL NULL. */
const char *pulp_db_value(const PGresult *result, int row, const char *column);



/* Returns a newly allocated PostgreSQL array literal ({"a","b"}) of the given strings, for
 * a text[] parameter; NULL when out of memory. The caller frees it. */
char *pulp_db_text_array(const char *const *items, size_t n_items);
#endif
