/* Unit tests of the criteria compiler: the SQL it writes, its parameters, and what it
 * rejects. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_criteria.h"
#include "pulp_unit_criteria.h"

static const pulp_criteria_field_t fields[] = {
    { "id", "r.id", PULP_FIELD_TEXT },
    { "count", "r.count", PULP_FIELD_NUMBER },
    { "enabled", "r.enabled", PULP_FIELD_BOOLEAN },
    { "created", "r.created", PULP_FIELD_TIMESTAMP },
    { "tags", "r.tags", PULP_FIELD_TEXT_ARRAY },
    { "notes", "r.notes", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

/* A document without a fixed schema: any identifier path reaches into u.metadata. */
static const pulp_criteria_field_t open_fields[] = {
    { "_id", "u.id::text", PULP_FIELD_TEXT },
    { PULP_CRITERIA_ANY_FIELD, "u.metadata", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const pulp_criteria_field_t association_fields[] = {
    { "created", "c.created", PULP_FIELD_TIMESTAMP },
    { "owner_type", "c.owner_type", PULP_FIELD_TEXT },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static pulp_criteria_t *compile_text(const char *text, int first_param, pulp_error_t *error)
{
    json_object *criteria = json_tokener_parse(text);
    pulp_criteria_t *compiled;

    ck_assert_ptr_nonnull(criteria);
    compiled = pulp_criteria_compile(criteria, fields, first_param, error);
    json_object_put(criteria);
    return compiled;
}

/* Compiles text, which must be valid criteria. */
static pulp_criteria_t *compile_ok(const char *text)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = compile_text(text, 1, &error);

    ck_assert_msg(compiled != NULL, "%s: %s", text, error.message);
    pulp_error_clear(&error);
    return compiled;
}

/* Compiles text, which must be rejected with status. */
static void compile_fails(const char *text, pulp_status_t status)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = compile_text(text, 1, &error);

    ck_assert_msg(compiled == NULL, "accepted: %s", text);
    ck_assert_int_eq(error.status, status);
    pulp_error_clear(&error);
}

/* Compiles text against open_fields; returns NULL and fills error when it is rejected. */
static pulp_criteria_t *compile_open(const char *text, pulp_error_t *error)
{
    json_object *criteria = json_tokener_parse(text);
    pulp_criteria_t *compiled;

    ck_assert_ptr_nonnull(criteria);
    compiled = pulp_criteria_compile(criteria, open_fields, 1, error);
    json_object_put(criteria);
    return compiled;
}

static void compile_open_fails(const char *text, pulp_status_t status)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = compile_open(text, &error);

    ck_assert_msg(compiled == NULL, "accepted: %s", text);
    ck_assert_int_eq(error.status, status);
    pulp_error_clear(&error);
}

static pulp_unit_criteria_t *compile_unit_text(const char *text, pulp_error_t *error)
{
    json_object *criteria = json_tokener_parse(text);
    pulp_unit_criteria_t *compiled;

    ck_assert_ptr_nonnull(criteria);
    compiled = pulp_unit_criteria_compile(criteria, open_fields, association_fields, 3, error);
    json_object_put(criteria);
    return compiled;
}

static void compile_unit_fails(const char *text, pulp_status_t status)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_unit_criteria_t *compiled = compile_unit_text(text, &error);

    ck_assert_msg(compiled == NULL, "accepted: %s", text);
    ck_assert_int_eq(error.status, status);
    pulp_error_clear(&error);
}

