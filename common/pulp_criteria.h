/* Pulp search criteria compiled to parameterised SQL.
 *
 * A criteria document, as Pulp 2 clients send it:
 *
 *   {"filters": {"id": {"$in": ["zoo", "pets"]}, "notes.env": "prod"},
 *    "sort": [["id", "descending"]], "limit": 10, "skip": 20, "fields": ["id", "notes"]}
 *
 * is compiled against a document description: the list of field names a search may use, each
 * mapped to an SQL expression of the caller's query and a type. Field names are checked
 * against the description and every value becomes a parameter ($n), so no part of the input
 * ever reaches SQL text. A JSON field ("notes") also accepts dotted sub-fields ("notes.env"),
 * whose path is itself a parameter.
 *
 * Filters use MongoDB's query syntax: equality ({"f": v}), $and, $or, $nor, and the field
 * operators $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $all, $exists, $regex (with $options
 * "i"). Anything else is rejected with a PULP_ERR_INVALID_VALUE or PULP_ERR_UNSUPPORTED_VALUE
 * error that names the operator or field; the API answers 400.
 *
 * Use:
 *
 *   pulp_criteria_t *c = pulp_criteria_compile(json, repository_fields, 1, &error);
 *   sql = "SELECT ... FROM repositories r WHERE " + c->where + " " + c->order_by + " " +
 *         c->limit;
 *   PQexecParams(conn, sql, c->n_params, NULL, c->params, ...);
 *   pulp_criteria_free(c);
 *
 * first_param is the number of the first placeholder the compiler may use, so that a caller
 * with parameters of its own ($1 for a repository id, say) passes 2 and puts its own values in
 * front of c->params (see pulp_criteria_prepend_params).
 */
#ifndef PULP_CRITERIA_H
#define PULP_CRITERIA_H

#include <json-c/json.h>

#include "pulp_error.h"

typedef enum {
    /* A text column: values are JSON strings. */
    PULP_FIELD_TEXT,
    /* A numeric column: values are JSON numbers. */
    PULP_FIELD_NUMBER,
    /* A boolean column. */
    PULP_FIELD_BOOLEAN,
    /* A timestamptz column: values are ISO 8601 strings. */
    PULP_FIELD_TIMESTAMP,
    /* A text[] column: equality with a string means "contains", as MongoDB treats arrays. */
    PULP_FIELD_TEXT_ARRAY,
    /* A jsonb column: values are any JSON; dotted sub-fields ("notes.a.b") are allowed. */
    PULP_FIELD_JSON,
} pulp_field_type_t;

/* The name of a catch-all entry of PULP_FIELD_JSON type. It matches any other field name
 * that is a dotted path of identifiers (see pulp_criteria_is_field_path) and reaches that
 * path inside its expression, so documents without a fixed schema (content units) can be
 * searched on any of their keys. A path that a document does not have matches nothing, as
 * in MongoDB.
 * NOTE: unlike MongoDB, a path does not match the elements of a list one by one: it reaches
 * into a list only by index ("requires.0.name"). */
#define PULP_CRITERIA_ANY_FIELD "*"

typedef struct pulp_criteria_field {
    /* The document's field name, such as "id" or "notes", or PULP_CRITERIA_ANY_FIELD. */
    const char *name;
    /* The SQL expression of the caller's query, such as "r.id"; trusted text. */
    const char *sql;
    pulp_field_type_t type;
} pulp_criteria_field_t;

typedef struct pulp_criteria {
    /* A boolean SQL expression; "TRUE" without filters. */
    char *where;
    /* "ORDER BY ..." or an empty string. */
    char *order_by;
    /* "LIMIT $n OFFSET $m", "LIMIT $n", "OFFSET $m" or an empty string. */
    char *limit;
    /* The parameter values, in placeholder order starting at first_param. */
    char **params;
    int n_params;
    /* The names listed in "fields", or n_fields == 0 when all fields are wanted. */
    char **fields;
    int n_fields;
    /* 1 when the filters use $regex, whose run time the input can make unbounded. */
    int has_regex;
} pulp_criteria_t;

/* The most placeholders one criteria document may produce. */
#define PULP_CRITERIA_MAX_PARAMS 10000

/* The maximum number of keys in one "sort", as in MongoDB ($sort, "Limits"). PostgreSQL
 * rejects more than 1664 entries in a query's target list, which includes the sort keys. */
#define PULP_CRITERIA_MAX_SORT_KEYS 32

/* Compiles criteria (a JSON object, or NULL for "everything") against fields, a list ended by
 * an entry whose name is NULL. Returns NULL with error set on invalid input or when out of
 * memory. */
pulp_criteria_t *pulp_criteria_compile(json_object *criteria, const pulp_criteria_field_t *fields,
                                       int first_param, pulp_error_t *error);

/* Frees a compiled criteria; NULL is allowed. */
void pulp_criteria_free(pulp_criteria_t *criteria);

/* Returns a newly allocated array of n_before + c->n_params values: before[] first, then the
 * compiled parameters (borrowed from c). The caller frees the array only. */
const char **pulp_criteria_prepend_params(const pulp_criteria_t *criteria,
                                         const char *const *before, int n_before);

/* Returns 1 when name is a field path that a PULP_CRITERIA_ANY_FIELD entry accepts: at most
 * PULP_CRITERIA_MAX_PATH bytes of segments separated by single dots, each segment made of
 * ASCII letters, digits, "_" and "-", the first segment starting with a letter. Names that
 * start with "_" stay reserved for the server's own fields. */
int pulp_criteria_is_field_path(const char *name);

/* The maximum length of a field path that a PULP_CRITERIA_ANY_FIELD entry accepts, in
 * bytes. */
#define PULP_CRITERIA_MAX_PATH 255

/* Returns 1 when name is listed in "fields" or no "fields" were given. */
int pulp_criteria_wants_field(const pulp_criteria_t *criteria, const char *name);

#endif
