/* Parsing of JSON request bodies, shared by mod_pulp and the fuzz tests. */
#ifndef PULP_JSON_H
#define PULP_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "pulp_error.h"

/* Deeper documents are rejected: no Pulp request body nests beyond a handful of levels, and
 * the bound keeps hostile input from exhausting the stack of a parser or a compiler. */
#define PULP_JSON_MAX_DEPTH 32

/* Parses body (length bytes, not necessarily NUL-terminated) as one strict JSON value that
 * must use the whole input. Returns a new reference, or NULL with error set: PLP0019 for
 * invalid UTF-8, PLP0015 for bad or truncated JSON, trailing data or nesting deeper than
 * PULP_JSON_MAX_DEPTH. An empty body is an empty object. */
json_object *pulp_json_parse_body(const char *body, size_t length, pulp_error_t *error);

/* Parses like pulp_json_parse_body, but returns NULL without an error for the JSON value
 * null. Error messages name source, such as "query argument \"filters\"", in place of
 * "the request body". */
json_object *pulp_json_parse(const char *body, size_t length, const char *source,
                             pulp_error_t *error);

#endif
