/* Unit tests for the settings that a supervisor sends to a new task process over its socket
 * (worker/task_settings.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pulp_worker_config.h"
#include "worker/worker.h"

/* Sends config over a socket pair and reads it back into received. */
static pulp_status_t round_trip(const pulp_worker_config_t *config,
                                pulp_worker_config_t *received, pulp_error_t *error)
{
    int fds[2];
    pulp_status_t status;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(pulp_task_settings_send(fds[0], config), 0);
    close(fds[0]);
    pulp_worker_config_init(received);
    status = pulp_task_settings_receive(fds[1], received, error);
    close(fds[1]);
    return status;
}

static void set(pulp_worker_config_t *config, const char *key, const char *value)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(pulp_worker_config_set(config, key, value, &error), PULP_OK);
}

START_TEST(settings_round_trip)
{
    pulp_worker_config_t config;
    pulp_worker_config_t received;
    pulp_error_t error = PULP_ERROR_INIT;

    pulp_worker_config_init(&config);
    set(&config, "database", "host=db.example port=5433 password='a b\\'c'");
    set(&config, "broker", "amqps://user:secret@broker.example:5671");
    set(&config, "queue", "pulp.other");
    set(&config, "storage_dir", "/srv/pulp");
    set(&config, "name", "worker-7@host");
    set(&config, "concurrency", "5");
    set(&config, "diagnostic_tasks", "on");
    set(&config, "log_level", "debug");
    set(&config, "heartbeat_interval", "20s");
    set(&config, "shutdown_grace", "2m");
    set(&config, "cancel_grace", "3");
    set(&config, "completed_task_max_age", "2d");

    ck_assert_int_eq(round_trip(&config, &received, &error), PULP_OK);
    ck_assert_str_eq(received.database, config.database);
    ck_assert_str_eq(received.broker, config.broker);
    ck_assert_str_eq(received.queue, "pulp.other");
    ck_assert_str_eq(received.storage_dir, "/srv/pulp");
    ck_assert_str_eq(received.name, "worker-7@host");
    ck_assert_int_eq(received.concurrency, 5);
    ck_assert_int_eq(received.diagnostic_tasks, 1);
    ck_assert_int_eq(received.log_level, PULP_LOG_DEBUG);
    ck_assert_int_eq(received.heartbeat_interval, 20);
    ck_assert_int_eq(received.shutdown_grace, 120);
    ck_assert_int_eq(received.cancel_grace, 3);
    ck_assert_int_eq(received.completed_task_max_age, 2L * 86400);
    pulp_worker_config_free(&received);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(settings_leave_following_lines)
{
    pulp_worker_config_t config;
    pulp_worker_config_t received;
    pulp_error_t error = PULP_ERROR_INIT;
    const char *task_line = "task 0b5e3a52-2f6b-4a3c-9d39-1c1b0e8f1a11\n";
    char buffer[128] = "";
    int fds[2];

    pulp_worker_config_init(&config);
    set(&config, "database", "dbname=pulp");
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(pulp_task_settings_send(fds[0], &config), 0);
    ck_assert_int_eq(write(fds[0], task_line, strlen(task_line)), (int)strlen(task_line));
    close(fds[0]);

    pulp_worker_config_init(&received);
    ck_assert_int_eq(pulp_task_settings_receive(fds[1], &received, &error), PULP_OK);
    ck_assert_int_eq(read(fds[1], buffer, sizeof buffer - 1), (int)strlen(task_line));
    ck_assert_str_eq(buffer, task_line);
    close(fds[1]);
    pulp_worker_config_free(&received);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(settings_reject_line_break)
{
    pulp_worker_config_t config;
    int fds[2];

    pulp_worker_config_init(&config);
    set(&config, "database", "dbname=pulp\nsetting storage_dir /");
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(pulp_task_settings_send(fds[0], &config), -1);
    close(fds[0]);
    close(fds[1]);
    pulp_worker_config_free(&config);
}
END_TEST

START_TEST(settings_fail_without_end_line)
{
    pulp_worker_config_t received;
    pulp_error_t error = PULP_ERROR_INIT;
    const char *text = "setting database dbname=pulp\n";
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(write(fds[0], text, strlen(text)), (int)strlen(text));
    close(fds[0]);
    pulp_worker_config_init(&received);
    ck_assert_int_eq(pulp_task_settings_receive(fds[1], &received, &error), PULP_ERR_MISSING_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "could not read the settings"));
    close(fds[1]);
    pulp_worker_config_free(&received);
}
END_TEST

START_TEST(settings_reject_unknown_key)
{
    pulp_worker_config_t received;
    pulp_error_t error = PULP_ERROR_INIT;
    const char *text = "setting colour blue\nsettings end\n";
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ck_assert_int_eq(write(fds[0], text, strlen(text)), (int)strlen(text));
    close(fds[0]);
    pulp_worker_config_init(&received);
    ck_assert_int_eq(pulp_task_settings_receive(fds[1], &received, &error),
                     PULP_ERR_UNSUPPORTED_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "colour"));
    close(fds[1]);
    pulp_worker_config_free(&received);
}
END_TEST

static Suite *task_settings_suite(void)
{
    Suite *suite = suite_create("task_settings");
    TCase *settings = tcase_create("settings");

    tcase_add_test(settings, settings_round_trip);
    tcase_add_test(settings, settings_leave_following_lines);
    tcase_add_test(settings, settings_reject_line_break);
    tcase_add_test(settings, settings_fail_without_end_line);
    tcase_add_test(settings, settings_reject_unknown_key);
    suite_add_tcase(suite, settings);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(task_settings_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
