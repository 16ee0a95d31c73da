/* Unit tests for pulp-worker's settings (file and options) and the reconnect back-off. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulp_backoff.h"
#include "pulp_worker_config.h"

/* Writes text to a new temporary file and returns its path (static buffer). */
static const char *write_temp_file(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof path, "/tmp/pulp-worker-config-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

START_TEST(config_defaults)
{
    pulp_worker_config_t config;

    pulp_worker_config_init(&config);
    ck_assert_ptr_null(config.database);
    ck_assert_str_eq(config.broker, "amqp://127.0.0.1:5672");
    ck_assert_str_eq(config.queue, "pulp.tasks");
    ck_assert_str_eq(config.storage_dir, "/var/lib/pulp");
    ck_assert_int_eq(config.concurrency, 2);
    ck_assert_int_eq(config.diagnostic_tasks, 0);
    ck_assert_int_eq(config.heartbeat_interval, 15);
    ck_assert_int_eq(config.shutdown_grace, 30);
    ck_assert_int_eq(config.cancel_grace, 10);
    ck_assert_int_eq(config.completed_task_max_age, 7L * 86400);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_sets_each_key)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_set(&config, "database", "dbname=pulp", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "broker", "amqps://b:5671", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "queue", "q", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "storage_dir", "/srv/p", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "name", "w1", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "concurrency", "8", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "diagnostic_tasks", "On", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "log_level", "debug", &error), PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "heartbeat_interval", "1m", &error),
                     PULP_OK);
    ck_assert_int_eq(pulp_worker_config_set(&config, "completed_task_max_age", "2d", &error),
                     PULP_OK);
    ck_assert_str_eq(config.database, "dbname=pulp");
    ck_assert_str_eq(config.broker, "amqps://b:5671");
    ck_assert_str_eq(config.queue, "q");
    ck_assert_str_eq(config.storage_dir, "/srv/p");
    ck_assert_str_eq(config.name, "w1");
    ck_assert_int_eq(config.concurrency, 8);
    ck_assert_int_eq(config.diagnostic_tasks, 1);
    ck_assert_int_eq(config.log_level, PULP_LOG_DEBUG);
    ck_assert_int_eq(config.heartbeat_interval, 60);
    ck_assert_int_eq(config.completed_task_max_age, 2L * 86400);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_rejects_invalid_values)
{
    static const char *const cases[][2] = {
        { "concurrency", "0" },
        { "concurrency", "257" },
        { "concurrency", "two" },
        { "concurrency", "" },
        { "diagnostic_tasks", "maybe" },
        { "log_level", "loud" },
        { "broker", "http://127.0.0.1:5672" },
        { "storage_dir", "relative/path" },
        { "shutdown_grace", "-1" },
        { "cancel_grace", "5x" },
        { "database", "" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pulp_worker_config_t config;
        pulp_error_t error = PULP_ERROR_INIT;
        pulp_status_t status;

        pulp_worker_config_init(&config);
        status = pulp_worker_config_set(&config, cases[i][0], cases[i][1], &error);
        ck_assert_msg(status != PULP_OK, "%s = \"%s\" was accepted", cases[i][0], cases[i][1]);
        ck_assert_msg(strstr(error.message, cases[i][0]) != NULL,
                      "the message \"%s\" does not name \"%s\"", error.message, cases[i][0]);
        pulp_error_clear(&error);
        pulp_worker_config_free(&config);
    }
}
END_TEST

START_TEST(config_rejects_unknown_key)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_set(&config, "concurency", "2", &error),
                     PULP_ERR_UNSUPPORTED_VALUE);
    ck_assert_str_eq(error.message, "unknown setting \"concurency\"");
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(duration_units)
{
    long seconds = 0;

    ck_assert_int_eq(pulp_duration_parse("90", &seconds), 0);
    ck_assert_int_eq(seconds, 90);
    ck_assert_int_eq(pulp_duration_parse("90s", &seconds), 0);
    ck_assert_int_eq(seconds, 90);
    ck_assert_int_eq(pulp_duration_parse("15m", &seconds), 0);
    ck_assert_int_eq(seconds, 900);
    ck_assert_int_eq(pulp_duration_parse("2h", &seconds), 0);
    ck_assert_int_eq(seconds, 7200);
    ck_assert_int_eq(pulp_duration_parse("7d", &seconds), 0);
    ck_assert_int_eq(seconds, 604800);
}
END_TEST

