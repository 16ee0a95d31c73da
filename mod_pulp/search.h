/* Search endpoints: criteria from a POST body or GET query arguments, run as one query whose
 * rows are JSON documents built by PostgreSQL. */
#ifndef PULP_SEARCH_H
#define PULP_SEARCH_H

#include "mod_pulp.h"
#include "pulp_criteria.h"

/* Returns the criteria of a search request, owned by the request, or NULL without criteria.
 * POST: the body's "criteria" member; the body's other members must be listed in
 * extra_keys (NULL-terminated) and are returned in *body. GET: the query arguments
 * filters (JSON), field (repeated), sort (JSON), limit and skip. Sets error and returns NULL
 * on invalid input; check error->status. */
json_object *pulp_search_criteria(pulp_request_t *req, const char *const *extra_keys,
                                  json_object **body, pulp_error_t *error);

typedef struct pulp_search {
    /* SQL expression of one document (json or jsonb) over the FROM clause's aliases. */
    const char *document_sql;
    /* The FROM clause, such as "repositories r". */
    const char *from_sql;
    /* The ORDER BY expression used when the criteria have no sort, and after their sort
     * keys otherwise, so that rows that tie come in the same order on every page. */
    const char *default_order;
    const pulp_criteria_field_t *fields;
    /* Members kept by a "fields" projection even when not listed, NULL-terminated. */
    const char *const *always_fields;
    /* A condition that every row must meet, such as "u.type_id = $1", or NULL. */
    const char *where_sql;
    /* Values of $1 to $n_params, which the SQL above may use; the criteria's own
     * placeholders follow them. */
    const char *const *params;
    int n_params;
} pulp_search_t;

/* Compiles criteria against search->fields, runs the query and sends the documents as a
 * JSON array (200), or the error body. */
int pulp_search_send(pulp_request_t *req, const pulp_search_t *search, json_object *criteria);

/* Runs a search's query like pulp_db_query. With has_regex (the criteria use $regex) the
 * query runs under a time limit, and a query that times out is logged and sets a 400
 * (PLP0015) naming the limit. */
PGresult *pulp_search_query(pulp_request_t *req, PGconn *db, int has_regex, const char *sql,
                            int n_params, const char *const *params, pulp_error_t *error);

/* Returns the SQL of document_sql reduced to the members listed in names (n_names of them)
 * and in always_fields (NULL-terminated), or document_sql itself when n_names is 0. The
 * list of kept names is placeholder number param, and *names_param receives its text[]
 * value (NULL when n_names is 0). Returns NULL when out of memory. */
const char *pulp_search_project(pulp_request_t *req, const char *document_sql,
                                char *const *names, int n_names,
                                const char *const *always_fields, int param,
                                const char **names_param);

#endif
