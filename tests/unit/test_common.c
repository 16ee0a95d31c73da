/* Unit tests for the small pieces of common/: UUIDs, errors, SQL array literals, passwords. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "pulp_error.h"
#include "pulp_password.h"
#include "pulp_uuid.h"

START_TEST(uuid_generate_is_valid)
{
    char first[PULP_UUID_LENGTH + 1];
    char second[PULP_UUID_LENGTH + 1];

    ck_assert_int_eq(pulp_uuid_generate(first), 0);
    ck_assert_int_eq(pulp_uuid_generate(second), 0);
    ck_assert(pulp_uuid_is_valid(first));
    ck_assert_str_ne(first, second);
    ck_assert_int_eq(first[14], '4');
}
END_TEST

START_TEST(uuid_rejects_malformed)
{
    ck_assert(!pulp_uuid_is_valid(NULL));
    ck_assert(!pulp_uuid_is_valid(""));
    ck_assert(!pulp_uuid_is_valid("../x"));
    ck_assert(!pulp_uuid_is_valid("0123456789abcdef0123456789abcdef0123"));
    ck_assert(!pulp_uuid_is_valid("01234567-89ab-cdef-0123-456789abcdeg"));
    ck_assert(pulp_uuid_is_valid("01234567-89AB-cdef-0123-456789abcdef"));
}
END_TEST

START_TEST(text_array_escapes_quotes)
{
    const char *items[] = { "repository:zoo", "a\"b", "c\\d", "" };
    char *literal = pulp_db_text_array(items, 4);

    ck_assert_str_eq(literal, "{\"repository:zoo\",\"a\\\"b\",\"c\\\\d\",\"\"}");
    free(literal);
}
END_TEST

START_TEST(text_array_empty)
{
    char *literal = pulp_db_text_array(NULL, 0);

    ck_assert_str_eq(literal, "{}");
    free(literal);
}
END_TEST

START_TEST(status_codes_and_http)
{
    ck_assert_str_eq(pulp_status_code(PULP_ERR_MISSING_RESOURCE), "PLP0009");
    ck_assert_int_eq(pulp_status_http(PULP_ERR_MISSING_RESOURCE), 404);
    ck_assert_str_eq(pulp_status_code(PULP_ERR_DUPLICATE_RESOURCE), "PLP0018");
    ck_assert_int_eq(pulp_status_http(PULP_ERR_DUPLICATE_RESOURCE), 409);
    ck_assert_str_eq(pulp_status_code(PULP_ERR_INPUT_ENCODING), "PLP0019");
    ck_assert_int_eq(pulp_status_http(PULP_ERR_UNAVAILABLE), 503);
    ck_assert_str_eq(pulp_status_code((pulp_status_t)999), "PLP0000");
}
END_TEST

START_TEST(sqlstate_maps_to_status)
{
    ck_assert_int_eq(pulp_db_status_from_sqlstate("23505"), PULP_ERR_DUPLICATE_RESOURCE);
    ck_assert_int_eq(pulp_db_status_from_sqlstate("23503"), PULP_ERR_MISSING_RESOURCE);
    ck_assert_int_eq(pulp_db_status_from_sqlstate("22P02"), PULP_ERR_INVALID_VALUE);
    ck_assert_int_eq(pulp_db_status_from_sqlstate("08006"), PULP_ERR_UNAVAILABLE);
    ck_assert_int_eq(pulp_db_status_from_sqlstate("57P01"), PULP_ERR_UNAVAILABLE);
    ck_assert_int_eq(pulp_db_status_from_sqlstate("42601"), PULP_ERR_INTERNAL);
}
END_TEST

START_TEST(error_set_formats_message)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(pulp_error_set(&error, PULP_ERR_INVALID_VALUE, "invalid id \"%s\"", "../x"),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_str_eq(error.message, "invalid id \"../x\"");
    pulp_error_add_data(&error, "resource_id", json_object_new_string("../x"));
    ck_assert_ptr_nonnull(error.data);
    pulp_error_clear(&error);
    ck_assert_ptr_null(error.data);
    ck_assert_int_eq(error.status, PULP_OK);
}
END_TEST

START_TEST(password_hash_verifies)
{
    char hash[256];

    ck_assert_int_eq(pulp_password_hash("correct horse", hash, sizeof hash), 0);
    ck_assert(strncmp(hash, "$y$", 3) == 0);
    ck_assert(pulp_password_verify("correct horse", hash));
    ck_assert(!pulp_password_verify("correct horsE", hash));
    ck_assert(!pulp_password_verify("", hash));
    ck_assert(!pulp_password_verify("correct horse", ""));
}
END_TEST

START_TEST(password_hashes_are_salted)
{
    char first[256];
    char second[256];

    ck_assert_int_eq(pulp_password_hash("same", first, sizeof first), 0);
    ck_assert_int_eq(pulp_password_hash("same", second, sizeof second), 0);
    ck_assert_str_ne(first, second);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *suite = suite_create("common");
    TCase *tcase = tcase_create("core");

    tcase_add_test(tcase, uuid_generate_is_valid);
    tcase_add_test(tcase, uuid_rejects_malformed);
    tcase_add_test(tcase, text_array_escapes_quotes);
    tcase_add_test(tcase, text_array_empty);
    tcase_add_test(tcase, status_codes_and_http);
    tcase_add_test(tcase, sqlstate_maps_to_status);
    tcase_add_test(tcase, error_set_formats_message);
    tcase_add_test(tcase, password_hash_verifies);
    tcase_add_test(tcase, password_hashes_are_salted);
    suite_add_tcase(suite, tcase);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(common_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