START_TEST(duration_rejects_malformed)
{
    static const char *const cases[] = { "", "0", "-5", "5x", "m", "5 m", "5mm", " 5",
                                         "99999999999999999999" };
    long seconds = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(pulp_duration_parse(cases[i], &seconds) != 0, "\"%s\" was accepted",
                      cases[i]);
}
END_TEST

START_TEST(config_file_is_read)
{
    const char *path = write_temp_file("# comment\n"
                                       "\n"
                                       "   database = host=db port=5432 dbname=pulp  \n"
                                       "concurrency=3\n"
                                       "\t# indented comment\n");
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_read(&config, path, &error), PULP_OK);
    ck_assert_str_eq(config.database, "host=db port=5432 dbname=pulp");
    ck_assert_int_eq(config.concurrency, 3);
    ck_assert_int_eq(pulp_worker_config_check(&config, &error), PULP_OK);
    unlink(path);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_file_error_names_line)
{
    const char *path = write_temp_file("database = x\n\nconcurrency = many\n");
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;
    char expected[128];

    pulp_worker_config_init(&config);
    ck_assert_int_ne(pulp_worker_config_read(&config, path, &error), PULP_OK);
    snprintf(expected, sizeof expected, "%s:3: ", path);
    ck_assert_msg(strncmp(error.message, expected, strlen(expected)) == 0,
                  "\"%s\" does not start with \"%s\"", error.message, expected);
    unlink(path);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_file_line_without_equals)
{
    const char *path = write_temp_file("database\n");
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_read(&config, path, &error), PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, ":1: expected \"key = value\""));
    unlink(path);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_file_missing)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_read(&config, "/nonexistent/worker.conf", &error),
                     PULP_ERR_MISSING_RESOURCE);
    ck_assert_ptr_nonnull(strstr(error.message, "\"/nonexistent/worker.conf\""));
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(config_requires_database)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    ck_assert_int_eq(pulp_worker_config_check(&config, &error), PULP_ERR_MISSING_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "--database"));
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(backoff_doubles_within_jitter)
{
    pulp_backoff_t backoff;
    int expected = 100;

    pulp_backoff_init(&backoff, 100, 1000);
    for (int attempt = 0; attempt < 8; attempt++) {
        int delay = pulp_backoff_next(&backoff);

        ck_assert_int_le(delay, expected);
        ck_assert_int_ge(delay, expected - expected / 4);
        expected = expected * 2 > 1000 ? 1000 : expected * 2;
    }
}
END_TEST

START_TEST(backoff_reset_starts_over)
{
    pulp_backoff_t backoff;

    pulp_backoff_init(&backoff, 100, 1000);
    for (int attempt = 0; attempt < 5; attempt++)
        pulp_backoff_next(&backoff);
    pulp_backoff_reset(&backoff);
    ck_assert_int_le(pulp_backoff_next(&backoff), 100);
}
END_TEST

START_TEST(backoff_caps_after_many_failures)
{
    pulp_backoff_t backoff;

    pulp_backoff_init(&backoff, 250, 5000);
    for (int attempt = 0; attempt < 5000; attempt++)
        ck_assert_int_le(pulp_backoff_next(&backoff), 5000);
    ck_assert_int_ge(pulp_backoff_next(&backoff), 3750);
}
END_TEST

static Suite *task_config_suite(void)
{
    Suite *suite = suite_create("task_config");
    TCase *config = tcase_create("config");
    TCase *backoff = tcase_create("backoff");

    tcase_add_test(config, config_defaults);
    tcase_add_test(config, config_sets_each_key);
    tcase_add_test(config, config_rejects_invalid_values);
    tcase_add_test(config, config_rejects_unknown_key);
    tcase_add_test(config, duration_units);
    tcase_add_test(config, duration_rejects_malformed);
    tcase_add_test(config, config_file_is_read);
    tcase_add_test(config, config_file_error_names_line);
    tcase_add_test(config, config_file_line_without_equals);
    tcase_add_test(config, config_file_missing);
    tcase_add_test(config, config_requires_database);
    tcase_add_test(backoff, backoff_doubles_within_jitter);
    tcase_add_test(backoff, backoff_reset_starts_over);
    tcase_add_test(backoff, backoff_caps_after_many_failures);
    suite_add_tcase(suite, config);
    suite_add_tcase(suite, backoff);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(task_config_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