START_TEST(empty_matches_all)
{
    pulp_criteria_t *compiled = pulp_criteria_compile(NULL, fields, 1, NULL);

    ck_assert_str_eq(compiled->where, "TRUE");
    ck_assert_str_eq(compiled->order_by, "");
    ck_assert_str_eq(compiled->limit, "");
    ck_assert_int_eq(compiled->n_params, 0);
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(equality_is_parameter)
{
    pulp_criteria_t *compiled = compile_ok("{\"filters\": {\"id\": \"zoo'; DROP TABLE x\"}}");

    ck_assert_str_eq(compiled->where, "((r.id = $1::text))");
    ck_assert_int_eq(compiled->n_params, 1);
    ck_assert_str_eq(compiled->params[0], "zoo'; DROP TABLE x");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(first_param_offsets)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = compile_text("{\"filters\": {\"id\": \"a\"}, \"limit\": 5}", 3,
                                             &error);

    ck_assert_str_eq(compiled->where, "((r.id = $3::text))");
    ck_assert_str_eq(compiled->limit, "LIMIT $4::bigint");
    ck_assert_str_eq(compiled->params[1], "5");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(operators_compile)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"count\": {\"$gte\": 2, \"$lt\": 9}, \"id\": {\"$ne\": \"x\"}}}");

    ck_assert_str_eq(compiled->where,
                     "(((r.count >= $1::numeric) AND (r.count < $2::numeric)) AND "
                     "((r.id IS DISTINCT FROM $3::text)))");
    ck_assert_str_eq(compiled->params[0], "2");
    ck_assert_str_eq(compiled->params[2], "x");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(in_and_nin)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"id\": {\"$in\": [\"a\", \"b\\\"c\"]}, \"notes.env\": {\"$nin\": [1]}}}");

    ck_assert_str_eq(compiled->where,
                     "((coalesce(r.id = ANY($1::text[]), false)) AND "
                     "(NOT coalesce((r.notes #> $2::text[]) = ANY($3::jsonb[]), false)))");
    ck_assert_str_eq(compiled->params[0], "{\"a\",\"b\\\"c\"}");
    ck_assert_str_eq(compiled->params[1], "{\"env\"}");
    ck_assert_str_eq(compiled->params[2], "{\"1\"}");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(logical_operators)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"$or\": [{\"id\": \"a\"}, {\"$and\": [{\"enabled\": true}]}]}}");

    ck_assert_str_eq(compiled->where,
                     "((((r.id = $1::text)) OR ((((r.enabled = $2::boolean))))))");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(json_path_and_regex)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"notes.a.b\": {\"$regex\": \"^x\", \"$options\": \"i\"}}}");

    ck_assert_str_eq(compiled->where, "(((jsonb_typeof((r.notes #> $1::text[])) = 'string' AND "
                                      "(r.notes #>> $1::text[]) ~* $2::text)))");
    ck_assert_str_eq(compiled->params[0], "{\"a\",\"b\"}");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(json_comparison_checks_type)
{
    pulp_criteria_t *compiled = compile_ok("{\"filters\": {\"notes.a\": {\"$gt\": 5}}}");

    ck_assert_str_eq(compiled->where, "(((jsonb_typeof((r.notes #> $1::text[])) = 'number' AND "
                                      "(r.notes #> $1::text[]) > $2::jsonb)))");
    pulp_criteria_free(compiled);
    compiled = compile_ok("{\"filters\": {\"notes.a\": {\"$lte\": [1]}}}");
    ck_assert_ptr_nonnull(strstr(compiled->where, "= 'array' AND"));
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(array_contains)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"tags\": \"pulp:action:sync\", \"$nor\": [{\"tags\": {\"$all\": [\"a\"]}}]}}");

    ck_assert_str_eq(compiled->where,
                     "(($1::text = ANY(r.tags)) AND NOT ((((r.tags @> $2::text[])))))");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(null_and_exists)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"filters\": {\"notes.x\": null, \"created\": {\"$exists\": false}}}");

    ck_assert_str_eq(compiled->where,
                     "(((r.notes #> $1::text[]) IS NULL OR (r.notes #> $1::text[]) = 'null'::jsonb)"
                     " AND ((r.created IS NULL)))");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(sort_limit_skip)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"sort\": [[\"id\", \"descending\"], [\"count\", 1]], \"limit\": 10, \"skip\": 20}");

    ck_assert_str_eq(compiled->order_by, "ORDER BY r.id DESC NULLS LAST, r.count ASC NULLS FIRST");
    ck_assert_str_eq(compiled->limit, "LIMIT $1::bigint OFFSET $2::bigint");
    ck_assert_str_eq(compiled->params[1], "20");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(fields_projection)
{
    pulp_criteria_t *compiled = compile_ok("{\"fields\": [\"id\", \"notes\"]}");

    ck_assert_int_eq(compiled->n_fields, 2);
    ck_assert(pulp_criteria_wants_field(compiled, "notes"));
    ck_assert(!pulp_criteria_wants_field(compiled, "count"));
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(prepend_params)
{
    pulp_criteria_t *compiled = compile_ok("{\"filters\": {\"id\": \"a\"}}");
    const char *before[] = { "zoo" };
    const char **params = pulp_criteria_prepend_params(compiled, before, 1);

    ck_assert_str_eq(params[0], "zoo");
    ck_assert_str_eq(params[1], "a");
    free(params);
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(rejects_unknown_operator)
{
    compile_fails("{\"filters\": {\"$where\": \"1\"}}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$where\": \"1\"}}}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$elemMatch\": {}}}}", PULP_ERR_UNSUPPORTED_VALUE);
}
END_TEST

START_TEST(rejects_unknown_field)
{
    compile_fails("{\"filters\": {\"name; DROP TABLE x\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id.x\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"notes.\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"notes..a\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": [[\"secret\", \"ascending\"]]}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"fields\": [\"secret\"]}", PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(rejects_wrong_types)
{
    compile_fails("{\"filters\": {\"id\": 5}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"count\": \"5\"}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$in\": \"a\"}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$in\": [1]}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$exists\": 1}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$regex\": 1}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": \"a\\u0000b\"}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$gt\": 1, \"x\": 2}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"$or\": []}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": [1]}", PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(rejects_bad_paging)
{
    compile_fails("{\"limit\": -1}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"limit\": 0}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"limit\": \"1\"}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"skip\": 1.5}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": [[\"id\", \"up\"]]}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": [[\"id\", \"+1\"]]}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": [[\"id\", \"descending \"]]}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": \"id\"}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"colour\": 1}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_fails("[]", PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(sort_direction_spellings)
{
    pulp_criteria_t *compiled = compile_ok(
        "{\"sort\": [[\"id\", \"DESCENDING\"], [\"count\", \"-1\"], [\"id\", \"Ascending\"],"
        " [\"count\", \"1\"]]}");

    ck_assert_str_eq(compiled->order_by, "ORDER BY r.id DESC NULLS LAST, r.count DESC NULLS LAST, "
                                         "r.id ASC NULLS FIRST, r.count ASC NULLS FIRST");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(timestamps_are_iso8601)
{
    static const char *const valid[] = {
        "2026-01-31", "2026-01-31T12:00Z", "2026-01-31 12:00:00", "2026-01-31T12:00:00.5+02:00",
        "2026-01-31T12:00:00-0130", "2026-01-31T12:00:00+02", "2026-01-31T12:00:00Z",
    };
    static const char *const invalid[] = {
        "yesterday", "now", "epoch", "infinity", "Jan 31 2026", "1/2/2026", "2026-01-31T",
        "2026-01-31T12", "2026-01-31T12:00:00.", "2026-01-31T12:00:00Zx", "2026-01-31T12:00+2",
        "2026-01-31T12:00:00 Z", "26-01-31", "",
    };
    char text[256];

    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        pulp_criteria_t *compiled;

        snprintf(text, sizeof text, "{\"filters\": {\"created\": {\"$gt\": \"%s\"}}}", valid[i]);
        compiled = compile_ok(text);
        pulp_criteria_free(compiled);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        snprintf(text, sizeof text, "{\"filters\": {\"created\": \"%s\"}}", invalid[i]);
        compile_fails(text, PULP_ERR_INVALID_VALUE);
    }
}
END_TEST

START_TEST(sort_key_limit)
{
    char text[4096] = "{\"sort\": [";
    pulp_criteria_t *compiled;

    for (int i = 0; i < PULP_CRITERIA_MAX_SORT_KEYS; i++)
        strcat(text, i == 0 ? "\"id\"" : ", \"id\"");
    strcat(text, "]}");
    compiled = compile_ok(text);
    pulp_criteria_free(compiled);

    text[strlen(text) - 2] = '\0';
    strcat(text, ", \"id\"]}");
    compile_fails(text, PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(regex_is_flagged)
{
    pulp_criteria_t *compiled = compile_ok("{\"filters\": {\"id\": \"a\"}}");

    ck_assert_int_eq(compiled->has_regex, 0);
    pulp_criteria_free(compiled);
    compiled = compile_ok("{\"filters\": {\"$or\": [{\"id\": {\"$regex\": \"a\"}}]}}");
    ck_assert_int_eq(compiled->has_regex, 1);
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(rejects_regex_options)
{
    compile_fails("{\"filters\": {\"id\": {\"$regex\": \"a\", \"$options\": \"x\"}}}",
                  PULP_ERR_UNSUPPORTED_VALUE);
    compile_fails("{\"filters\": {\"id\": {\"$options\": \"i\"}}}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"filters\": {\"count\": {\"$regex\": \"1\"}}}", PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(error_names_field)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_ptr_null(compile_text("{\"filters\": {\"colour\": 1}}", 1, &error));
    ck_assert_ptr_nonnull(strstr(error.message, "\"colour\""));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(any_field_is_path)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = compile_open(
        "{\"filters\": {\"name\": \"tapir\", \"requires.0.name\": {\"$regex\": \"^t\"}},"
        " \"sort\": [[\"version\", \"descending\"]], \"fields\": [\"name\", \"_id\"]}", &error);

    ck_assert_msg(compiled != NULL, "%s", error.message);
    ck_assert_str_eq(compiled->where, "(((u.metadata #> $1::text[]) = $2::jsonb) AND "
                                      "((jsonb_typeof((u.metadata #> $3::text[])) = 'string' AND "
                                      "(u.metadata #>> $3::text[]) ~ $4::text)))");
    ck_assert_str_eq(compiled->params[0], "{\"name\"}");
    ck_assert_str_eq(compiled->params[1], "\"tapir\"");
    ck_assert_str_eq(compiled->params[2], "{\"requires\",\"0\",\"name\"}");
    ck_assert_str_eq(compiled->order_by, "ORDER BY (u.metadata #> $5::text[]) DESC NULLS LAST");
    ck_assert_int_eq(compiled->n_fields, 2);
    ck_assert_str_eq(compiled->fields[0], "name");
    ck_assert_str_eq(compiled->fields[1], "_id");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(any_field_listed_first)
{
    pulp_criteria_t *compiled = compile_open("{\"filters\": {\"_id\": \"x\"}}", NULL);

    ck_assert_ptr_nonnull(compiled);
    ck_assert_str_eq(compiled->where, "((u.id::text = $1::text))");
    pulp_criteria_free(compiled);
}
END_TEST

START_TEST(field_path_rules)
{
    ck_assert(pulp_criteria_is_field_path("name"));
    ck_assert(pulp_criteria_is_field_path("key-2a"));
    ck_assert(pulp_criteria_is_field_path("a.b_c.0"));
    ck_assert(!pulp_criteria_is_field_path(""));
    ck_assert(!pulp_criteria_is_field_path("_ns"));
    ck_assert(!pulp_criteria_is_field_path("0name"));
    ck_assert(!pulp_criteria_is_field_path("a..b"));
    ck_assert(!pulp_criteria_is_field_path("a."));
    ck_assert(!pulp_criteria_is_field_path(".a"));
    ck_assert(!pulp_criteria_is_field_path("a'b"));
    ck_assert(!pulp_criteria_is_field_path("a;b"));
    ck_assert(!pulp_criteria_is_field_path("a b"));
    ck_assert(!pulp_criteria_is_field_path("*"));
}
END_TEST

START_TEST(field_path_max_length)
{
    char name[PULP_CRITERIA_MAX_PATH + 2];

    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    ck_assert(!pulp_criteria_is_field_path(name));
    name[PULP_CRITERIA_MAX_PATH] = '\0';
    ck_assert(pulp_criteria_is_field_path(name));
}
END_TEST

START_TEST(rejects_hostile_field_names)
{
    pulp_error_t error = PULP_ERROR_INIT;

    compile_open_fails("{\"filters\": {\"name'; DROP TABLE units; --\": 1}}",
                       PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"filters\": {\"a..b\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"filters\": {\"a\\\"b\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"filters\": {\"*\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"filters\": {\"_storage\": 1}}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"sort\": [[\"a;b\", \"ascending\"]]}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"fields\": [\"a b\"]}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"fields\": [\"a.b\"]}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"fields\": [\"*\"]}", PULP_ERR_INVALID_VALUE);
    compile_open_fails("{\"filters\": {\"name\": {\"$where\": 1}}}", PULP_ERR_UNSUPPORTED_VALUE);

    ck_assert_ptr_null(compile_open("{\"filters\": {\"a;b\": 1}}", &error));
    ck_assert_ptr_nonnull(strstr(error.message, "invalid field name \"a;b\""));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(error_names_path)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_ptr_null(compile_open("{\"filters\": {\"name\": {\"$in\": 1}}}", &error));
    ck_assert_ptr_nonnull(strstr(error.message, "\"name\""));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(rejects_nul_in_json_value)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_ptr_null(compile_open("{\"filters\": {\"name\": \"a\\u0000b\"}}", &error));
    ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "\"name\""));
    pulp_error_clear(&error);
    compile_open_fails("{\"filters\": {\"requires\": {\"$in\": [[{\"n\": \"\\u0000\"}]]}}}",
                       PULP_ERR_INVALID_VALUE);
}
END_TEST

START_TEST(path_too_deep_names_path)
{
    pulp_error_t error = PULP_ERROR_INIT;
    char text[512] = "{\"filters\": {\"a";

    for (int i = 0; i < 64; i++)
        strcat(text, ".b");
    strcat(text, "\": 1}}");
    ck_assert_ptr_null(compile_open(text, &error));
    ck_assert_ptr_nonnull(strstr(error.message, "a.b.b.b"));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(unit_criteria_split)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_unit_criteria_t *compiled = compile_unit_text(
        "{\"type_ids\": [\"rpm\", \"srpm\"],"
        " \"filters\": {\"unit\": {\"name\": \"tapir\"},"
        "             \"association\": {\"owner_type\": \"importer\"}},"
        " \"sort\": {\"unit\": [[\"name\", \"ascending\"]],"
        "          \"association\": [[\"created\", \"descending\"]]},"
        " \"fields\": {\"unit\": [\"name\"], \"association\": [\"created\"]},"
        " \"limit\": 5, \"skip\": 1, \"remove_duplicates\": true}", &error);

    ck_assert_msg(compiled != NULL, "%s", error.message);
    ck_assert_int_eq(compiled->type_ids_param, 3);
    ck_assert_str_eq(compiled->unit->where, "(((u.metadata #> $4::text[]) = $5::jsonb))");
    ck_assert_str_eq(compiled->unit->order_by,
                     "ORDER BY (u.metadata #> $6::text[]) ASC NULLS FIRST");
    ck_assert_str_eq(compiled->unit->limit, "");
    ck_assert_str_eq(compiled->association->where, "((c.owner_type = $7::text))");
    ck_assert_str_eq(compiled->association->order_by, "ORDER BY c.created DESC NULLS LAST");
    ck_assert_str_eq(compiled->association->limit, "LIMIT $8::bigint OFFSET $9::bigint");
    ck_assert_int_eq(compiled->unit->n_fields, 1);
    ck_assert_int_eq(compiled->association->n_fields, 1);
    ck_assert_int_eq(compiled->remove_duplicates, 1);
    ck_assert_int_eq(compiled->n_params, 7);
    ck_assert_str_eq(compiled->params[0], "{\"rpm\",\"srpm\"}");
    ck_assert_str_eq(compiled->params[2], "\"tapir\"");
    ck_assert_str_eq(compiled->params[4], "importer");
    ck_assert_str_eq(compiled->params[6], "1");
    pulp_unit_criteria_free(compiled);
}
END_TEST

START_TEST(unit_criteria_empty)
{
    pulp_unit_criteria_t *compiled = pulp_unit_criteria_compile(NULL, open_fields,
                                                                association_fields, 3, NULL);

    ck_assert_ptr_nonnull(compiled);
    ck_assert_int_eq(compiled->type_ids_param, 0);
    ck_assert_str_eq(compiled->unit->where, "TRUE");
    ck_assert_str_eq(compiled->association->where, "TRUE");
    ck_assert_int_eq(compiled->n_params, 0);
    pulp_unit_criteria_free(compiled);

    compiled = compile_unit_text("{\"type_ids\": []}", NULL);
    ck_assert_ptr_nonnull(compiled);
    ck_assert_int_eq(compiled->type_ids_param, 0);
    pulp_unit_criteria_free(compiled);
}
END_TEST

START_TEST(unit_criteria_rejects)
{
    compile_unit_fails("[]", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"colour\": 1}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_unit_fails("{\"type_ids\": \"rpm\"}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"type_ids\": [1]}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"type_ids\": [\"a\\u0000b\"]}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"filters\": {\"name\": \"tapir\"}}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_unit_fails("{\"filters\": [1]}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"filters\": {\"unit\": [1]}}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"filters\": {\"association\": {\"name\": 1}}}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"filters\": {\"unit\": {\"a;b\": 1}}}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"filters\": {\"unit\": {\"name\": {\"$foo\": 1}}}}",
                       PULP_ERR_UNSUPPORTED_VALUE);
    compile_unit_fails("{\"sort\": [[\"name\", \"ascending\"]]}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"fields\": [\"name\"]}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"limit\": -1}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"skip\": \"1\"}", PULP_ERR_INVALID_VALUE);
    compile_unit_fails("{\"remove_duplicates\": 1}", PULP_ERR_INVALID_VALUE);
}
END_TEST

static Suite *criteria_suite(void)
{
    Suite *suite = suite_create("criteria");
    TCase *compile = tcase_create("compile");
    TCase *reject = tcase_create("reject");
    TCase *any = tcase_create("any_field");
    TCase *units = tcase_create("unit_criteria");

    tcase_add_test(compile, empty_matches_all);
    tcase_add_test(compile, equality_is_parameter);
    tcase_add_test(compile, first_param_offsets);
    tcase_add_test(compile, operators_compile);
    tcase_add_test(compile, in_and_nin);
    tcase_add_test(compile, logical_operators);
    tcase_add_test(compile, json_path_and_regex);
    tcase_add_test(compile, json_comparison_checks_type);
    tcase_add_test(compile, array_contains);
    tcase_add_test(compile, null_and_exists);
    tcase_add_test(compile, sort_limit_skip);
    tcase_add_test(compile, fields_projection);
    tcase_add_test(compile, prepend_params);
    tcase_add_test(reject, rejects_unknown_operator);
    tcase_add_test(reject, rejects_unknown_field);
    tcase_add_test(reject, rejects_wrong_types);
    tcase_add_test(reject, rejects_bad_paging);
    tcase_add_test(reject, rejects_regex_options);
    tcase_add_test(reject, sort_key_limit);
    tcase_add_test(reject, timestamps_are_iso8601);
    tcase_add_test(compile, sort_direction_spellings);
    tcase_add_test(compile, regex_is_flagged);
    tcase_add_test(reject, error_names_field);
    tcase_add_test(any, any_field_is_path);
    tcase_add_test(any, any_field_listed_first);
    tcase_add_test(any, field_path_rules);
    tcase_add_test(any, field_path_max_length);
    tcase_add_test(any, rejects_hostile_field_names);
    tcase_add_test(any, error_names_path);
    tcase_add_test(any, rejects_nul_in_json_value);
    tcase_add_test(any, path_too_deep_names_path);
    tcase_add_test(units, unit_criteria_split);
    tcase_add_test(units, unit_criteria_empty);
    tcase_add_test(units, unit_criteria_rejects);
    suite_add_tcase(suite, compile);
    suite_add_tcase(suite, reject);
    suite_add_tcase(suite, any);
    suite_add_tcase(suite, units);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(criteria_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
