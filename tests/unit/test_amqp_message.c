/* Unit tests for the parts of amqp/ that need no broker: dispatch message bodies, broker URLs
 * and the state of a connection that has not connected yet.
 *
 * The unit test binaries do not link the AMQP library, so its source is compiled in here. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/pulp_amqp.c"

#define TASK_ID "0b7d4f1e-2c3a-4e5f-8a9b-0c1d2e3f4a5b"

static const pulp_amqp_callbacks_t no_callbacks = { NULL, NULL, NULL };

static pulp_amqp_t *new_connection(const char *url, pulp_error_t *error)
{
    pulp_amqp_options_t options = { url, "pulp.tasks", "unit-test", 1 };

    return pulp_amqp_new(&options, &no_callbacks, NULL, error);
}

START_TEST(task_message_round_trip)
{
    char body[128];
    char task_id[PULP_UUID_LENGTH + 1];
    size_t length = pulp_amqp_task_message(TASK_ID, body, sizeof body);

    ck_assert_str_eq(body, "{\"task_id\": \"" TASK_ID "\"}");
    ck_assert_int_eq(length, strlen(body));
    ck_assert_int_eq(pulp_amqp_task_message_parse(body, length, task_id), 0);
    ck_assert_str_eq(task_id, TASK_ID);
}
END_TEST

START_TEST(task_message_rejects_malformed)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[\"" TASK_ID "\"]",
        "{}",
        "{\"task\": \"" TASK_ID "\"}",
        "{\"task_id\": 42}",
        "{\"task_id\": \"../../etc/passwd\"}",
        "{\"task_id\": \"" TASK_ID "x\"}",
    };
    char task_id[PULP_UUID_LENGTH + 1];

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        ck_assert_msg(pulp_amqp_task_message_parse(bodies[i], strlen(bodies[i]), task_id) != 0,
                      "\"%s\" was accepted", bodies[i]);
}
END_TEST

START_TEST(task_message_reads_only_length)
{
    const char *body = "{\"task_id\": \"" TASK_ID "\"}garbage";
    char task_id[PULP_UUID_LENGTH + 1];

    ck_assert_int_eq(pulp_amqp_task_message_parse(body, strlen(body) - 7, task_id), 0);
    ck_assert_str_eq(task_id, TASK_ID);
}
END_TEST

START_TEST(url_with_port)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqp://broker.example.com:25672", &error);

    ck_assert_ptr_nonnull(amqp);
    ck_assert_str_eq(pulp_amqp_peer(amqp), "broker.example.com:25672");
    pulp_amqp_free(amqp);
}
END_TEST

START_TEST(url_default_ports)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *plain = new_connection("amqp://b", &error);
    pulp_amqp_t *tls = new_connection("amqps://b/", &error);

    ck_assert_str_eq(pulp_amqp_peer(plain), "b:5672");
    ck_assert_str_eq(pulp_amqp_peer(tls), "b:5671");
    pulp_amqp_free(plain);
    pulp_amqp_free(tls);
}
END_TEST

START_TEST(url_peer_hides_credentials)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqp://pulp:s3cret@b:5672", &error);

    ck_assert_ptr_nonnull(amqp);
    ck_assert_str_eq(pulp_amqp_peer(amqp), "b:5672");
    ck_assert_str_eq(amqp->user, "pulp");
    ck_assert_str_eq(amqp->password, "s3cret");
    pulp_amqp_free(amqp);
}
END_TEST

START_TEST(url_rejects_malformed)
{
    static const char *const urls[] = { "http://b:5672", "amqp://", "amqp://:5672", "amqp://b:",
                                        "b:5672" };

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_msg(new_connection(urls[i], &error) == NULL, "\"%s\" was accepted", urls[i]);
        ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
    }
}
END_TEST

START_TEST(unconnected_refuses_work)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqp://127.0.0.1:1", &error);
    uint64_t tag = 0;

    ck_assert_int_eq(pulp_amqp_connected(amqp), 0);
    ck_assert_int_eq(pulp_amqp_fd(amqp), -1);
    ck_assert_int_eq(pulp_amqp_send(amqp, "{}", 2, &tag), -1);
    ck_assert_int_eq(pulp_amqp_settle(amqp, 1, PULP_AMQP_ACCEPT), -1);
    ck_assert_int_eq(pulp_amqp_timeout_ms(amqp), 0);
    pulp_amqp_free(amqp);
}
END_TEST

static Suite *amqp_suite(void)
{
    Suite *suite = suite_create("amqp");
    TCase *messages = tcase_create("messages");
    TCase *urls = tcase_create("urls");

    tcase_add_test(messages, task_message_round_trip);
    tcase_add_test(messages, task_message_rejects_malformed);
    tcase_add_test(messages, task_message_reads_only_length);
    tcase_add_test(urls, url_with_port);
    tcase_add_test(urls, url_default_ports);
    tcase_add_test(urls, url_peer_hides_credentials);
    tcase_add_test(urls, url_rejects_malformed);
    tcase_add_test(urls, unconnected_refuses_work);
    suite_add_tcase(suite, messages);
    suite_add_tcase(suite, urls);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(amqp_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
