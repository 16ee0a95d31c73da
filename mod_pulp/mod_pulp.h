/* Declarations shared by the files of mod_pulp: server configuration, the request context
 * and the helpers every REST resource uses. */
#ifndef MOD_PULP_H
#define MOD_PULP_H

#include <httpd.h>
#include <http_config.h>
#include <apr_reslist.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/types.h>

#include "pulp_error.h"

/* Per-server configuration; see directives.c for each directive's default and merge rule. */
typedef struct pulp_server_config {
    const char *database;
    const char *broker;
    const char *task_queue;
    const char *storage_dir;
    apr_off_t max_body_size;
    int diagnostic_tasks;
    /* PulpRepoAuthCA: the file's path and a store of its certificates, or NULL. */
    const char *repo_auth_ca;
    X509_STORE *repo_auth_ca_store;
    /* Per-child state, set in child_init. */
    apr_reslist_t *db_pool;
} pulp_server_config_t;

/* Everything a handler needs for one API request. */
typedef struct pulp_request {
    request_rec *r;
    pulp_server_config_t *config;
    /* Path below /pulp/api/v2, such as "/repositories/zoo/". */
    const char *path;
    /* Values of the route's {name} segments, in pattern order. */
    const char *params[8];
    int n_params;
    /* The authenticated login, or NULL for anonymous routes. */
    const char *login;
    /* Unique id logged with every error of this request. */
    const char *request_id;
    PGconn *db;
} pulp_request_t;

extern module AP_MODULE_DECLARE_DATA pulp_module;

/* Set up the per-child caches of repository lists and of completed tasks' reports; called
 * from child_init. */
void pulp_repositories_child_init(apr_pool_t *pool);
void pulp_tasks_child_init(apr_pool_t *pool);

/* Returns the request's database connection, acquiring one from the child's pool on first
 * use (it goes back to the pool when the request ends). NULL with error set when the database
 * cannot be reached. */
PGconn *pulp_request_db(pulp_request_t *req, pulp_error_t *error);

/* Returns the request's database connection to the pool before the request ends, for a
 * request that needs it only at the start (a download of a published file). */
void pulp_request_release_db(pulp_request_t *req);

/* Reads the request body (at most PulpMaxBodySize bytes) and parses it as a JSON object or
 * value; an empty body gives an empty object. NULL with error set for invalid UTF-8, bad JSON,
 * excessive nesting or an oversized body. The result is freed with the request. */
json_object *pulp_request_json_body(pulp_request_t *req, pulp_error_t *error);

/* Returns the value of a query argument, or NULL; repeated arguments: see pulp_request_query_all. */
const char *pulp_request_query(pulp_request_t *req, const char *name);
/* Returns every value of a repeated query argument, as an APR array of const char *. */
apr_array_header_t *pulp_request_query_all(pulp_request_t *req, const char *name);

/* Sends value as the JSON response with the given status; returns OK for the handler. */
int pulp_send_json(pulp_request_t *req, int http_status, json_object *value);

/* Sends text, which must be a JSON document, with the given status; returns OK. */
int pulp_send_json_text(pulp_request_t *req, int http_status, const char *text);

/* Returns the first column of every row of result, each a JSON document, joined into one
 * JSON array (allocated from the request pool). */
const char *pulp_json_rows_text(pulp_request_t *req, const PGresult *result);

/* Sends the first column of every row of result, each a JSON document, as one JSON array. */
int pulp_send_json_rows(pulp_request_t *req, int http_status, const PGresult *result);

/* Returns 1 when the query argument name is "true" (any case) or "1", as Pulp's flags. */
int pulp_request_flag(pulp_request_t *req, const char *name);

/* Returns the request body when it is a JSON object; otherwise NULL with error set. */
json_object *pulp_request_json_object(pulp_request_t *req, pulp_error_t *error);

/* Sends the error body of error and clears it; returns OK. */
int pulp_send_error_clear(pulp_request_t *req, pulp_error_t *error);

/* Sends the Pulp error body for error and logs it with the request id; returns OK. */
int pulp_send_error(pulp_request_t *req, const pulp_error_t *error);

/* Shortcut for pulp_send_error with a status and message. */
int pulp_send_error_status(pulp_request_t *req, pulp_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Registers a cleanup that frees a json_object with the request. */
json_object *pulp_request_own_json(pulp_request_t *req, json_object *value);

/* Returns "/pulp/api/v2" + the printf-formatted path, allocated from the request pool. */
const char *pulp_href(pulp_request_t *req, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
