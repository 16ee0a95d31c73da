#include "search.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <http_log.h>

#include "body.h"
#include "pulp_db.h"
#include "pulp_json.h"

APLOG_USE_MODULE(pulp);

/* The statement_timeout of a search whose criteria use $regex, in milliseconds. */
#define REGEX_SEARCH_TIMEOUT_MS 10000

/* Parses a query argument that contains JSON as strictly as a request body. Returns NULL for
 * the value null, and NULL with error set when the text is not one valid JSON value. */
static json_object *query_json(pulp_request_t *req, const char *name, const char *text,
                               pulp_error_t *error)
{
    const char *source = apr_psprintf(req->r->pool, "query argument \"%s\"", name);
    pulp_error_t parse_error = PULP_ERROR_INIT;
    json_object *value = pulp_json_parse(text, strlen(text), source, &parse_error);

    if (!value && parse_error.status != PULP_OK) {
        pulp_body_error(error, parse_error.status, name, "%s", parse_error.message);
        pulp_error_clear(&parse_error);
        return NULL;
    }
    return pulp_request_own_json(req, value);
}

static pulp_status_t add_count_argument(pulp_request_t *req, json_object *criteria,
                                        const char *name, pulp_error_t *error)
{
    const char *text = pulp_request_query(req, name);
    char *end = NULL;
    long long number;

    if (!text)
        return PULP_OK;
    number = strtoll(text, &end, 10);
    if (!*text || *end || number < 0)
        return pulp_body_error(error, PULP_ERR_INVALID_VALUE, name,
                               "invalid query argument \"%s\": expected a non-negative integer",
                               name);
    json_object_object_add(criteria, name, json_object_new_int64(number));
    return PULP_OK;
}

static json_object *criteria_from_query(pulp_request_t *req, pulp_error_t *error)
{
    json_object *criteria = pulp_request_own_json(req, json_object_new_object());
    apr_array_header_t *fields = pulp_request_query_all(req, "field");
    const char *filters = pulp_request_query(req, "filters");
    const char *sort = pulp_request_query(req, "sort");
    json_object *value;

    if (filters) {
        value = query_json(req, "filters", filters, error);
        if (error->status != PULP_OK)
            return NULL;
        json_object_object_add(criteria, "filters", json_object_get(value));
    }
    if (sort) {
        value = query_json(req, "sort", sort, error);
        if (error->status != PULP_OK)
            return NULL;
        json_object_object_add(criteria, "sort", json_object_get(value));
    }
    if (fields->nelts > 0) {
        json_object *list = json_object_new_array();

        for (int i = 0; i < fields->nelts; i++)
            json_object_array_add(list,
                                  json_object_new_string(APR_ARRAY_IDX(fields, i, const char *)));
        json_object_object_add(criteria, "fields", list);
    }
    if (add_count_argument(req, criteria, "limit", error) != PULP_OK ||
        add_count_argument(req, criteria, "skip", error) != PULP_OK)
        return NULL;
    return criteria;
}

json_object *pulp_search_criteria(pulp_request_t *req, const char *const *extra_keys,
                                  json_object **body, pulp_error_t *error)
{
    const char *keys[16] = { "criteria" };
    json_object *criteria = NULL;
    json_object *request_body;
    int n_keys = 1;

    *body = NULL;
    /* M_GET also covers HEAD. */
    if (req->r->method_number == M_GET)
        return criteria_from_query(req, error);

    request_body = pulp_request_json_object(req, error);
    if (!request_body)
        return NULL;
    for (int i = 0; extra_keys && extra_keys[i] && n_keys < 15; i++)
        keys[n_keys++] = extra_keys[i];
    keys[n_keys] = NULL;
    if (pulp_body_check_keys(request_body, keys, error) != PULP_OK)
        return NULL;
    if (pulp_body_object(request_body, "criteria", 0, &criteria, error) != PULP_OK)
        return NULL;
    *body = request_body;
    return criteria;
}

