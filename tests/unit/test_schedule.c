/* Unit tests for ISO 8601 repeating intervals and the run times of their grid. Epoch seconds
 * in the expectations were computed with Python's calendar.timegm. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_schedule.h"

#define JAN_1_2026_0300 INT64_C(1767236400)
#define JAN_31_2026_0300 INT64_C(1769828400)

static pulp_schedule_t parse_ok(const char *text)
{
    pulp_schedule_t schedule;
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_msg(pulp_schedule_parse(text, &schedule, &error) == PULP_OK, "%s: %s", text,
                  error.message);
    pulp_error_clear(&error);
    return schedule;
}

/* Checks that text is rejected with a message that contains expected. */
static void assert_rejected(const char *text, const char *expected)
{
    pulp_schedule_t schedule;
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_msg(pulp_schedule_parse(text, &schedule, &error) == PULP_ERR_INVALID_VALUE,
                  "%s was accepted", text);
    ck_assert_msg(strstr(error.message, expected) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  text, error.message, expected);
    pulp_error_clear(&error);
}

START_TEST(parse_hours_without_start)
{
    pulp_schedule_t schedule = parse_ok("PT6H");

    ck_assert_int_eq(schedule.runs, -1);
    ck_assert_int_eq(schedule.has_start, 0);
    ck_assert_int_eq(schedule.months, 0);
    ck_assert_int_eq(schedule.seconds, 6 * 3600);
}
END_TEST

START_TEST(parse_days_and_time)
{
    ck_assert_int_eq(parse_ok("P1DT12H").seconds, 36 * 3600);
    ck_assert_int_eq(parse_ok("PT30S").seconds, 30);
    ck_assert_int_eq(parse_ok("PT1H2M3S").seconds, 3723);
    ck_assert_int_eq(parse_ok("P2W").seconds, 14 * 86400);
    ck_assert_int_eq(parse_ok("P1W2D").seconds, 9 * 86400);
}
END_TEST

START_TEST(parse_runs_start_duration)
{
    pulp_schedule_t schedule = parse_ok("R5/2026-01-01T03:00:00Z/P1D");

    ck_assert_int_eq(schedule.runs, 5);
    ck_assert_int_eq(schedule.has_start, 1);
    ck_assert_int_eq(schedule.start, JAN_1_2026_0300);
    ck_assert_int_eq(schedule.seconds, 86400);
}
END_TEST

START_TEST(parse_unbounded_runs)
{
    pulp_schedule_t schedule = parse_ok("R/PT1H");

    ck_assert_int_eq(schedule.runs, -1);
    ck_assert_int_eq(schedule.has_start, 0);
    ck_assert_int_eq(parse_ok("R2147483647/PT1H").runs, 2147483647);
}
END_TEST

START_TEST(parse_start_forms)
{
    ck_assert_int_eq(parse_ok("2026-01-01T03:00:00+01:00/PT1H").start, INT64_C(1767232800));
    ck_assert_int_eq(parse_ok("2026-01-01T03:00:00-0530/PT1H").start, INT64_C(1767256200));
    ck_assert_int_eq(parse_ok("2026-01-01T03:00:00-05:30/PT1H").start, INT64_C(1767256200));
    ck_assert_int_eq(parse_ok("2026-01-01T03:00:00.75Z/PT1H").start, JAN_1_2026_0300);
    ck_assert_int_eq(parse_ok("2026-01-01T03:00Z/PT1H").start, JAN_1_2026_0300);
    ck_assert_int_eq(parse_ok("2026-01-01T03:00:00/PT1H").start, JAN_1_2026_0300);
    ck_assert_int_eq(parse_ok("2026-01-01/PT1H").start, JAN_1_2026_0300 - 3 * 3600);
    ck_assert_int_eq(parse_ok("1969-12-31T23:00:00Z/PT1H").start, -3600);
    ck_assert_int_eq(parse_ok("2024-02-29T00:00:00Z/P1Y").start, INT64_C(1709164800));
}
END_TEST

START_TEST(parse_years_and_months_with_start)
{
    pulp_schedule_t schedule = parse_ok("2026-01-31T03:00:00Z/P1Y2M3D");

    ck_assert_int_eq(schedule.months, 14);
    ck_assert_int_eq(schedule.seconds, 3 * 86400);
}
END_TEST

