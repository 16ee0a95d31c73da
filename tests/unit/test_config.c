/* Unit tests of the configuration checks: the table-driven checker, relative paths, merging,
 * and each registered importer and distributor type through the registry. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_config_check.h"
#include "pulp_plugins.h"

static pulp_status_t check_importer(const char *type_id, const char *config_text,
                                    pulp_error_t *error)
{
    const pulp_importer_type_t *type = pulp_importer_type_find(type_id);
    json_object *config = json_tokener_parse(config_text);
    pulp_status_t status;

    ck_assert_ptr_nonnull(type);
    ck_assert_ptr_nonnull(config);
    status = type->validate_config(config, error);
    json_object_put(config);
    return status;
}

static pulp_status_t check_distributor(const char *type_id, const char *config_text,
                                       pulp_error_t *error)
{
    const pulp_distributor_type_t *type = pulp_distributor_type_find(type_id);
    json_object *config = json_tokener_parse(config_text);
    pulp_status_t status;

    ck_assert_ptr_nonnull(type);
    ck_assert_ptr_nonnull(config);
    status = type->validate_config(config, error);
    json_object_put(config);
    return status;
}

/* Returns the single name in the error's property_names. */
static const char *property_name(const pulp_error_t *error)
{
    json_object *names = NULL;

    ck_assert_ptr_nonnull(error->data);
    ck_assert(json_object_object_get_ex(error->data, "property_names", &names));
    ck_assert_int_eq((int)json_object_array_length(names), 1);
    return json_object_get_string(json_object_array_get_idx(names, 0));
}

START_TEST(registry_lists_types)
{
    ck_assert_ptr_nonnull(pulp_importer_type_find("yum_importer"));
    ck_assert_ptr_nonnull(pulp_importer_type_find("iso_importer"));
    ck_assert_ptr_nonnull(pulp_importer_type_find("puppet_importer"));
    ck_assert_ptr_nonnull(pulp_distributor_type_find("yum_distributor"));
    ck_assert_ptr_nonnull(pulp_distributor_type_find("iso_distributor"));
    ck_assert_ptr_nonnull(pulp_distributor_type_find("puppet_distributor"));
    ck_assert_ptr_nonnull(pulp_distributor_type_find("puppet_install_distributor"));
    ck_assert_ptr_nonnull(pulp_content_type_find("rpm"));
    ck_assert_ptr_nonnull(pulp_content_type_find("iso"));
    ck_assert_ptr_nonnull(pulp_content_type_find("puppet_module"));
    ck_assert_ptr_null(pulp_importer_type_find("nope"));
    ck_assert_ptr_null(pulp_content_type_find(NULL));
}
END_TEST

START_TEST(registry_iterates_all)
{
    int count = 0;

    while (pulp_content_type_at(count))
        count++;
    ck_assert_int_ge(count, 3);
    ck_assert_ptr_null(pulp_content_type_at(-1));
    ck_assert_ptr_null(pulp_importer_type_at(3));
    ck_assert_ptr_nonnull(pulp_distributor_type_at(3));
}
END_TEST

START_TEST(registry_ids_unique)
{
    for (int i = 0; pulp_content_type_at(i); i++) {
        for (int j = i + 1; pulp_content_type_at(j); j++)
            ck_assert_str_ne(pulp_content_type_at(i)->id, pulp_content_type_at(j)->id);
    }
    for (int i = 0; pulp_distributor_type_at(i); i++) {
        for (int j = i + 1; pulp_distributor_type_at(j); j++)
            ck_assert_str_ne(pulp_distributor_type_at(i)->id, pulp_distributor_type_at(j)->id);
    }
}
END_TEST

START_TEST(plugin_types_are_registered)
{
    for (int i = 0; pulp_importer_type_at(i); i++) {
        const pulp_importer_type_t *type = pulp_importer_type_at(i);

        for (int k = 0; type->content_types[k]; k++)
            ck_assert_msg(pulp_content_type_find(type->content_types[k]) != NULL, "%s: %s",
                          type->id, type->content_types[k]);
    }
}
END_TEST

START_TEST(relative_path_safe)
{
    ck_assert(pulp_config_relative_path_is_safe("zoo", 3));
    ck_assert(pulp_config_relative_path_is_safe("a/b/c/", 6));
    ck_assert(pulp_config_relative_path_is_safe("a..b/.c", 7));
}
END_TEST

START_TEST(relative_path_unsafe)
{
    ck_assert(!pulp_config_relative_path_is_safe("", 0));
    ck_assert(!pulp_config_relative_path_is_safe("..", 2));
    ck_assert(!pulp_config_relative_path_is_safe("a/../b", 6));
    ck_assert(!pulp_config_relative_path_is_safe("a/..", 4));
    ck_assert(!pulp_config_relative_path_is_safe("./a", 3));
    ck_assert(!pulp_config_relative_path_is_safe("/abs", 4));
    ck_assert(!pulp_config_relative_path_is_safe("a//b", 4));
    ck_assert(!pulp_config_relative_path_is_safe("a\\b", 3));
    ck_assert(!pulp_config_relative_path_is_safe("a\nb", 3));
    ck_assert(!pulp_config_relative_path_is_safe("a\0b", 3));
}
END_TEST

