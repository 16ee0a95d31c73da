/* Unit tests of the routing table: matching, parameters, 404 and 405, the properties every
 * route must have (a trailing slash, authentication, no duplicate), and the ids that paths and
 * bodies may carry. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "mod_pulp/body.h"
#include "mod_pulp/router.h"

static apr_pool_t *pool;

typedef struct match {
    pulp_route_match_t result;
    const pulp_route_t *route;
    const char *params[8];
    int n_params;
} match_t;

static match_t find(const char *method, const char *path)
{
    match_t match = { 0 };

    match.result = pulp_route_find(method, path, &match.route, match.params, 8, &match.n_params,
                                   pool);
    return match;
}

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

START_TEST(finds_collection)
{
    match_t match = find("GET", "/repositories/");

    ck_assert_int_eq(match.result, PULP_ROUTE_FOUND);
    ck_assert_str_eq(match.route->pattern, "/repositories/");
    ck_assert_int_eq(match.route->operation, PULP_OPERATION_READ);
    ck_assert_int_eq(match.n_params, 0);
}
END_TEST

START_TEST(extracts_params)
{
    match_t match = find("DELETE", "/repositories/zoo/distributors/yum_1/");

    ck_assert_int_eq(match.result, PULP_ROUTE_FOUND);
    ck_assert_int_eq(match.n_params, 2);
    ck_assert_str_eq(match.params[0], "zoo");
    ck_assert_str_eq(match.params[1], "yum_1");
    ck_assert_int_eq(match.route->operation, PULP_OPERATION_DELETE);
}
END_TEST

START_TEST(search_before_id)
{
    match_t match = find("POST", "/repositories/search/");

    ck_assert_int_eq(match.result, PULP_ROUTE_FOUND);
    ck_assert_str_eq(match.route->pattern, "/repositories/search/");
    ck_assert_int_eq(match.route->operation, PULP_OPERATION_READ);
}
END_TEST

START_TEST(method_not_allowed)
{
    ck_assert_int_eq(find("PATCH", "/repositories/").result, PULP_ROUTE_METHOD_NOT_ALLOWED);
    ck_assert_int_eq(find("POST", "/status/").result, PULP_ROUTE_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(allowed_methods)
{
    ck_assert_str_eq(pulp_route_allowed_methods("/repositories/", pool), "GET, POST");
    ck_assert_str_eq(pulp_route_allowed_methods("/repositories/zoo/", pool),
                     "GET, PUT, DELETE");
    ck_assert_ptr_null(pulp_route_allowed_methods("/nothing/", pool));
    /* The path also matches GET /content/units/{type_id}/{unit_id}/. */
    ck_assert_str_eq(pulp_route_allowed_methods("/content/units/rpm/search/", pool),
                     "GET, POST");
}
END_TEST