START_TEST(reject_missing_or_zero_duration)
{
    assert_rejected(NULL, "empty");
    assert_rejected("", "empty");
    assert_rejected("P", "no value");
    assert_rejected("PT", "no value");
    assert_rejected("P1DT", "no value");
    assert_rejected("P0D", "longer than zero");
    assert_rejected("PT0S", "longer than zero");
    assert_rejected("R3/2026-01-01T00:00:00Z/P0Y0M", "longer than zero");
    assert_rejected("R3", "must start with P");
    assert_rejected("2026-01-01T00:00:00Z", "must start with P");
}
END_TEST

START_TEST(reject_empty_parts)
{
    assert_rejected("R3/PT10S/", "a part is empty");
    assert_rejected("R3//PT10S", "a part is empty");
    assert_rejected("/PT10S", "a part is empty");
}
END_TEST

START_TEST(reject_months_without_start)
{
    assert_rejected("P1M", "needs a start");
    assert_rejected("P1Y", "needs a start");
    assert_rejected("R2/P1Y", "needs a start");
}
END_TEST

START_TEST(reject_malformed_durations)
{
    assert_rejected("PT1.5H", "fractions");
    assert_rejected("PT1,5H", "fractions");
    assert_rejected("PT1M1H", "in that order");
    assert_rejected("P1D1D", "in that order");
    assert_rejected("P1H", "in that order");
    assert_rejected("PT1D", "in that order");
    assert_rejected("P-1D", "in that order");
    assert_rejected("P1", "in that order");
    assert_rejected("1H", "must start with P");
    assert_rejected("PT1234567890123S", "in that order");
    assert_rejected("2026-01-01T00:00:00Z/P1001Y", "longer than 1000 years");
    assert_rejected("PT999999999999H", "longer than 1000 years");
}
END_TEST

START_TEST(reject_malformed_runs)
{
    assert_rejected("R0/PT1H", "R0");
    assert_rejected("Rx/PT1H", "whole number");
    assert_rejected("R-1/PT1H", "whole number");
    assert_rejected("R2147483648/PT1H", "whole number");
}
END_TEST

START_TEST(reject_malformed_starts)
{
    assert_rejected("2026-13-01T00:00:00Z/PT1H", "valid date");
    assert_rejected("2026-02-29T00:00:00Z/PT1H", "valid date");
    assert_rejected("0000-01-01T00:00:00Z/PT1H", "valid date");
    assert_rejected("26-01-01T00:00:00Z/PT1H", "valid date");
    assert_rejected("2026-01-01T24:00:00Z/PT1H", "time must be");
    assert_rejected("2026-01-01T03:60:00Z/PT1H", "time must be");
    assert_rejected("2026-01-01T03:00:60Z/PT1H", "time must be");
    assert_rejected("2026-01-01T03/PT1H", "time must be");
    assert_rejected("2026-01-01T03:00:00X/PT1H", "time must be");
    assert_rejected("2026-01-01T03:00:00+24:00/PT1H", "time must be");
    assert_rejected("2026-01-01T03:00:00Z1/PT1H", "time must be");
    assert_rejected("2026-01-01x/PT1H", "date and time");
    assert_rejected("PT1H/PT1H", "valid date");
}
END_TEST

START_TEST(reject_extra_parts)
{
    assert_rejected("R2/2026-01-01T00:00:00Z/PT1H/PT1H", "more than three parts");
    assert_rejected("2026-01-01T00:00:00Z/2026-01-02T00:00:00Z/PT1H",
                    "only an R<n> part and a start");
    assert_rejected("R2/PT1H/2026-01-01T00:00:00Z", "valid date");
}
END_TEST

START_TEST(next_run_fixed_grid)
{
    pulp_schedule_t schedule = parse_ok("PT10S");

    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 1000, 999), 1000);
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 1000, 1000), 1010);
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 1000, 1005), 1010);
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 1000, 1010), 1020);
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 1000, 1019), 1020);
}
END_TEST

