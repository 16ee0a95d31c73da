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

START_TEST(url_splits_at_last_at)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqp://pulp:p@ss@word@b:5672", &error);

    ck_assert_ptr_nonnull(amqp);
    ck_assert_str_eq(amqp->user, "pulp");
    ck_assert_str_eq(amqp->password, "p@ss@word");
    ck_assert_str_eq(amqp->host, "b");
    ck_assert_str_eq(pulp_amqp_peer(amqp), "b:5672");
    pulp_amqp_free(amqp);
}
END_TEST

START_TEST(url_decodes_user_info)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqps://pu%6cp%3A1:a%2Fb%3ac%40d%25e%20f@b", &error);

    ck_assert_ptr_nonnull(amqp);
    ck_assert_str_eq(amqp->user, "pulp:1");
    ck_assert_str_eq(amqp->password, "a/b:c@d%e f");
    ck_assert_str_eq(pulp_amqp_peer(amqp), "b:5671");
    pulp_amqp_free(amqp);
}
END_TEST

START_TEST(url_user_without_password)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *amqp = new_connection("amqp://pulp@b", &error);

    ck_assert_ptr_nonnull(amqp);
    ck_assert_str_eq(amqp->user, "pulp");
    ck_assert_ptr_null(amqp->password);
    pulp_amqp_free(amqp);
}
END_TEST

START_TEST(url_rejects_bad_escapes)
{
    static const struct {
        const char *url;
        const char *part;
    } cases[] = {
        { "amqp://pulp:se%zzcret@b", "password" },
        { "amqp://pulp:se%4@b", "password" },
        { "amqp://pulp:secret%@b", "password" },
        { "amqp://pulp:secret%2@b", "password" },
        { "amqp://pulp:se%00cret@b", "password" },
        { "amqp://pu%G1lp:secret@b", "user name" },
        { "amqp://pulp%:secret@b", "user name" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_msg(new_connection(cases[i].url, &error) == NULL, "\"%s\" was accepted",
                      cases[i].url);
        ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
        ck_assert_msg(strstr(error.message, cases[i].part) != NULL,
                      "\"%s\": the message \"%s\" does not name the %s", cases[i].url,
                      error.message, cases[i].part);
        ck_assert_msg(strstr(error.message, "cret") == NULL,
                      "\"%s\": the message \"%s\" shows the password", cases[i].url,
                      error.message);
    }
}
END_TEST

START_TEST(url_error_hides_password)
{
    pulp_error_t error = PULP_ERROR_INIT;

    /* The unescaped '/' ends the authority, so "sec" is read as the port. */
    ck_assert_ptr_null(new_connection("amqp://pulp:sec/ret", &error));
    ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "port"));
    ck_assert_ptr_null(strstr(error.message, "sec"));
}
END_TEST

START_TEST(url_ipv6_literal)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *with_port = new_connection("amqp://pulp:secret@[::1]:25672", &error);
    pulp_amqp_t *default_port = new_connection("amqps://[::1]/", &error);

    ck_assert_ptr_nonnull(with_port);
    ck_assert_str_eq(with_port->host, "::1");
    ck_assert_str_eq(pulp_amqp_peer(with_port), "[::1]:25672");
    ck_assert_ptr_nonnull(default_port);
    ck_assert_str_eq(default_port->host, "::1");
    ck_assert_str_eq(pulp_amqp_peer(default_port), "[::1]:5671");
    pulp_amqp_free(with_port);
    pulp_amqp_free(default_port);
}
END_TEST

START_TEST(url_authority_ends_at_query)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_amqp_t *query = new_connection("amqp://b:5673/vhost?x=y", &error);
    pulp_amqp_t *fragment = new_connection("amqp://b#y", &error);

    ck_assert_ptr_nonnull(query);
    ck_assert_ptr_null(query->user);
    ck_assert_str_eq(pulp_amqp_peer(query), "b:5673");
    ck_assert_ptr_nonnull(fragment);
    ck_assert_ptr_null(fragment->user);
    ck_assert_str_eq(pulp_amqp_peer(fragment), "b:5672");
    pulp_amqp_free(query);
    pulp_amqp_free(fragment);
}
END_TEST

/* An unescaped '/', '?' or '#' in the password ends the authority early. Without a check,
 * "amqp://pulp:1234/secret@b" would connect to host "pulp" on port 1234 and log the start
 * of the password as the port. */
