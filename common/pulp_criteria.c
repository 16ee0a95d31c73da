/* Compilation of Pulp (MongoDB-style) criteria to parameterised SQL; see pulp_criteria.h. */
#include "pulp_criteria.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pulp_db.h"

/* A growable NUL-terminated string; on allocation failure it sets failed and stops growing. */
typedef struct buffer {
    char *data;
    size_t length;
    size_t capacity;
    int failed;
} buffer_t;

typedef struct compiler {
    const pulp_criteria_field_t *fields;
    int first_param;
    char **params;
    int n_params;
    int params_capacity;
    int has_regex;
    pulp_error_t *error;
} compiler_t;

/* A resolved field reference: the SQL expression and, for a JSON sub-field, its path. */
typedef struct field_ref {
    const pulp_criteria_field_t *field;
    /* The name as the criteria spell it, such as "notes.env", for error messages. */
    const char *name;
    /* The placeholder number of the text[] path parameter, or 0 for the whole field. */
    int path_param;
} field_ref_t;

static void buffer_append(buffer_t *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void buffer_append(buffer_t *buffer, const char *format, ...)
{
    va_list args;
    int needed;

    if (buffer->failed)
        return;

    va_start(args, format);
    needed = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (needed < 0) {
        buffer->failed = 1;
        return;
    }

    if (buffer->length + (size_t)needed + 1 > buffer->capacity) {
        size_t capacity = (buffer->capacity ? buffer->capacity * 2 : 64) + (size_t)needed;
        char *data = realloc(buffer->data, capacity);

        if (!data) {
            buffer->failed = 1;
            return;
        }
        buffer->data = data;
        buffer->capacity = capacity;
    }

    va_start(args, format);
    vsnprintf(buffer->data + buffer->length, buffer->capacity - buffer->length, format, args);
    va_end(args);
    buffer->length += (size_t)needed;
}

/* Returns the buffer's text (an empty string when nothing was appended), or NULL when an
 * allocation failed; the caller owns it. */
static char *buffer_take(buffer_t *buffer)
{
    if (buffer->failed) {
        free(buffer->data);
        return NULL;
    }
    if (!buffer->data)
        return strdup("");
    return buffer->data;
}

static pulp_status_t fail(compiler_t *compiler, pulp_status_t status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static pulp_status_t fail(compiler_t *compiler, pulp_status_t status, const char *format, ...)
{
    va_list args;

    if (!compiler->error)
        return status;
    compiler->error->status = status;
    va_start(args, format);
    vsnprintf(compiler->error->message, sizeof compiler->error->message, format, args);
    va_end(args);
    return status;
}

/* Adds a parameter value (copied) and returns its placeholder number, or 0 on failure. */
static int add_param(compiler_t *compiler, const char *value)
{
    char *copy;

    if (compiler->n_params >= PULP_CRITERIA_MAX_PARAMS) {
        fail(compiler, PULP_ERR_INVALID_VALUE,
             "invalid criteria: more than %d values", PULP_CRITERIA_MAX_PARAMS);
        return 0;
    }
    if (compiler->n_params == compiler->params_capacity) {
        int capacity = compiler->params_capacity ? compiler->params_capacity * 2 : 8;
        char **params = realloc(compiler->params, (size_t)capacity * sizeof *params);

        if (!params) {
            fail(compiler, PULP_ERR_INTERNAL, "out of memory");
            return 0;
        }
        compiler->params = params;
        compiler->params_capacity = capacity;
    }
    copy = strdup(value);
    if (!copy) {
        fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        return 0;
    }
    compiler->params[compiler->n_params++] = copy;
    return compiler->first_param + compiler->n_params - 1;
}

/* Returns 1 when a JSON string holds a NUL byte, which PostgreSQL text cannot store. */
static int has_nul(json_object *value)
{
    return strlen(json_object_get_string(value)) != (size_t)json_object_get_string_len(value);
}

/* Returns 1 when a string anywhere in a JSON value contains a NUL byte, which jsonb rejects.
 * Object keys need no check, because json-c ends a parsed key at its first NUL. */
static int json_has_nul(json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_string:
        return has_nul(value);
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(value); i++) {
            if (json_has_nul(json_object_array_get_idx(value, i)))
                return 1;
        }
        return 0;
    case json_type_object: {
        json_object_object_foreach(value, key, member) {
            (void)key;
            if (json_has_nul(member))
                return 1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* Adds the segments of subpath, a dotted path, as a text[] parameter. */
static int add_path_param(compiler_t *compiler, const char *subpath)
{
    const char *segments[64];
    size_t n_segments = 0;
    char *copy = strdup(subpath);
    char *state = NULL;
    char *literal;
    int number = 0;

    if (!copy) {
        fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        return 0;
    }
    for (char *segment = strtok_r(copy, ".", &state); segment;
         segment = strtok_r(NULL, ".", &state)) {
        if (n_segments == sizeof segments / sizeof segments[0]) {
            fail(compiler, PULP_ERR_INVALID_VALUE,
                 "invalid criteria: field path \"%.200s\" has more than %zu parts", subpath,
                 sizeof segments / sizeof segments[0]);
            goto end;
        }
        segments[n_segments++] = segment;
    }
    literal = pulp_db_text_array(segments, n_segments);
    if (!literal) {
        fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }
    number = add_param(compiler, literal);
    free(literal);

end:
    free(copy);
    return number;
}

static int valid_subpath(const char *subpath)
{
    size_t length = strlen(subpath);

    return length > 0 && subpath[0] != '.' && subpath[length - 1] != '.' &&
           !strstr(subpath, "..");
}

int pulp_criteria_is_field_path(const char *name)
{
    size_t length = strlen(name);
    int segment_start = 1;

    if (length == 0 || length > PULP_CRITERIA_MAX_PATH || !isalpha((unsigned char)name[0]))
        return 0;
    for (const char *c = name; *c; c++) {
        if (*c == '.') {
            if (segment_start)
                return 0;
            segment_start = 1;
            continue;
        }
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            return 0;
        segment_start = 0;
    }
    return !segment_start;
}

static int is_any_field(const pulp_criteria_field_t *field)
{
    return strcmp(field->name, PULP_CRITERIA_ANY_FIELD) == 0;
}

static const pulp_criteria_field_t *find_any_field(const pulp_criteria_field_t *fields)
{
    for (const pulp_criteria_field_t *field = fields; field->name; field++) {
        if (is_any_field(field))
            return field;
    }
    return NULL;
}

static pulp_status_t fail_field_name(compiler_t *compiler, const char *name)
{
    if (!find_any_field(compiler->fields))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: unknown field \"%.200s\"", name);
    return fail(compiler, PULP_ERR_INVALID_VALUE,
                "invalid criteria: invalid field name \"%.200s\": use ASCII letters, digits, "
                "\"_\" and \"-\", starting with a letter, and single dots between the parts "
                "of a path", name);
}

/* Resolves a field name: a listed field, a dotted path into a listed JSON field, or else a
 * path into the PULP_CRITERIA_ANY_FIELD entry when the list has one. */
static pulp_status_t resolve_field(compiler_t *compiler, const char *name, field_ref_t *ref)
{
    const pulp_criteria_field_t *any_field = find_any_field(compiler->fields);

    ref->name = name;
    for (const pulp_criteria_field_t *field = compiler->fields; field->name; field++) {
        size_t length = strlen(field->name);

        if (is_any_field(field))
            continue;
        if (strcmp(field->name, name) == 0) {
            ref->field = field;
            ref->path_param = 0;
            return PULP_OK;
        }
        if (field->type != PULP_FIELD_JSON || strncmp(field->name, name, length) != 0 ||
            name[length] != '.')
            continue;
        if (!valid_subpath(name + length + 1))
            return fail_field_name(compiler, name);
        ref->field = field;
        ref->path_param = add_path_param(compiler, name + length + 1);
        return ref->path_param ? PULP_OK : compiler->error->status;
    }
    if (!any_field || !pulp_criteria_is_field_path(name))
        return fail_field_name(compiler, name);

    ref->field = any_field;
    ref->path_param = add_path_param(compiler, name);
    return ref->path_param ? PULP_OK : compiler->error->status;
}

static int is_json(const field_ref_t *ref)
{
    return ref->field->type == PULP_FIELD_JSON;
}

/* Writes the field's SQL expression: the column, or its sub-document at the path. */
static void append_field(buffer_t *out, const field_ref_t *ref, int as_text)
{
    if (ref->path_param)
        buffer_append(out, "(%s %s $%d::text[])", ref->field->sql, as_text ? "#>>" : "#>",
                      ref->path_param);
    else if (as_text && is_json(ref))
        buffer_append(out, "(%s #>> '{}')", ref->field->sql);
    else
        buffer_append(out, "%s", ref->field->sql);
}

/* Returns jsonb_typeof()'s name of the type of a JSON value other than null. */
static const char *json_type_name(json_object *value)
{
    switch (json_object_get_type(value)) {
    case json_type_boolean:
        return "boolean";
    case json_type_int:
    case json_type_double:
        return "number";
    case json_type_object:
        return "object";
    case json_type_array:
        return "array";
    case json_type_string:
    case json_type_null:
    default:
        return "string";
    }
}

/* Writes "jsonb_typeof(field) = 'type' AND ". MongoDB's $gt, $lt and $regex match only
 * values of the operand's type ("type bracketing"), while jsonb orders every type against
 * every other. type is one of json_type_name's constants, never input. */
static void append_json_type_check(buffer_t *out, const field_ref_t *ref, const char *type)
{
    buffer_append(out, "jsonb_typeof(");
    append_field(out, ref, 0);
    buffer_append(out, ") = '%s' AND ", type);
}

static const char *scalar_cast(pulp_field_type_t type)
{
    switch (type) {
    case PULP_FIELD_NUMBER:
        return "numeric";
    case PULP_FIELD_BOOLEAN:
        return "boolean";
    case PULP_FIELD_TIMESTAMP:
        return "timestamptz";
    case PULP_FIELD_JSON:
        return "jsonb";
    case PULP_FIELD_TEXT:
    case PULP_FIELD_TEXT_ARRAY:
        break;
    }
    return "text";
}

/* Skips n ASCII digits at *text; returns 0 when there are fewer. */
static int skip_digits(const char **text, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*text)[i]))
            return 0;
    }
    *text += n;
    return 1;
}

