#include "pulp_json.h"

#include <limits.h>

#include <json-c/json_tokener.h>

/* Sets error for a parse of source ("the request body", say) that did not produce one
 * complete value. */
static void parse_failed(json_tokener *tokener, enum json_tokener_error parse_error,
                         const char *source, pulp_error_t *error)
{
    if (parse_error == json_tokener_success)
        pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                       "invalid JSON in %s: unexpected data after the value at byte %zu",
                       source, json_tokener_get_parse_end(tokener));
    else if (parse_error == json_tokener_error_parse_utf8_string)
        pulp_error_set(error, PULP_ERR_INPUT_ENCODING, "%s is not valid UTF-8", source);
    else if (parse_error == json_tokener_error_depth)
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "%s nests deeper than %d levels", source,
                       PULP_JSON_MAX_DEPTH);
    else if (parse_error == json_tokener_continue)
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid JSON in %s: truncated", source);
    else
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid JSON in %s: %s", source,
                       json_tokener_error_desc(parse_error));
}

json_object *pulp_json_parse_body(const char *body, size_t length, pulp_error_t *error)
{
    json_object *value = pulp_json_parse(body, length, "the request body", error);

    if (!value && error->status == PULP_OK)
        pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                       "invalid request body: expected a JSON object, not null");
    return value;
}

json_object *pulp_json_parse(const char *body, size_t length, const char *source,
                             pulp_error_t *error)
{
    json_tokener *tokener;
    json_object *value;
    enum json_tokener_error parse_error;

    if (length == 0)
        return json_object_new_object();
    if (length > INT_MAX) {
        pulp_error_set(error, PULP_ERR_TOO_LARGE, "%s is too large to parse", source);
        return NULL;
    }

    tokener = json_tokener_new_ex(PULP_JSON_MAX_DEPTH);
    if (!tokener) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    value = json_tokener_parse_ex(tokener, body, (int)length);
    parse_error = json_tokener_get_error(tokener);

    /* A number or literal at the very end ("12", "null") may continue, so json-c waits for
     * more input. A NUL character marks the end of the input. */
    if (parse_error == json_tokener_continue && json_tokener_get_parse_end(tokener) == length) {
        value = json_tokener_parse_ex(tokener, "", 1);
        parse_error = json_tokener_get_error(tokener);
        if (parse_error == json_tokener_success) {
            json_tokener_free(tokener);
            return value;
        }
    }

    /* A complete value must use the whole body; json_tokener_continue means it was cut short. */
    if (parse_error != json_tokener_success || json_tokener_get_parse_end(tokener) < length) {
        parse_failed(tokener, parse_error, source, error);
        json_object_put(value);
        value = NULL;
    }
    json_tokener_free(tokener);
    return value;
}