START_TEST(url_rejects_at_after_authority)
{
    static const char *const urls[] = {
        "amqp://pulp:1234/cret@b", "amqp://pulp:1234?cret@b:5672", "amqp://pulp:1234#cret@b",
        "amqps://pulp:1234/c/r/e/t@b/", "amqp://b:5672/x@y",
    };

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_msg(new_connection(urls[i], &error) == NULL, "\"%s\" was accepted", urls[i]);
        ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
        ck_assert_msg(strstr(error.message, "percent-encode") != NULL,
                      "\"%s\": the message \"%s\" does not say what to escape", urls[i],
                      error.message);
        ck_assert_msg(strstr(error.message, "1234") == NULL,
                      "\"%s\": the message \"%s\" shows the password", urls[i], error.message);
        ck_assert_msg(strstr(error.message, "cret") == NULL,
                      "\"%s\": the message \"%s\" shows the password", urls[i], error.message);
        pulp_error_clear(&error);
    }
}
END_TEST

START_TEST(url_rejects_empty_user)
{
    static const char *const urls[] = { "amqp://:secret@b", "amqp://@b:5672" };

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_msg(new_connection(urls[i], &error) == NULL, "\"%s\" was accepted", urls[i]);
        ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
        ck_assert_msg(strstr(error.message, "user name") != NULL,
                      "\"%s\": the message \"%s\" does not name the user name", urls[i],
                      error.message);
        ck_assert_msg(strstr(error.message, "secret") == NULL,
                      "\"%s\": the message \"%s\" shows the password", urls[i], error.message);
        pulp_error_clear(&error);
    }
}
END_TEST

START_TEST(url_rejects_invalid_host)
{
    static const char *const urls[] = {
        "amqp://]", "amqp://%", "amqp://b%00:5672", "amqp://b%41", "amqp://b c:5672",
        "amqp://b\n:5672", "amqp://b\x01", "amqp://[::1%eth0]:5672", "amqp://[::g]",
        "amqp://[b.example]", "amqp://u:p@b[1]", "amqp://b\xc3\xa9",
    };

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        ck_assert_msg(new_connection(urls[i], &error) == NULL, "\"%s\" was accepted", urls[i]);
        ck_assert_int_eq(error.status, PULP_ERR_INVALID_VALUE);
        ck_assert_msg(strstr(error.message, "host") != NULL,
                      "\"%s\": the message \"%s\" does not name the host", urls[i],
                      error.message);
        pulp_error_clear(&error);
    }
}
END_TEST

START_TEST(url_accepts_host_forms)
{
    static const char *const urls[] = {
        "amqp://localhost", "amqp://127.0.0.1:5672", "amqp://rabbit-1.example.com:5672",
        "amqp://my_broker~1", "amqp://[::ffff:127.0.0.1]:5672", "amqp://[2001:DB8::1]",
    };

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        pulp_error_t error = PULP_ERROR_INIT;
        pulp_amqp_t *amqp = new_connection(urls[i], &error);

        ck_assert_msg(amqp != NULL, "\"%s\" was rejected: %s", urls[i], error.message);
        pulp_amqp_free(amqp);
    }
}
END_TEST

START_TEST(check_url_result)
{
    pulp_error_t error = PULP_ERROR_INIT;

    ck_assert_int_eq(pulp_amqp_check_url("amqp://pulp:p%40ss@b:5672", &error), PULP_OK);
    ck_assert_int_eq(pulp_amqp_check_url("amqp://pulp:p%4@b:5672", &error),
                     PULP_ERR_INVALID_VALUE);
    ck_assert_ptr_nonnull(strstr(error.message, "percent escape"));
    pulp_error_clear(&error);
}
END_TEST

START_TEST(url_rejects_malformed)
{
    static const char *const urls[] = {
        "http://b:5672", "amqp://", "amqp://:5672", "amqp://b:", "b:5672", "amqp://pulp:secret@",
        "amqp://pulp:secret@:5672", "amqp://b:amqp", "amqp://b:0", "amqp://b:65536",
        "amqp://b:-1", "amqp://b:+5672", "amqp://b:5672:1", "amqp://[::1", "amqp://[::1]5672",
        "amqp://[]:5672",
    };

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
    tcase_add_test(urls, url_splits_at_last_at);
    tcase_add_test(urls, url_decodes_user_info);
    tcase_add_test(urls, url_user_without_password);
    tcase_add_test(urls, url_rejects_bad_escapes);
    tcase_add_test(urls, url_error_hides_password);
    tcase_add_test(urls, url_ipv6_literal);
    tcase_add_test(urls, url_authority_ends_at_query);
    tcase_add_test(urls, url_rejects_at_after_authority);
    tcase_add_test(urls, url_rejects_empty_user);
    tcase_add_test(urls, url_rejects_invalid_host);
    tcase_add_test(urls, url_accepts_host_forms);
    tcase_add_test(urls, check_url_result);
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