/* Returns 1 when text is an ISO 8601 date, or date and time: YYYY-MM-DD, then optionally
 * "T" or " ", hh:mm, :ss, a fraction and a zone of "Z", +hh, +hhmm or +hh:mm. PostgreSQL
 * checks the ranges. Its other inputs ("yesterday", "1/2/2020") are rejected, because some
 * depend on the time of the query or on the DateStyle setting. */
static int is_iso8601(const char *text)
{
    if (!skip_digits(&text, 4) || *text++ != '-' || !skip_digits(&text, 2) || *text++ != '-' ||
        !skip_digits(&text, 2))
        return 0;
    if (!*text)
        return 1;
    if (*text != 'T' && *text != ' ')
        return 0;
    text++;
    if (!skip_digits(&text, 2) || *text++ != ':' || !skip_digits(&text, 2))
        return 0;
    if (*text == ':') {
        text++;
        if (!skip_digits(&text, 2))
            return 0;
        if (*text == '.') {
            text++;
            if (!skip_digits(&text, 1))
                return 0;
            while (isdigit((unsigned char)*text))
                text++;
        }
    }
    if (*text == 'Z')
        return text[1] == '\0';
    if (*text == '+' || *text == '-') {
        text++;
        if (!skip_digits(&text, 2))
            return 0;
        if (*text == ':')
            text++;
        if (*text && !skip_digits(&text, 2))
            return 0;
    }
    return *text == '\0';
}

