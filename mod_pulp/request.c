/* The request context: the database connection, the JSON body, query arguments and the
 * responses (JSON documents and Pulp error bodies). */
#include "mod_pulp.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/uio.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "pulp_db.h"
#include "pulp_json.h"
#include "change_notices.h"

APLOG_USE_MODULE(pulp);

/* Broken pooled connections dropped before a request gives up; a child holds at most one
 * connection per thread, and the event MPM's default is 25 threads per child. */
#define MAX_ACQUIRE_ATTEMPTS 64

static apr_status_t release_db(void *data)
{
    pulp_request_t *req = data;

    if (!req->db)
        return APR_SUCCESS;

    pulp_db_rollback(req->db);
    /* Notifications would pile up in a connection that no list request reads. */
    if (!pulp_db_connection_lost(req->db))
        pulp_changes_drain(req->db);
    if (pulp_db_connection_lost(req->db))
        apr_reslist_invalidate(req->config->db_pool, req->db);
    else
        apr_reslist_release(req->config->db_pool, req->db);
    req->db = NULL;
    return APR_SUCCESS;
}

/* Reads whatever the server sent to an idle connection, without a round trip, and returns 0
 * when that ends the connection. A server that shut down sent an error message and then
 * closed the socket: the first read returns the message, a later one the end of the stream. */
static int connection_alive(PGconn *conn)
{
    struct pollfd readable = { PQsocket(conn), POLLIN, 0 };

    for (int read = 0; read < 4; read++) {
        if (PQstatus(conn) != CONNECTION_OK || PQconsumeInput(conn) == 0)
            return 0;
        if (poll(&readable, 1, 0) <= 0)
            break;
    }
    return PQstatus(conn) == CONNECTION_OK;
}

PGconn *pulp_request_db(pulp_request_t *req, pulp_error_t *error)
{
    void *resource = NULL;
    apr_status_t rv;

    if (req->db)
        return req->db;
    if (!req->config->db_pool) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "no database is configured (PulpDatabase)");
        return NULL;
    }

    /* A pooled connection whose server went away (a PostgreSQL restart) has received the
     * server's last message and the end of the stream: reading what is pending, without a
     * round trip, marks it broken. Drop such connections until a live one comes; the last
     * attempt opens a new one, since every pooled connection may be dead. */
    for (int attempt = 0; attempt < MAX_ACQUIRE_ATTEMPTS; attempt++) {
        rv = apr_reslist_acquire(req->config->db_pool, &resource);
        if (rv != APR_SUCCESS) {
            pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not connect to the database");
            return NULL;
        }
        if (connection_alive(resource))
            break;
        apr_reslist_invalidate(req->config->db_pool, resource);
        resource = NULL;
    }
    if (!resource) {
        pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not connect to the database");
        return NULL;
    }

    req->db = resource;
    apr_pool_cleanup_register(req->r->pool, req, release_db, apr_pool_cleanup_null);
    return req->db;
}

void pulp_request_release_db(pulp_request_t *req)
{
    if (req->db)
        apr_pool_cleanup_run(req->r->pool, req, release_db);
}

static apr_status_t put_json(void *data)
{
    json_object_put(data);
    return APR_SUCCESS;
}

json_object *pulp_request_own_json(pulp_request_t *req, json_object *value)
{
    if (value)
        apr_pool_cleanup_register(req->r->pool, value, put_json, apr_pool_cleanup_null);
    return value;
}

/* Reads the whole body into pool memory, rejecting it as soon as it passes the limit. */
static int read_body(pulp_request_t *req, char **body, apr_size_t *length, pulp_error_t *error)
{
    request_rec *r = req->r;
    apr_off_t limit = req->config->max_body_size;
    apr_size_t capacity = 8192;
    apr_size_t used = 0;
    char *buffer;
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not read the request body");
        return -1;
    }
    if (r->remaining > limit) {
        pulp_error_set(error, PULP_ERR_TOO_LARGE,
                       "the request body of %" APR_OFF_T_FMT " bytes exceeds the limit of %"
                       APR_OFF_T_FMT " bytes (PulpMaxBodySize)", r->remaining, limit);
        return -1;
    }

    buffer = apr_palloc(r->pool, capacity + 1);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (used == capacity) {
                char *larger = apr_palloc(r->pool, capacity * 2 + 1);

                memcpy(larger, buffer, used);
                buffer = larger;
                capacity *= 2;
            }
            n = ap_get_client_block(r, buffer + used, capacity - used);
            if (n == 0)
                break;
            if (n < 0) {
                pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not read the request body");
                return -1;
            }
            used += (apr_size_t)n;
            if ((apr_off_t)used > limit) {
                pulp_error_set(error, PULP_ERR_TOO_LARGE,
                               "the request body exceeds the limit of %" APR_OFF_T_FMT
                               " bytes (PulpMaxBodySize)", limit);
                return -1;
            }
        }
    }
    buffer[used] = '\0';
    *body = buffer;
    *length = used;
    return 0;
}