START_TEST(merge_removes_nulls)
{
    json_object *base = json_tokener_parse("{\"a\": 1, \"b\": 2}");
    json_object *delta = json_tokener_parse("{\"b\": null, \"c\": 3}");
    json_object *merged = pulp_config_merge(base, delta);

    ck_assert_str_eq(json_object_to_json_string_ext(merged, JSON_C_TO_STRING_PLAIN),
                     "{\"a\":1,\"c\":3}");
    json_object_put(base);
    json_object_put(delta);
    json_object_put(merged);
}
END_TEST

START_TEST(yum_importer_accepts)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("yum_importer",
                                    "{\"feed\": \"https://example.test/repo/\", \"validate\": "
                                    "\"false\", \"max_downloads\": \"4\", \"type_skip_list\": "
                                    "[\"erratum\"], \"remove_missing\": true}",
                                    &error),
                     PULP_OK);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(yum_importer_rejects)
{
    static const struct {
        const char *config;
        const char *key;
    } cases[] = {
        { "{\"feed\": 5}", "feed" },
        { "{\"feed\": \"not a url\"}", "feed" },
        { "{\"max_downloads\": 0}", "max_downloads" },
        { "{\"validate\": \"maybe\"}", "validate" },
        { "{\"proxy_port\": 70000}", "proxy_port" },
        { "{\"type_skip_list\": [\"cheese\"]}", "type_skip_list" },
        { "{\"fed\": \"http://x/\"}", "fed" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_int_ne(check_importer("yum_importer", cases[i].config, &error), PULP_OK);
        ck_assert_str_eq(property_name(&error), cases[i].key);
        pulp_error_clear(&error);
    }
}
END_TEST

START_TEST(yum_distributor_requires)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_distributor("yum_distributor", "{\"http\": true, \"https\": false}",
                                       &error),
                     PULP_ERR_MISSING_VALUE);
    ck_assert_str_eq(property_name(&error), "relative_url");
    pulp_error_clear(&error);
}
END_TEST

START_TEST(yum_distributor_rejects_escape)
{
    static const char *const configs[] = {
        "{\"relative_url\": \"../x\", \"http\": true, \"https\": false}",
        "{\"relative_url\": \"/etc\", \"http\": true, \"https\": false}",
        "{\"relative_url\": \"a\\u0000b\", \"http\": true, \"https\": false}",
    };

    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_int_eq(check_distributor("yum_distributor", configs[i], &error),
                         PULP_ERR_INVALID_VALUE);
        ck_assert_str_eq(property_name(&error), "relative_url");
        pulp_error_clear(&error);
    }
}
END_TEST

START_TEST(iso_configs)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("iso_importer", "{\"feed\": \"file:///srv/iso/\"}", &error),
                     PULP_OK);
    ck_assert_int_eq(check_distributor("iso_distributor", "{\"serve_http\": true}", &error),
                     PULP_OK);
    ck_assert_int_eq(check_distributor("iso_distributor", "{\"relative_url\": \"x\"}", &error),
                     PULP_ERR_UNSUPPORTED_VALUE);
    ck_assert_str_eq(property_name(&error), "relative_url");
    pulp_error_clear(&error);
}
END_TEST

START_TEST(puppet_configs)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("puppet_importer",
                                    "{\"feed\": \"http://forge.test/\", \"queries\": [\"ntp\"]}",
                                    &error),
                     PULP_OK);
    ck_assert_int_eq(check_distributor("puppet_install_distributor", "{}", &error),
                     PULP_ERR_MISSING_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("puppet_install_distributor",
                                       "{\"install_path\": \"/etc/puppet/../../x\"}", &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
    ck_assert_int_eq(check_distributor("puppet_distributor", "{\"absolute_path\": \"rel\"}",
                                       &error),
                     PULP_ERR_INVALID_VALUE);
    pulp_error_clear(&error);
}
END_TEST

START_TEST(null_removes_optional)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(check_importer("iso_importer", "{\"feed\": null}", &error), PULP_OK);
    ck_assert_int_eq(check_distributor("puppet_install_distributor", "{\"install_path\": null}",
                                       &error),
                     PULP_ERR_MISSING_VALUE);
    pulp_error_clear(&error);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *registry = tcase_create("registry");
    TCase *checks = tcase_create("checks");

    tcase_add_test(registry, registry_lists_types);
    tcase_add_test(registry, registry_iterates_all);
    tcase_add_test(registry, registry_ids_unique);
    tcase_add_test(registry, plugin_types_are_registered);
    tcase_add_test(checks, relative_path_safe);
    tcase_add_test(checks, relative_path_unsafe);
    tcase_add_test(checks, merge_removes_nulls);
    tcase_add_test(checks, yum_importer_accepts);
    tcase_add_test(checks, yum_importer_rejects);
    tcase_add_test(checks, yum_distributor_requires);
    tcase_add_test(checks, yum_distributor_rejects_escape);
    tcase_add_test(checks, iso_configs);
    tcase_add_test(checks, puppet_configs);
    tcase_add_test(checks, null_removes_optional);
    suite_add_tcase(suite, registry);
    suite_add_tcase(suite, checks);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(config_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