const char *pulp_search_project(pulp_request_t *req, const char *document_sql,
                                char *const *names, int n_names,
                                const char *const *always_fields, int param,
                                const char **names_param)
{
    const char **kept_names;
    int n_always = 0;
    int n_kept_names = 0;
    char *literal;

    *names_param = NULL;
    if (n_names == 0)
        return document_sql;

    while (always_fields && always_fields[n_always])
        n_always++;
    kept_names = apr_pcalloc(req->r->pool, sizeof *kept_names * (size_t)(n_names + n_always));
    for (int i = 0; i < n_names; i++)
        kept_names[n_kept_names++] = names[i];
    for (int i = 0; i < n_always; i++)
        kept_names[n_kept_names++] = always_fields[i];

    literal = pulp_db_text_array(kept_names, (size_t)n_kept_names);
    if (!literal)
        return NULL;
    *names_param = apr_pstrdup(req->r->pool, literal);
    free(literal);
    return apr_psprintf(req->r->pool,
                        "(SELECT coalesce(json_object_agg(key, value), '{}'::json)"
                        " FROM json_each((%s)::json) WHERE key = ANY ($%d::text[]))",
                        document_sql, param);
}

PGresult *pulp_search_query(pulp_request_t *req, PGconn *db, int has_regex, const char *sql,
                            int n_params, const char *const *params, pulp_error_t *error)
{
    PGresult *result;
    int timed_out = 0;

    if (!has_regex)
        return pulp_db_query(db, error, sql, n_params, params);

    /* PostgreSQL's documentation (9.7, "Pattern Matching") warns that a regular expression
     * can take arbitrary time and memory, and advises a statement timeout for patterns from
     * hostile sources. Backreferences are one such cause. */
    result = pulp_db_query_timeout(db, error, REGEX_SEARCH_TIMEOUT_MS, sql, n_params, params,
                                   &timed_out);
    if (!result && timed_out) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                      "a search with $regex timed out after %d s: %s %s",
                      REGEX_SEARCH_TIMEOUT_MS / 1000, req->r->method, req->r->uri);
        pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                       "invalid criteria: the search timed out after %d s, the limit for "
                       "searches with $regex: use a simpler regular expression, such as one "
                       "without backreferences", REGEX_SEARCH_TIMEOUT_MS / 1000);
    }
    return result;
}

int pulp_search_send(pulp_request_t *req, const pulp_search_t *search, json_object *criteria)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = NULL;
    const char **params = NULL;
    const char *names_param;
    const char *document;
    const char *sql;
    PGresult *result = NULL;
    PGconn *db;
    int n_params;
    int status;

    compiled = pulp_criteria_compile(criteria, search->fields, search->n_params + 1, &error);
    if (!compiled) {
        status = pulp_send_error(req, &error);
        goto end;
    }
    n_params = search->n_params + compiled->n_params;
    document = pulp_search_project(req, search->document_sql, compiled->fields,
                                   compiled->n_fields, search->always_fields, n_params + 1,
                                   &names_param);
    params = pulp_criteria_prepend_params(compiled, search->params, search->n_params);
    if (!document || !params) {
        status = pulp_send_error_status(req, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }
    if (names_param)
        params[n_params++] = names_param;

    sql = apr_pstrcat(req->r->pool, "SELECT (", document, ")::text FROM ", search->from_sql,
                      " WHERE ", search->where_sql ? search->where_sql : "TRUE", " AND ",
                      compiled->where, " ",
                      *compiled->order_by ? compiled->order_by : "ORDER BY ",
                      *compiled->order_by ? ", " : "", search->default_order, " ",
                      compiled->limit, NULL);

    /* Without criteria the text is fixed, so preparing it once per connection pays off. */
    db = pulp_request_db(req, &error);
    if (db && !criteria)
        result = pulp_db_query_prepared(db, &error, sql, n_params, params);
    else if (db)
        result = pulp_search_query(req, db, compiled->has_regex, sql, n_params, params,
                                   &error);
    if (!result) {
        status = pulp_send_error(req, &error);
        goto end;
    }
    status = pulp_send_json_rows(req, HTTP_OK, result);

end:
    PQclear(result);
    free(params);
    pulp_criteria_free(compiled);
    pulp_error_clear(&error);
    return status;
}
