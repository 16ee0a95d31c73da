/* Unit tests of the criteria compiler: the SQL it writes, its parameters, and what it
 * rejects. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_criteria.h"

static const pulp_criteria_field_t fields[] = {
    { "id", "r.id", PULP_FIELD_TEXT },
    { "count", "r.count", PULP_FIELD_NUMBER },
    { "enabled", "r.enabled", PULP_FIELD_BOOLEAN },
    { "created", "r.created", PULP_FIELD_TIMESTAMP },
    { "tags", "r.tags", PULP_FIELD_TEXT_ARRAY },
    { "notes", "r.notes", PULP_FIELD_JSON },
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

    ck_assert_str_eq(compiled->where, "((((r.notes #>> $1::text[]) ~* $2::text)))");
    ck_assert_str_eq(compiled->params[0], "{\"a\",\"b\"}");
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
    compile_fails("{\"limit\": \"1\"}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"skip\": 1.5}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": [[\"id\", \"up\"]]}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"sort\": \"id\"}", PULP_ERR_INVALID_VALUE);
    compile_fails("{\"colour\": 1}", PULP_ERR_UNSUPPORTED_VALUE);
    compile_fails("[]", PULP_ERR_INVALID_VALUE);
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

static Suite *criteria_suite(void)
{
    Suite *suite = suite_create("criteria");
    TCase *compile = tcase_create("compile");
    TCase *reject = tcase_create("reject");

    tcase_add_test(compile, empty_matches_all);
    tcase_add_test(compile, equality_is_parameter);
    tcase_add_test(compile, first_param_offsets);
    tcase_add_test(compile, operators_compile);
    tcase_add_test(compile, in_and_nin);
    tcase_add_test(compile, logical_operators);
    tcase_add_test(compile, json_path_and_regex);
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
    tcase_add_test(reject, error_names_field);
    suite_add_tcase(suite, compile);
    suite_add_tcase(suite, reject);
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
