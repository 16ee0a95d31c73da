/* JSON bodies for the errors that httpd itself sends inside /pulp/api, and for the errors
 * of the module's hooks outside it (PULP_ERROR_MESSAGE_NOTE).
 *
 * The module's handlers write their own Pulp error bodies. Errors that httpd raises outside
 * them (413 from LimitRequestBody, 400 for a malformed header, 408, 500 from another module)
 * go through ap_send_error_response(), which writes an HTML page. Its insert_error_filter
 * hook adds the filter below, which drops that page and sends the Pulp error body instead,
 * so that an API client never receives HTML. */
#include "error_filter.h"

#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#define FILTER_NAME "PULP_ERROR_JSON"
#define API_PREFIX "/pulp/api"

static pulp_status_t status_for_http(int http_status)
{
    switch (http_status) {
    case HTTP_NOT_FOUND:
        return PULP_ERR_MISSING_RESOURCE;
    case HTTP_UNAUTHORIZED:
        return PULP_ERR_AUTHENTICATION;
    case HTTP_FORBIDDEN:
        return PULP_ERR_PERMISSION;
    case HTTP_METHOD_NOT_ALLOWED:
        return PULP_ERR_METHOD_NOT_ALLOWED;
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return PULP_ERR_TOO_LARGE;
    case HTTP_NOT_IMPLEMENTED:
        return PULP_ERR_NOT_IMPLEMENTED;
    case HTTP_SERVICE_UNAVAILABLE:
        return PULP_ERR_UNAVAILABLE;
    default:
        break;
    }
    if (http_status >= 400 && http_status < 500)
        return PULP_ERR_INVALID_VALUE;
    return PULP_ERR_INTERNAL;
}

static const char *error_body(request_rec *r)
{
    pulp_status_t status = status_for_http(r->status);
    const char *status_line = ap_get_status_line(r->status);
    json_object *body = json_object_new_object();
    json_object *inner = json_object_new_object();
    const char *message;
    const char *text;

    /* The status line, not r->notes "error-notes": those notes may hold HTML. */
    message = apr_table_get(r->notes, PULP_ERROR_MESSAGE_NOTE);
    if (!message)
        message = apr_psprintf(r->pool, "the server rejected the request: %s",
                               status_line ? status_line : "error");

    json_object_object_add(body, "http_status", json_object_new_int(r->status));
    json_object_object_add(body, "http_request_method",
                           json_object_new_string(r->method ? r->method : ""));
    json_object_object_add(body, "error_message", json_object_new_string(message));
    json_object_object_add(body, "exception", NULL);
    json_object_object_add(body, "traceback", NULL);
    json_object_object_add(body, "_href", json_object_new_string(r->uri ? r->uri : ""));
    json_object_object_add(inner, "code", json_object_new_string(pulp_status_code(status)));
    json_object_object_add(inner, "description", json_object_new_string(message));
    json_object_object_add(inner, "data", json_object_new_object());
    json_object_object_add(inner, "sub_errors", json_object_new_array());
    json_object_object_add(body, "error", inner);

    text = apr_pstrdup(r->pool, json_object_to_json_string_ext(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(body);
    return text;
}

/* Drops the HTML page bucket by bucket and sends the JSON body at its end. */
static apr_status_t error_json_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *bucket = APR_BRIGADE_FIRST(bb);
    int eos = 0;

    while (bucket != APR_BRIGADE_SENTINEL(bb)) {
        apr_bucket *next = APR_BUCKET_NEXT(bucket);

        if (APR_BUCKET_IS_EOS(bucket)) {
            eos = 1;
            break;
        }
        if (!APR_BUCKET_IS_METADATA(bucket))
            apr_bucket_delete(bucket);
        bucket = next;
    }
    if (!eos)
        return ap_pass_brigade(f->next, bb);

    {
        const char *body = error_body(r);
        apr_bucket *json = apr_bucket_pool_create(body, strlen(body), r->pool,
                                                  f->c->bucket_alloc);

        ap_set_content_type(r, "application/json");
        ap_set_content_length(r, (apr_off_t)strlen(body));
        APR_BUCKET_INSERT_BEFORE(bucket, json);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static int is_api_request(const request_rec *r)
{
    if (!r->uri || strncmp(r->uri, API_PREFIX, sizeof API_PREFIX - 1) != 0)
        return 0;
    return r->uri[sizeof API_PREFIX - 1] == '/' || r->uri[sizeof API_PREFIX - 1] == '\0';
}

static void insert_error_filter(request_rec *r)
{
    if (!is_api_request(r) && !apr_table_get(r->notes, PULP_ERROR_MESSAGE_NOTE))
        return;
    if (r->header_only)
        return;
    ap_add_output_filter(FILTER_NAME, NULL, r, r->connection);
}

void pulp_error_filter_register(void)
{
    ap_register_output_filter(FILTER_NAME, error_json_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
}
