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
    /* The ORDER BY expression used when the criteria have no sort, such as "r.id". */
    const char *default_order;
    const pulp_criteria_field_t *fields;
    /* Members kept by a "fields" projection even when not listed, NULL-terminated. */
    const char *const *always_fields;
} pulp_search_t;

/* Compiles criteria against search->fields, runs the query and sends the documents as a
 * JSON array (200), or the error body. */
int pulp_search_send(pulp_request_t *req, const pulp_search_t *search, json_object *criteria);

#endif