/* Checks that value suits a scalar comparison with the field. */
static pulp_status_t check_scalar(compiler_t *compiler, const field_ref_t *ref,
                                  const char *operator, json_object *value)
{
    json_type type = json_object_get_type(value);
    int ok;

    switch (ref->field->type) {
    case PULP_FIELD_JSON:
        if (!json_has_nul(value))
            return PULP_OK;
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: %s on field \"%s\" has a string with a NUL character "
                    "(\\u0000), which no stored value can contain", operator, ref->name);
    case PULP_FIELD_NUMBER:
        ok = type == json_type_int || type == json_type_double;
        break;
    case PULP_FIELD_BOOLEAN:
        ok = type == json_type_boolean;
        break;
    case PULP_FIELD_TIMESTAMP:
        ok = type == json_type_string && !has_nul(value);
        if (ok && !is_iso8601(json_object_get_string(value)))
            return fail(compiler, PULP_ERR_INVALID_VALUE,
                        "invalid criteria: %s on field \"%s\" expects an ISO 8601 date and "
                        "time such as 2026-01-31T12:00:00Z, not \"%.100s\"", operator,
                        ref->name, json_object_get_string(value));
        break;
    case PULP_FIELD_TEXT:
    case PULP_FIELD_TEXT_ARRAY:
    default:
        ok = type == json_type_string && !has_nul(value);
        break;
    }
    if (ok)
        return PULP_OK;
    return fail(compiler, PULP_ERR_INVALID_VALUE,
                "invalid criteria: %s on field \"%s\" expects a %s value", operator,
                ref->name, scalar_cast(ref->field->type));
}

/* Returns the parameter text of a scalar value: JSON text for a JSON field, else the value. */
static const char *scalar_text(const field_ref_t *ref, json_object *value)
{
    if (ref->field->type == PULP_FIELD_JSON)
        return json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
    return json_object_get_string(value);
}

/* Checks a scalar value and adds it as a parameter; returns its number, or 0 on failure. */
static int add_scalar(compiler_t *compiler, const field_ref_t *ref, const char *operator,
                      json_object *value)
{
    if (check_scalar(compiler, ref, operator, value) != PULP_OK)
        return 0;
    return add_param(compiler, scalar_text(ref, value));
}