json_object *pulp_request_json_body(pulp_request_t *req, pulp_error_t *error)
{
    char *body;
    apr_size_t length;

    if (read_body(req, &body, &length, error) != 0)
        return NULL;
    return pulp_request_own_json(req, pulp_json_parse_body(body, length, error));
}

static int parse_query(pulp_request_t *req, apr_table_t **table)
{
    *table = apr_table_make(req->r->pool, 8);
    if (!req->r->args)
        return 0;

    char *args = apr_pstrdup(req->r->pool, req->r->args);
    char *state = NULL;

    for (char *pair = apr_strtok(args, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *equals = strchr(pair, '=');
        char *value = "";

        if (equals) {
            *equals = '\0';
            value = equals + 1;
        }
        /* Query arguments decode "+" and every escape, "%2F" included, unlike paths. */
        if (ap_unescape_urlencoded(pair) != OK || ap_unescape_urlencoded(value) != OK)
            continue;
        apr_table_add(*table, pair, value);
    }
    return 0;
}

static apr_table_t *query_table(pulp_request_t *req)
{
    apr_table_t *table = NULL;
    void *cached = NULL;

    apr_pool_userdata_get(&cached, "pulp.query", req->r->pool);
    if (cached)
        return cached;
    parse_query(req, &table);
    apr_pool_userdata_setn(table, "pulp.query", NULL, req->r->pool);
    return table;
}

const char *pulp_request_query(pulp_request_t *req, const char *name)
{
    return apr_table_get(query_table(req), name);
}

typedef struct {
    apr_array_header_t *values;
} collect_baton_t;

static int collect_value(void *data, const char *key, const char *value)
{
    collect_baton_t *baton = data;

    (void)key;
    APR_ARRAY_PUSH(baton->values, const char *) = value;
    return 1;
}

apr_array_header_t *pulp_request_query_all(pulp_request_t *req, const char *name)
{
    collect_baton_t baton = { apr_array_make(req->r->pool, 4, sizeof(const char *)) };

    apr_table_do(collect_value, &baton, query_table(req), name, NULL);
    return baton.values;
}

int pulp_send_json(pulp_request_t *req, int http_status, json_object *value)
{
    const char *text = json_object_to_json_string_ext(
        value, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    req->r->status = http_status;
    ap_set_content_type(req->r, "application/json");
    if (http_status == HTTP_NO_CONTENT)
        return OK;
    ap_set_content_length(req->r, strlen(text));
    ap_rputs(text, req->r);
    return OK;
}

int pulp_send_json_text(pulp_request_t *req, int http_status, const char *text)
{
    req->r->status = http_status;
    ap_set_content_type(req->r, "application/json");
    ap_set_content_length(req->r, strlen(text));
    ap_rputs(text, req->r);
    return OK;
}

const char *pulp_json_rows_text(pulp_request_t *req, const PGresult *result)
{
    int rows = PQntuples(result);
    struct iovec *parts = apr_palloc(req->r->pool, sizeof *parts * (size_t)(2 * rows + 1));
    apr_size_t length;
    char *text;

    parts[0].iov_base = "[";
    parts[0].iov_len = 1;
    for (int row = 0; row < rows; row++) {
        parts[2 * row + 1].iov_base = PQgetvalue(result, row, 0);
        parts[2 * row + 1].iov_len = (size_t)PQgetlength(result, row, 0);
        parts[2 * row + 2].iov_base = row + 1 < rows ? "," : "]";
        parts[2 * row + 2].iov_len = 1;
    }
    if (rows == 0) {
        parts[0].iov_base = "[]";
        parts[0].iov_len = 2;
    }
    text = apr_pstrcatv(req->r->pool, parts, (apr_size_t)(rows == 0 ? 1 : 2 * rows + 1),
                        &length);
    return text;
}

int pulp_send_json_rows(pulp_request_t *req, int http_status, const PGresult *result)
{
    return pulp_send_json_text(req, http_status, pulp_json_rows_text(req, result));
}

int pulp_request_flag(pulp_request_t *req, const char *name)
{
    const char *value = pulp_request_query(req, name);

    return value && (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

json_object *pulp_request_json_object(pulp_request_t *req, pulp_error_t *error)
{
    json_object *body = pulp_request_json_body(req, error);

    if (!body)
        return NULL;
    if (!json_object_is_type(body, json_type_object)) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                       "invalid request body: expected a JSON object");
        return NULL;
    }
    return body;
}

int pulp_send_error_clear(pulp_request_t *req, pulp_error_t *error)
{
    int result = pulp_send_error(req, error);

    pulp_error_clear(error);
    return result;
}

/* Returns the first line of a message without libpq's "ERROR:  " prefix: the body gets one
 * readable sentence, while the log keeps libpq's whole text. */
static const char *client_message(pulp_request_t *req, const pulp_error_t *error)
{
    const char *message = error->message;
    size_t length;

    if (strncmp(message, "ERROR:  ", 8) == 0)
        message += 8;
    length = strcspn(message, "\n");
    /* libpq's own words ("server closed the connection unexpectedly") do not say which
     * server; the module's messages do. */
    if (error->status == PULP_ERR_UNAVAILABLE && !strstr(message, "database"))
        return apr_psprintf(req->r->pool, "the database is unavailable: %.*s", (int)length,
                            message);
    return apr_pstrmemdup(req->r->pool, message, length);
}

int pulp_send_error(pulp_request_t *req, const pulp_error_t *error)
{
    int http_status = pulp_status_http(error->status);
    json_object *body;
    json_object *inner;

    /* An input filter that failed (LimitRequestBody) has sent the response already, through
     * httpd's error response and the JSON error filter. */
    if (req->r->eos_sent)
        return OK;
    /* The rest of an oversized body stays unread: close the connection instead of reading it. */
    if (http_status == HTTP_REQUEST_ENTITY_TOO_LARGE)
        req->r->connection->keepalive = AP_CONN_CLOSE;

    body = json_object_new_object();
    inner = json_object_new_object();

    json_object_object_add(body, "http_status", json_object_new_int(http_status));
    json_object_object_add(body, "http_request_method", json_object_new_string(req->r->method));
    json_object_object_add(body, "error_message",
                           json_object_new_string(client_message(req, error)));
    json_object_object_add(body, "exception", NULL);
    json_object_object_add(body, "traceback", NULL);
    json_object_object_add(body, "_href", json_object_new_string(req->r->uri));

    json_object_object_add(inner, "code", json_object_new_string(pulp_status_code(error->status)));
    json_object_object_add(inner, "description",
                           json_object_new_string(client_message(req, error)));
    json_object_object_add(inner, "data", error->data ? json_object_get(error->data)
                                                      : json_object_new_object());
    json_object_object_add(inner, "sub_errors", json_object_new_array());
    json_object_object_add(body, "error", inner);

    if (error->data) {
        json_object_object_foreach(error->data, key, member)
            json_object_object_add(body, key, json_object_get(member));
    }

    if (http_status >= 500)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r, "request %s: %s %s: %s", req->request_id,
                      req->r->method, req->r->uri, error->message);
    else
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, req->r, "request %s: %s %s: %d %s",
                      req->request_id, req->r->method, req->r->uri, http_status, error->message);

    pulp_request_own_json(req, body);
    return pulp_send_json(req, http_status, body);
}

int pulp_send_error_status(pulp_request_t *req, pulp_status_t status, const char *format, ...)
{
    pulp_error_t error = PULP_ERROR_INIT;
    va_list args;
    int result;

    error.status = status;
    va_start(args, format);
    apr_vsnprintf(error.message, sizeof error.message, format, args);
    va_end(args);

    result = pulp_send_error(req, &error);
    pulp_error_clear(&error);
    return result;
}

const char *pulp_href(pulp_request_t *req, const char *format, ...)
{
    va_list args;
    const char *path;

    va_start(args, format);
    path = apr_pvsprintf(req->r->pool, format, args);
    va_end(args);
    return apr_pstrcat(req->r->pool, "/pulp/api/v2", path, NULL);
}
