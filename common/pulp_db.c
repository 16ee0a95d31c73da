#include "pulp_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

#include "pulp_log.h"

/* libpq's messages end with a newline, which callers append more text to. */
static void trim_final_newline(pulp_error_t *error)
{
    size_t length = error ? strlen(error->message) : 0;

    if (length > 0 && error->message[length - 1] == '\n')
        error->message[length - 1] = '\0';
}

/* Sends the server's notices to the log instead of libpq's default, standard error: warnings
 * at warning level, the rest (such as DROP TABLE IF EXISTS of a missing table) at debug. */
static void log_notice(void *baton, const PGresult *notice)
{
    const char *severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *text = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
    pulp_log_level_t level = PULP_LOG_DEBUG;

    (void)baton;
    if (severity && strcmp(severity, "WARNING") == 0)
        level = PULP_LOG_WARNING;
    if (pulp_log_enabled(level))
        pulp_log(level, "database %s: %s", severity ? severity : "notice", text ? text : "");
}

PGconn *pulp_db_connect(const char *conninfo, const char *application_name, pulp_error_t *error)
{
    /* The caller's conninfo is expanded last, so what it sets overrides these defaults. */
    const char *keywords[] = {
        "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "application_name", "dbname", NULL,
    };
    const char *values[] = {
        "5", "1", "10", "5", "3", "30000", application_name, conninfo, NULL,
    };
    PGconn *conn = PQconnectdbParams(keywords, values, 1);

    if (!conn) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not connect to the database: %s",
                       PQerrorMessage(conn));
        trim_final_newline(error);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeReceiver(conn, log_notice, NULL);
    return conn;
}

int pulp_db_connection_lost(PGconn *conn)
{
    return !conn || PQstatus(conn) != CONNECTION_OK;
}

pulp_status_t pulp_db_status_from_sqlstate(const char *sqlstate)
{
    if (!sqlstate)
        return PULP_ERR_UNAVAILABLE;
    if (strcmp(sqlstate, "23505") == 0)
        return PULP_ERR_DUPLICATE_RESOURCE;
    if (strcmp(sqlstate, "23503") == 0)
        return PULP_ERR_MISSING_RESOURCE;
    if (strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "23514") == 0)
        return PULP_ERR_INVALID_VALUE;
    /* Class 08 is a connection exception; 57P01-57P03 are shutdown and cannot-connect-now. */
    if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P0", 4) == 0)
        return PULP_ERR_UNAVAILABLE;
    return PULP_ERR_INTERNAL;
}

static pulp_status_t set_error_from_result(PGconn *conn, const PGresult *result,
                                           pulp_error_t *error)
{
    const char *sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    const char *message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
    pulp_status_t status;

    if (pulp_db_connection_lost(conn))
        status = PULP_ERR_UNAVAILABLE;
    else
        status = pulp_db_status_from_sqlstate(sqlstate);

    pulp_error_set(error, status, "%s", message && *message ? message : "database error");
    trim_final_newline(error);
    return status;
}

PGresult *pulp_db_query(PGconn *conn, pulp_error_t *error, const char *sql, int n_params,
                        const char *const *params)
{
    PGresult *result;
    ExecStatusType status;

    if (pulp_db_connection_lost(conn)) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "the database connection is lost");
        return NULL;
    }

    result = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
    status = PQresultStatus(result);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        return result;

    set_error_from_result(conn, result, error);
    PQclear(result);
    return NULL;
}

PGresult *pulp_db_query_timeout(PGconn *conn, pulp_error_t *error, int timeout_ms,
                                const char *sql, int n_params, const char *const *params,
                                int *timed_out)
{
    char timeout_text[32];
    const char *timeout_params[] = { timeout_text };
    const char *sqlstate;
    PGresult *result;
    ExecStatusType status;

    *timed_out = 0;
    if (pulp_db_connection_lost(conn)) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "the database connection is lost");
        return NULL;
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        pulp_error_set(error, PULP_ERR_INTERNAL,
                       "a statement with a time limit cannot run inside a transaction");
        return NULL;
    }

    /* set_config(..., true) acts as SET LOCAL, so the limit ends with the transaction, even
     * when the statement fails, and the pooled session keeps its own setting. */
    snprintf(timeout_text, sizeof timeout_text, "%d", timeout_ms);
    if (pulp_db_begin(conn, error) != PULP_OK)
        return NULL;
    if (pulp_db_command(conn, error, "SELECT set_config('statement_timeout', $1, true)", 1,
                        timeout_params) != PULP_OK) {
        pulp_db_rollback(conn);
        return NULL;
    }

    result = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
    status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        /* 57014 (query_canceled) is also what a pg_cancel_backend() of this session sends. */
        sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
        *timed_out = sqlstate && strcmp(sqlstate, "57014") == 0;
        set_error_from_result(conn, result, error);
        PQclear(result);
        pulp_db_rollback(conn);
        return NULL;
    }
    if (pulp_db_commit(conn, error) != PULP_OK) {
        PQclear(result);
        pulp_db_rollback(conn);
        return NULL;
    }
    return result;
}

/* Hashes a statement's text: 64-bit FNV-1a, so equal text gets equal names on every
 * connection. */
static unsigned long long statement_hash(const char *sql)
{
    unsigned long long hash = 14695981039346656037ULL;

    for (const unsigned char *c = (const unsigned char *)sql; *c; c++) {
        hash ^= *c;
        hash *= 1099511628211ULL;
    }
    return hash;
}