/* Adds a JSON array as an SQL array parameter of the field's element type. */
static int add_array(compiler_t *compiler, const field_ref_t *ref, const char *operator,
                     json_object *value)
{
    size_t n_items;
    const char **items = NULL;
    char *literal = NULL;
    int number = 0;

    if (!json_object_is_type(value, json_type_array)) {
        fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: %s on field \"%s\" expects a list",
             operator, ref->name);
        return 0;
    }
    n_items = json_object_array_length(value);
    items = calloc(n_items + 1, sizeof *items);
    if (!items) {
        fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        return 0;
    }

    for (size_t i = 0; i < n_items; i++) {
        json_object *item = json_object_array_get_idx(value, i);

        if (check_scalar(compiler, ref, operator, item) != PULP_OK)
            goto end;
        items[i] = scalar_text(ref, item);
    }

    literal = pulp_db_text_array(items, n_items);
    if (!literal) {
        fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }
    number = add_param(compiler, literal);

end:
    free(literal);
    free(items);
    return number;
}

/* The SQL array type of a field's values. */
static const char *array_cast(const field_ref_t *ref)
{
    if (ref->field->type == PULP_FIELD_TEXT_ARRAY)
        return "text[]";
    if (is_json(ref))
        return "jsonb[]";
    switch (ref->field->type) {
    case PULP_FIELD_NUMBER:
        return "numeric[]";
    case PULP_FIELD_BOOLEAN:
        return "boolean[]";
    case PULP_FIELD_TIMESTAMP:
        return "timestamptz[]";
    default:
        return "text[]";
    }
}

static pulp_status_t compile_null(const field_ref_t *ref, int negate, buffer_t *out)
{
    /* MongoDB's {"f": null} matches a missing field and a null one. */
    buffer_append(out, "%s(", negate ? "NOT " : "");
    append_field(out, ref, 0);
    buffer_append(out, " IS NULL");
    if (is_json(ref)) {
        buffer_append(out, " OR ");
        append_field(out, ref, 0);
        buffer_append(out, " = 'null'::jsonb");
    }
    buffer_append(out, ")");
    return PULP_OK;
}

static pulp_status_t compile_equality(compiler_t *compiler, const field_ref_t *ref,
                                      json_object *value, int negate, buffer_t *out)
{
    const char *operator = negate ? "$ne" : "$eq";
    int number;

    if (!value)
        return compile_null(ref, negate, out);

    if (ref->field->type == PULP_FIELD_TEXT_ARRAY && !json_object_is_type(value, json_type_array)) {
        number = add_scalar(compiler, ref, operator, value);
        if (!number)
            return compiler->error->status;
        buffer_append(out, "%s($%d::text = ANY(%s))", negate ? "NOT " : "", number,
                      ref->field->sql);
        return PULP_OK;
    }

    if (ref->field->type == PULP_FIELD_TEXT_ARRAY)
        number = add_array(compiler, ref, operator, value);
    else
        number = add_scalar(compiler, ref, operator, value);
    if (!number)
        return compiler->error->status;

    buffer_append(out, "(");
    append_field(out, ref, 0);
    buffer_append(out, negate ? " IS DISTINCT FROM " : " = ");
    buffer_append(out, "$%d::%s)", number,
                  ref->field->type == PULP_FIELD_TEXT_ARRAY ? "text[]"
                                                            : scalar_cast(ref->field->type));
    return PULP_OK;
}

static pulp_status_t compile_comparison(compiler_t *compiler, const field_ref_t *ref,
                                        const char *operator, const char *sql_operator,
                                        json_object *value, buffer_t *out)
{
    int number;

    if (ref->field->type == PULP_FIELD_TEXT_ARRAY || ref->field->type == PULP_FIELD_BOOLEAN ||
        !value)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: %s cannot compare field \"%s\" with this value", operator,
                    ref->name);

    number = add_scalar(compiler, ref, operator, value);
    if (!number)
        return compiler->error->status;
    buffer_append(out, "(");
    if (is_json(ref))
        append_json_type_check(out, ref, json_type_name(value));
    append_field(out, ref, 0);
    buffer_append(out, " %s $%d::%s)", sql_operator, number, scalar_cast(ref->field->type));
    return PULP_OK;
}