/* After a long pause the next run is the first grid point after now, not the missed ones. */
START_TEST(next_run_after_downtime)
{
    pulp_schedule_t schedule = parse_ok("PT6H");

    ck_assert_int_eq(pulp_schedule_next_run(&schedule, 0, 100000), 5 * 21600);
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, JAN_1_2026_0300,
                                            JAN_1_2026_0300 + 30 * 86400 + 1),
                     JAN_1_2026_0300 + 30 * 86400 + 21600);
}
END_TEST

START_TEST(next_run_months_clamp_to_month_end)
{
    pulp_schedule_t schedule = parse_ok("2026-01-31T03:00:00Z/P1M");

    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 0), JAN_31_2026_0300);
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 1), INT64_C(1772247600));
    /* Run 2 counts from January 31, so it is March 31, not March 28. */
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 2), INT64_C(1774926000));
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, INT64_C(1772323200)),
                     INT64_C(1774926000));
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 13), INT64_C(1803783600));
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 25), INT64_C(1835406000));
}
END_TEST

START_TEST(next_run_years_from_leap_day)
{
    pulp_schedule_t schedule = parse_ok("2024-02-29T00:00:00Z/P1Y");

    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start),
                     INT64_C(1740700800));
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, 4), INT64_C(1835395200));
}
END_TEST

START_TEST(next_run_months_with_days)
{
    pulp_schedule_t schedule = parse_ok("2026-01-31T03:00:00Z/P1MT1H");

    /* Run 1: February 28 03:00 plus one hour. */
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start),
                     INT64_C(1772247600) + 3600);
}
END_TEST

START_TEST(next_run_past_maximum)
{
    pulp_schedule_t schedule = parse_ok("9999-12-01T00:00:00Z/P1M");

    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start - 1),
                     INT64_C(253399622400));
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start),
                     PULP_SCHEDULE_NO_RUN);
    schedule = parse_ok("9999-12-31T23:00:00Z/PT2H");
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start),
                     PULP_SCHEDULE_NO_RUN);
    ck_assert_int_eq(pulp_schedule_run_time(&schedule, schedule.start, -1),
                     PULP_SCHEDULE_NO_RUN);
}
END_TEST

/* Times before 1970 are negative and are valid runs, not the PULP_SCHEDULE_NO_RUN marker. */
START_TEST(next_run_before_1970)
{
    pulp_schedule_t schedule = parse_ok("1013-01-31T01:00:00Z/P1MT1S");

    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start + 1),
                     pulp_schedule_run_time(&schedule, schedule.start, 1));
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start,
                                            pulp_schedule_run_time(&schedule, schedule.start, 2)),
                     pulp_schedule_run_time(&schedule, schedule.start, 3));
    ck_assert_int_lt(pulp_schedule_run_time(&schedule, schedule.start, 3), 0);
    schedule = parse_ok("1969-12-31T23:59:58Z/PT1S");
    ck_assert_int_eq(pulp_schedule_next_run(&schedule, schedule.start, schedule.start), -1);
}
END_TEST

static Suite *schedule_suite(void)
{
    Suite *suite = suite_create("schedule");
    TCase *parse = tcase_create("parse");
    TCase *grid = tcase_create("grid");

    tcase_add_test(parse, parse_hours_without_start);
    tcase_add_test(parse, parse_days_and_time);
    tcase_add_test(parse, parse_runs_start_duration);
    tcase_add_test(parse, parse_unbounded_runs);
    tcase_add_test(parse, parse_start_forms);
    tcase_add_test(parse, parse_years_and_months_with_start);
    tcase_add_test(parse, reject_missing_or_zero_duration);
    tcase_add_test(parse, reject_empty_parts);
    tcase_add_test(parse, reject_months_without_start);
    tcase_add_test(parse, reject_malformed_durations);
    tcase_add_test(parse, reject_malformed_runs);
    tcase_add_test(parse, reject_malformed_starts);
    tcase_add_test(parse, reject_extra_parts);
    suite_add_tcase(suite, parse);

    tcase_add_test(grid, next_run_fixed_grid);
    tcase_add_test(grid, next_run_after_downtime);
    tcase_add_test(grid, next_run_months_clamp_to_month_end);
    tcase_add_test(grid, next_run_years_from_leap_day);
    tcase_add_test(grid, next_run_months_with_days);
    tcase_add_test(grid, next_run_past_maximum);
    tcase_add_test(grid, next_run_before_1970);
    suite_add_tcase(suite, grid);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(schedule_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