/* The statements prepared on one connection, kept as libpq instance data of the connection
 * so that it goes away with the connection (PQfinish) and empties when PQreset opens a new
 * session. */
typedef struct prepared_set {
    unsigned long long *hashes;
    size_t n_hashes;
    size_t capacity;
} prepared_set_t;

static int prepared_set_event(PGEventId event, void *info, void *pass_through)
{
    prepared_set_t *set = NULL;

    (void)pass_through;
    if (event == PGEVT_CONNRESET)
        set = PQinstanceData(((PGEventConnReset *)info)->conn, prepared_set_event);
    else if (event == PGEVT_CONNDESTROY)
        set = PQinstanceData(((PGEventConnDestroy *)info)->conn, prepared_set_event);
    if (set)
        set->n_hashes = 0;
    if (set && event == PGEVT_CONNDESTROY) {
        free(set->hashes);
        free(set);
    }
    return 1;
}

/* Returns the set of conn, attaching an empty one on first use; NULL when out of memory. */
static prepared_set_t *prepared_set_of(PGconn *conn)
{
    prepared_set_t *set = PQinstanceData(conn, prepared_set_event);

    if (set)
        return set;
    set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    if (!PQregisterEventProc(conn, prepared_set_event, "pulp prepared statements", NULL) ||
        !PQsetInstanceData(conn, prepared_set_event, set)) {
        free(set);
        return NULL;
    }
    return set;
}

static int prepared_set_contains(const prepared_set_t *set, unsigned long long hash)
{
    for (size_t i = 0; i < set->n_hashes; i++) {
        if (set->hashes[i] == hash)
            return 1;
    }
    return 0;
}

static void prepared_set_add(prepared_set_t *set, unsigned long long hash)
{
    if (set->n_hashes == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 16;
        unsigned long long *hashes = realloc(set->hashes, capacity * sizeof *hashes);

        if (!hashes)
            return;
        set->hashes = hashes;
        set->capacity = capacity;
    }
    set->hashes[set->n_hashes++] = hash;
}

static PGresult *execute_prepared(PGconn *conn, pulp_error_t *error, const char *name,
                                  int n_params, const char *const *params)
{
    PGresult *result = PQexecPrepared(conn, name, n_params, params, NULL, NULL, 0);

    if (PQresultStatus(result) == PGRES_TUPLES_OK || PQresultStatus(result) == PGRES_COMMAND_OK)
        return result;
    set_error_from_result(conn, result, error);
    PQclear(result);
    return NULL;
}

PGresult *pulp_db_query_prepared(PGconn *conn, pulp_error_t *error, const char *sql,
                                 int n_params, const char *const *params)
{
    unsigned long long hash = statement_hash(sql);
    prepared_set_t *set;
    PGresult *result;
    char name[32];

    if (pulp_db_connection_lost(conn) || PQtransactionStatus(conn) != PQTRANS_IDLE)
        return pulp_db_query(conn, error, sql, n_params, params);
    set = prepared_set_of(conn);
    if (!set)
        return pulp_db_query(conn, error, sql, n_params, params);

    snprintf(name, sizeof name, "pulp_%016llx", hash);
    if (!prepared_set_contains(set, hash)) {
        result = PQprepare(conn, name, sql, n_params, NULL);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            set_error_from_result(conn, result, error);
            PQclear(result);
            return NULL;
        }
        PQclear(result);
        prepared_set_add(set, hash);
    }
    return execute_prepared(conn, error, name, n_params, params);
}

pulp_status_t pulp_db_discard_session(PGconn *conn, pulp_error_t *error)
{
    prepared_set_t *set = PQinstanceData(conn, prepared_set_event);

    if (set)
        set->n_hashes = 0;
    return pulp_db_command(conn, error, "DISCARD ALL", 0, NULL);
}

pulp_status_t pulp_db_command(PGconn *conn, pulp_error_t *error, const char *sql, int n_params,
                              const char *const *params)
{
    PGresult *result = pulp_db_query(conn, error, sql, n_params, params);

    if (!result)
        return error ? error->status : PULP_ERR_INTERNAL;
    PQclear(result);
    return PULP_OK;
}

pulp_status_t pulp_db_begin(PGconn *conn, pulp_error_t *error)
{
    return pulp_db_command(conn, error, "BEGIN", 0, NULL);
}

pulp_status_t pulp_db_commit(PGconn *conn, pulp_error_t *error)
{
    return pulp_db_command(conn, error, "COMMIT", 0, NULL);
}

void pulp_db_rollback(PGconn *conn)
{
    if (pulp_db_connection_lost(conn))
        return;
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(conn, "ROLLBACK"));
}

const char *pulp_db_value(const PGresult *result, int row, const char *column)
{
    int field = PQfnumber(result, column);

    if (field < 0 || PQgetisnull(result, row, field))
        return NULL;
    return PQgetvalue(result, row, field);
}

char *pulp_db_text_array(const char *const *items, size_t n_items)
{
    size_t length = 3;
    char *literal;
    char *out;

    for (size_t i = 0; i < n_items; i++)
        length += 2 * strlen(items[i]) + 3;

    literal = malloc(length);
    if (!literal)
        return NULL;

    out = literal;
    *out++ = '{';
    for (size_t i = 0; i < n_items; i++) {
        if (i > 0)
            *out++ = ',';
        *out++ = '"';
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *out++ = '\\';
            *out++ = *c;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = '\0';
    return literal;
}