static pulp_status_t compile_in(compiler_t *compiler, const field_ref_t *ref,
                                const char *operator, json_object *value, buffer_t *out)
{
    int negate = strcmp(operator, "$nin") == 0;
    int number = add_array(compiler, ref, operator, value);

    if (!number)
        return compiler->error->status;

    if (ref->field->type == PULP_FIELD_TEXT_ARRAY) {
        const char *sql_operator = strcmp(operator, "$all") == 0 ? "@>" : "&&";

        buffer_append(out, "%s(%s %s $%d::text[])", negate ? "NOT " : "", ref->field->sql,
                      sql_operator, number);
        return PULP_OK;
    }
    if (strcmp(operator, "$all") == 0)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: $all needs a list field, and \"%s\" is not one",
                    ref->name);

    /* coalesce: a missing field is "not in" any list, as in MongoDB. */
    buffer_append(out, "%scoalesce(", negate ? "NOT " : "");
    append_field(out, ref, 0);
    buffer_append(out, " = ANY($%d::%s), false)", number, array_cast(ref));
    return PULP_OK;
}

static pulp_status_t compile_exists(compiler_t *compiler, const field_ref_t *ref,
                                    json_object *value, buffer_t *out)
{
    if (!json_object_is_type(value, json_type_boolean))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: $exists on field \"%s\" expects true or false",
                    ref->name);

    buffer_append(out, "(");
    append_field(out, ref, 0);
    buffer_append(out, json_object_get_boolean(value) ? " IS NOT NULL)" : " IS NULL)");
    return PULP_OK;
}

static pulp_status_t compile_regex(compiler_t *compiler, const field_ref_t *ref,
                                   json_object *value, json_object *options, buffer_t *out)
{
    const char *sql_operator = "~";
    int number;

    if (!json_object_is_type(value, json_type_string))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: $regex on field \"%s\" expects a string", ref->name);
    if (has_nul(value))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: $regex on field \"%s\" has a NUL character (\\u0000), "
                    "which PostgreSQL patterns cannot contain", ref->name);
    if (ref->field->type != PULP_FIELD_TEXT && !is_json(ref))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: $regex needs a text field, and \"%s\" is not one",
                    ref->name);
    if (options) {
        const char *flags = json_object_get_string(options);

        if (!json_object_is_type(options, json_type_string) ||
            (strcmp(flags, "") != 0 && strcmp(flags, "i") != 0))
            return fail(compiler, PULP_ERR_UNSUPPORTED_VALUE,
                        "invalid criteria: unsupported $options \"%.50s\": only \"i\" is supported",
                        flags ? flags : "");
        if (strcmp(flags, "i") == 0)
            sql_operator = "~*";
    }

    number = add_param(compiler, json_object_get_string(value));
    if (!number)
        return compiler->error->status;
    compiler->has_regex = 1;
    buffer_append(out, "(");
    if (is_json(ref))
        append_json_type_check(out, ref, "string");
    append_field(out, ref, 1);
    buffer_append(out, " %s $%d::text)", sql_operator, number);
    return PULP_OK;
}

typedef struct comparison {
    const char *operator;
    const char *sql;
} comparison_t;

static const comparison_t comparisons[] = {
    { "$gt", ">" }, { "$gte", ">=" }, { "$lt", "<" }, { "$lte", "<=" }, { NULL, NULL },
};

static pulp_status_t compile_operator(compiler_t *compiler, const field_ref_t *ref,
                                      const char *operator, json_object *value,
                                      json_object *operators, buffer_t *out)
{
    if (strcmp(operator, "$eq") == 0)
        return compile_equality(compiler, ref, value, 0, out);
    if (strcmp(operator, "$ne") == 0)
        return compile_equality(compiler, ref, value, 1, out);
    for (const comparison_t *c = comparisons; c->operator; c++) {
        if (strcmp(operator, c->operator) == 0)
            return compile_comparison(compiler, ref, operator, c->sql, value, out);
    }
    if (strcmp(operator, "$in") == 0 || strcmp(operator, "$nin") == 0 ||
        strcmp(operator, "$all") == 0)
        return compile_in(compiler, ref, operator, value, out);
    if (strcmp(operator, "$exists") == 0)
        return compile_exists(compiler, ref, value, out);
    if (strcmp(operator, "$regex") == 0) {
        json_object *options = NULL;

        json_object_object_get_ex(operators, "$options", &options);
        return compile_regex(compiler, ref, value, options, out);
    }
    if (strcmp(operator, "$options") == 0) {
        if (json_object_object_get_ex(operators, "$regex", NULL))
            return PULP_OK;
        return fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: $options without $regex");
    }
    return fail(compiler, PULP_ERR_UNSUPPORTED_VALUE,
                "invalid criteria: unsupported operator \"%.100s\" on field \"%.200s\"", operator,
                ref->name);
}

/* Returns 1 when an object is an operator document ({"$gt": 1}), 0 when it is a plain value,
 * -1 when it mixes operators and plain keys. */