START_TEST(not_found)
{
    ck_assert_int_eq(find("GET", "/repositories").result, PULP_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/repositories//").result, PULP_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/repositories/zoo").result, PULP_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/").result, PULP_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "").result, PULP_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/nothing/here/").result, PULP_ROUTE_NOT_FOUND);
}
END_TEST

START_TEST(actions_need_execute)
{
    match_t sync = find("POST", "/repositories/zoo/actions/sync/");
    match_t publish = find("POST", "/repositories/zoo/actions/publish/");

    ck_assert_int_eq(sync.result, PULP_ROUTE_FOUND);
    ck_assert_int_eq(sync.route->operation, PULP_OPERATION_EXECUTE);
    ck_assert_int_eq(publish.route->operation, PULP_OPERATION_EXECUTE);
}
END_TEST

START_TEST(patterns_end_in_slash)
{
    for (int i = 0; pulp_route_at(i); i++) {
        const char *pattern = pulp_route_at(i)->pattern;

        ck_assert_msg(pattern[0] == '/' && pattern[strlen(pattern) - 1] == '/', "%s", pattern);
    }
}
END_TEST

START_TEST(only_status_anonymous)
{
    for (int i = 0; pulp_route_at(i); i++) {
        const pulp_route_t *route = pulp_route_at(i);

        if (route->operation != PULP_OPERATION_NONE)
            continue;
        ck_assert_msg(strcmp(route->method, "GET") == 0 &&
                          strcmp(route->pattern, "/status/") == 0,
                      "%s %s needs no authentication", route->method, route->pattern);
    }
}
END_TEST

START_TEST(no_duplicate_routes)
{
    for (int i = 0; pulp_route_at(i); i++) {
        for (int j = i + 1; pulp_route_at(j); j++) {
            const pulp_route_t *a = pulp_route_at(i);
            const pulp_route_t *b = pulp_route_at(j);

            ck_assert_msg(strcmp(a->method, b->method) != 0 || strcmp(a->pattern, b->pattern) != 0,
                          "%s %s is listed twice", a->method, a->pattern);
        }
    }
}
END_TEST

START_TEST(every_route_reachable)
{
    /* A route is unreachable when an earlier pattern of the same method matches all of its
     * paths; substituting a sample value for each {name} finds such shadowing. */
    for (int i = 0; pulp_route_at(i); i++) {
        const pulp_route_t *route = pulp_route_at(i);
        char path[512];
        size_t used = 0;
        match_t match;

        for (const char *c = route->pattern; *c && used < sizeof path - 8; c++) {
            if (*c == '{') {
                memcpy(path + used, "x1y2z3", 6);
                used += 6;
                c = strchr(c, '}');
                continue;
            }
            path[used++] = *c;
        }
        path[used] = '\0';
        match = find(route->method, path);
        ck_assert_int_eq(match.result, PULP_ROUTE_FOUND);
        ck_assert_msg(match.route == route, "%s %s is shadowed by %s", route->method,
                      route->pattern, match.route->pattern);
    }
}
END_TEST

START_TEST(ids_validated)
{
    char longest[257];

    ck_assert(pulp_id_is_valid("zoo"));
    ck_assert(pulp_id_is_valid("a.b-c_D9"));
    ck_assert(pulp_id_is_valid("...x"));
    ck_assert(!pulp_id_is_valid(NULL));
    ck_assert(!pulp_id_is_valid(""));
    ck_assert(!pulp_id_is_valid("."));
    ck_assert(!pulp_id_is_valid(".."));
    ck_assert(!pulp_id_is_valid("../x"));
    ck_assert(!pulp_id_is_valid("a b"));
    ck_assert(!pulp_id_is_valid("a/b"));
    memset(longest, 'a', 256);
    longest[256] = '\0';
    ck_assert(!pulp_id_is_valid(longest));
    longest[255] = '\0';
    ck_assert(pulp_id_is_valid(longest));
}
END_TEST

START_TEST(operation_names)
{
    ck_assert_str_eq(pulp_operation_name(PULP_OPERATION_READ), "READ");
    ck_assert_str_eq(pulp_operation_name(PULP_OPERATION_EXECUTE), "EXECUTE");
    ck_assert_str_eq(pulp_operation_name((pulp_operation_t)99), "NONE");
}
END_TEST

static Suite *router_suite(void)
{
    Suite *suite = suite_create("router");
    TCase *tcase = tcase_create("routes");

    tcase_add_checked_fixture(tcase, setup, teardown);
    tcase_add_test(tcase, finds_collection);
    tcase_add_test(tcase, extracts_params);
    tcase_add_test(tcase, search_before_id);
    tcase_add_test(tcase, method_not_allowed);
    tcase_add_test(tcase, allowed_methods);
    tcase_add_test(tcase, not_found);
    tcase_add_test(tcase, actions_need_execute);
    tcase_add_test(tcase, patterns_end_in_slash);
    tcase_add_test(tcase, only_status_anonymous);
    tcase_add_test(tcase, no_duplicate_routes);
    tcase_add_test(tcase, every_route_reachable);
    tcase_add_test(tcase, ids_validated);
    tcase_add_test(tcase, operation_names);
    suite_add_tcase(suite, tcase);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(router_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