static int operator_document(json_object *value)
{
    int operators = 0;
    int plain = 0;

    if (!json_object_is_type(value, json_type_object))
        return 0;
    json_object_object_foreach(value, key, member) {
        (void)member;
        if (key[0] == '$')
            operators++;
        else
            plain++;
    }
    if (operators && plain)
        return -1;
    return operators > 0;
}

static pulp_status_t compile_field(compiler_t *compiler, const char *name, json_object *value,
                                   buffer_t *out)
{
    field_ref_t ref;
    int kind;
    int first = 1;

    if (resolve_field(compiler, name, &ref) != PULP_OK)
        return compiler->error->status;

    kind = operator_document(value);
    if (kind < 0)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: field \"%s\" mixes operators and values", name);
    if (kind == 0)
        return compile_equality(compiler, &ref, value, 0, out);

    buffer_append(out, "(");
    json_object_object_foreach(value, operator, operand) {
        if (strcmp(operator, "$options") == 0 && json_object_object_get_ex(value, "$regex", NULL))
            continue;
        if (!first)
            buffer_append(out, " AND ");
        first = 0;
        if (compile_operator(compiler, &ref, operator, operand, value, out) != PULP_OK)
            return compiler->error->status;
    }
    buffer_append(out, ")");
    return PULP_OK;
}

static pulp_status_t compile_filters(compiler_t *compiler, json_object *filters, buffer_t *out);

/* Compiles $and, $or and $nor: a non-empty list of filter documents. */
static pulp_status_t compile_logical(compiler_t *compiler, const char *operator,
                                     json_object *clauses, buffer_t *out)
{
    const char *joiner = strcmp(operator, "$and") == 0 ? " AND " : " OR ";
    size_t n_clauses;

    if (!json_object_is_type(clauses, json_type_array) ||
        json_object_array_length(clauses) == 0)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: %s expects a non-empty list of filters", operator);

    n_clauses = json_object_array_length(clauses);
    buffer_append(out, "%s(", strcmp(operator, "$nor") == 0 ? "NOT " : "");
    for (size_t i = 0; i < n_clauses; i++) {
        if (i > 0)
            buffer_append(out, "%s", joiner);
        if (compile_filters(compiler, json_object_array_get_idx(clauses, i), out) != PULP_OK)
            return compiler->error->status;
    }
    buffer_append(out, ")");
    return PULP_OK;
}

static pulp_status_t compile_filters(compiler_t *compiler, json_object *filters, buffer_t *out)
{
    int first = 1;

    if (!json_object_is_type(filters, json_type_object))
        return fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: filters must be an object");
    if (json_object_object_length(filters) == 0) {
        buffer_append(out, "TRUE");
        return PULP_OK;
    }

    buffer_append(out, "(");
    json_object_object_foreach(filters, key, value) {
        pulp_status_t status;

        if (!first)
            buffer_append(out, " AND ");
        first = 0;

        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 || strcmp(key, "$nor") == 0)
            status = compile_logical(compiler, key, value, out);
        else if (key[0] == '$')
            status = fail(compiler, PULP_ERR_UNSUPPORTED_VALUE,
                          "invalid criteria: unsupported operator \"%.100s\"", key);
        else
            status = compile_field(compiler, key, value, out);
        if (status != PULP_OK)
            return status;
    }
    buffer_append(out, ")");
    return PULP_OK;
}

static int sort_descending(compiler_t *compiler, json_object *direction, int *descending)
{
    if (!direction) {
        *descending = 0;
        return 1;
    }
    if (json_object_is_type(direction, json_type_int)) {
        int64_t number = json_object_get_int64(direction);

        *descending = number < 0;
        return number == 1 || number == -1;
    }
    /* Pulp 2 compares the text without regard to case and also accepts "1" and "-1". */
    if (json_object_is_type(direction, json_type_string)) {
        const char *text = json_object_get_string(direction);

        *descending = strcasecmp(text, "descending") == 0 || strcmp(text, "-1") == 0;
        return *descending || strcasecmp(text, "ascending") == 0 || strcmp(text, "1") == 0;
    }
    fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: unknown sort direction");
    return 0;
}

/* Compiles [["field", "ascending"|"descending"], ...] ("field" alone sorts ascending). */
static pulp_status_t compile_sort(compiler_t *compiler, json_object *sort, buffer_t *out)
{
    if (!json_object_is_type(sort, json_type_array))
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: sort must be a list of [field, direction] pairs");
    if (json_object_array_length(sort) > PULP_CRITERIA_MAX_SORT_KEYS)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: sort has %zu keys, more than the maximum of %d",
                    json_object_array_length(sort), PULP_CRITERIA_MAX_SORT_KEYS);

    for (size_t i = 0; i < json_object_array_length(sort); i++) {
        json_object *entry = json_object_array_get_idx(sort, i);
        json_object *name = entry;
        json_object *direction = NULL;
        field_ref_t ref;
        int descending;

        if (json_object_is_type(entry, json_type_array) &&
            json_object_array_length(entry) >= 1 && json_object_array_length(entry) <= 2) {
            name = json_object_array_get_idx(entry, 0);
            direction = json_object_array_get_idx(entry, 1);
        }
        if (!json_object_is_type(name, json_type_string))
            return fail(compiler, PULP_ERR_INVALID_VALUE,
                        "invalid criteria: sort must be a list of [field, direction] pairs");
        if (resolve_field(compiler, json_object_get_string(name), &ref) != PULP_OK)
            return compiler->error->status;
        if (!sort_descending(compiler, direction, &descending))
            return fail(compiler, PULP_ERR_INVALID_VALUE,
                        "invalid criteria: sort direction of \"%s\" must be \"ascending\" or "
                        "\"descending\" (in any case), or 1 or -1",
                        json_object_get_string(name));

        buffer_append(out, "%s", i == 0 ? "ORDER BY " : ", ");
        append_field(out, &ref, 0);
        buffer_append(out, descending ? " DESC NULLS LAST" : " ASC NULLS FIRST");
    }
    return PULP_OK;
}

/* Reads criteria.key, an integer of at least minimum, as a parameter; *number is its
 * placeholder, or 0 when the key is absent or null. */
static pulp_status_t read_count(compiler_t *compiler, json_object *criteria, const char *key,
                                int64_t minimum, int *number)
{
    const char *expected = minimum > 0 ? "a positive integer" : "a non-negative integer";
    json_object *value = NULL;
    int64_t count;

    *number = 0;
    if (!json_object_object_get_ex(criteria, key, &value) || !value)
        return PULP_OK;
    if (!json_object_is_type(value, json_type_int))
        return fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: %s must be %s", key,
                    expected);
    count = json_object_get_int64(value);
    if (count < minimum)
        return fail(compiler, PULP_ERR_INVALID_VALUE,
                    "invalid criteria: %s must be %s, not %lld", key, expected,
                    (long long)count);

    {
        char text[32];

        snprintf(text, sizeof text, "%lld", (long long)count);
        *number = add_param(compiler, text);
    }
    return *number ? PULP_OK : compiler->error->status;
}

static pulp_status_t compile_limit(compiler_t *compiler, json_object *criteria, buffer_t *out)
{
    int limit;
    int skip;

    /* Pulp 2 rejects a limit of 0, which MongoDB would read as "no limit". */
    if (read_count(compiler, criteria, "limit", 1, &limit) != PULP_OK ||
        read_count(compiler, criteria, "skip", 0, &skip) != PULP_OK)
        return compiler->error->status;
    if (limit)
        buffer_append(out, "LIMIT $%d::bigint", limit);
    if (skip)
        buffer_append(out, "%sOFFSET $%d::bigint", limit ? " " : "", skip);
    return PULP_OK;
}

static pulp_status_t compile_fields(compiler_t *compiler, json_object *criteria,
                                    pulp_criteria_t *result)
{
    json_object *fields = NULL;
    size_t n_fields;

    if (!json_object_object_get_ex(criteria, "fields", &fields) || !fields)
        return PULP_OK;
    if (!json_object_is_type(fields, json_type_array))
        return fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: fields must be a list");

    n_fields = json_object_array_length(fields);
    result->fields = calloc(n_fields + 1, sizeof *result->fields);
    if (!result->fields)
        return fail(compiler, PULP_ERR_INTERNAL, "out of memory");

    for (size_t i = 0; i < n_fields; i++) {
        json_object *name = json_object_array_get_idx(fields, i);
        const char *text = json_object_get_string(name);
        const pulp_criteria_field_t *field;

        if (!json_object_is_type(name, json_type_string) || has_nul(name))
            return fail(compiler, PULP_ERR_INVALID_VALUE,
                        "invalid criteria: fields must be a list of field names");
        for (field = compiler->fields; field->name; field++) {
            if (!is_any_field(field) && strcmp(field->name, text) == 0)
                break;
        }
        /* A projection keeps top-level members only, so a catch-all field takes no path. */
        if (!field->name && find_any_field(compiler->fields) && strchr(text, '.') &&
            pulp_criteria_is_field_path(text))
            return fail(compiler, PULP_ERR_INVALID_VALUE,
                        "invalid criteria: fields lists top-level names, and \"%.200s\" is a "
                        "path", text);
        if (!field->name && !(find_any_field(compiler->fields) &&
                              pulp_criteria_is_field_path(text)))
            return fail_field_name(compiler, text);
        result->fields[result->n_fields] = strdup(text);
        if (!result->fields[result->n_fields])
            return fail(compiler, PULP_ERR_INTERNAL, "out of memory");
        result->n_fields++;
    }
    return PULP_OK;
}

static const char *const known_keys[] = { "filters", "sort", "limit", "skip", "fields", NULL };

static pulp_status_t check_keys(compiler_t *compiler, json_object *criteria)
{
    json_object_object_foreach(criteria, key, value) {
        int known = 0;

        (void)value;
        for (int i = 0; known_keys[i]; i++)
            known = known || strcmp(known_keys[i], key) == 0;
        if (!known)
            return fail(compiler, PULP_ERR_UNSUPPORTED_VALUE,
                        "invalid criteria: unsupported key \"%.100s\"", key);
    }
    return PULP_OK;
}

static pulp_status_t compile_all(compiler_t *compiler, json_object *criteria,
                                 pulp_criteria_t *result)
{
    buffer_t where = { 0 };
    buffer_t order_by = { 0 };
    buffer_t limit = { 0 };
    json_object *filters = NULL;
    json_object *sort = NULL;
    pulp_status_t status = PULP_OK;

    if (criteria && !json_object_is_type(criteria, json_type_object)) {
        status = fail(compiler, PULP_ERR_INVALID_VALUE, "invalid criteria: expected an object");
        goto end;
    }
    if (criteria && check_keys(compiler, criteria) != PULP_OK) {
        status = compiler->error->status;
        goto end;
    }

    if (criteria && json_object_object_get_ex(criteria, "filters", &filters) && filters)
        status = compile_filters(compiler, filters, &where);
    else
        buffer_append(&where, "TRUE");
    if (status == PULP_OK && criteria && json_object_object_get_ex(criteria, "sort", &sort) &&
        sort)
        status = compile_sort(compiler, sort, &order_by);
    if (status == PULP_OK && criteria)
        status = compile_limit(compiler, criteria, &limit);
    if (status == PULP_OK && criteria)
        status = compile_fields(compiler, criteria, result);
    if (status != PULP_OK)
        goto end;

    result->where = buffer_take(&where);
    result->order_by = buffer_take(&order_by);
    result->limit = buffer_take(&limit);
    where.data = order_by.data = limit.data = NULL;
    if (!result->where || !result->order_by || !result->limit)
        status = fail(compiler, PULP_ERR_INTERNAL, "out of memory");

end:
    free(where.data);
    free(order_by.data);
    free(limit.data);
    return status;
}

pulp_criteria_t *pulp_criteria_compile(json_object *criteria, const pulp_criteria_field_t *fields,
                                       int first_param, pulp_error_t *error)
{
    pulp_error_t local_error = PULP_ERROR_INIT;
    compiler_t compiler = { fields, first_param, NULL, 0, 0, 0, error ? error : &local_error };
    pulp_criteria_t *result = calloc(1, sizeof *result);

    if (!result) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (compile_all(&compiler, criteria, result) != PULP_OK) {
        result->params = compiler.params;
        result->n_params = compiler.n_params;
        pulp_criteria_free(result);
        pulp_error_clear(&local_error);
        return NULL;
    }
    result->params = compiler.params;
    result->n_params = compiler.n_params;
    result->has_regex = compiler.has_regex;
    return result;
}

void pulp_criteria_free(pulp_criteria_t *criteria)
{
    if (!criteria)
        return;
    for (int i = 0; i < criteria->n_params; i++)
        free(criteria->params[i]);
    for (int i = 0; i < criteria->n_fields; i++)
        free(criteria->fields[i]);
    free(criteria->params);
    free(criteria->fields);
    free(criteria->where);
    free(criteria->order_by);
    free(criteria->limit);
    free(criteria);
}

const char **pulp_criteria_prepend_params(const pulp_criteria_t *criteria,
                                         const char *const *before, int n_before)
{
    const char **params = calloc((size_t)(n_before + criteria->n_params + 1), sizeof *params);

    if (!params)
        return NULL;
    for (int i = 0; i < n_before; i++)
        params[i] = before[i];
    for (int i = 0; i < criteria->n_params; i++)
        params[n_before + i] = criteria->params[i];
    return params;
}

int pulp_criteria_wants_field(const pulp_criteria_t *criteria, const char *name)
{
    if (criteria->n_fields == 0)
        return 1;
    for (int i = 0; i < criteria->n_fields; i++) {
        if (strcmp(criteria->fields[i], name) == 0)
            return 1;
    }
    return 0;
}
