/* Unit tests of the httpd directives: every directive of pulp_directives[] has a documented
 * default and merge rule in pulp_directive_info[], and the merge and defaults behave as
 * documented. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "mod_pulp/directives.h"
#include "mod_pulp/mod_pulp.h"

static apr_pool_t *pool;

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

static const pulp_directive_info_t *find_info(const char *name)
{
    for (const pulp_directive_info_t *info = pulp_directive_info; info->name; info++) {
        if (strcmp(info->name, name) == 0)
            return info;
    }
    return NULL;
}

static const command_rec *find_command(const char *name)
{
    for (const command_rec *command = pulp_directives; command->name; command++) {
        if (strcmp(command->name, name) == 0)
            return command;
    }
    return NULL;
}

START_TEST(every_directive_documented)
{
    for (const command_rec *command = pulp_directives; command->name; command++) {
        const pulp_directive_info_t *info = find_info(command->name);

        ck_assert_msg(info != NULL, "%s has no entry in pulp_directive_info", command->name);
        ck_assert_msg(info->default_value && *info->default_value, "%s has no default",
                      command->name);
        ck_assert_msg(info->merge_rule && *info->merge_rule, "%s has no merge rule",
                      command->name);
    }
}
END_TEST

START_TEST(no_stale_documentation)
{
    for (const pulp_directive_info_t *info = pulp_directive_info; info->name; info++)
        ck_assert_msg(find_command(info->name) != NULL, "%s is documented but not a directive",
                      info->name);
}
END_TEST

START_TEST(directives_have_help)
{
    for (const command_rec *command = pulp_directives; command->name; command++) {
        ck_assert_msg(strncmp(command->name, "Pulp", 4) == 0, "%s", command->name);
        ck_assert_msg(command->errmsg && *command->errmsg, "%s has no help text", command->name);
    }
}
END_TEST

START_TEST(defaults_applied)
{
    pulp_server_config_t *config = pulp_create_server_config(pool, NULL);

    pulp_config_apply_defaults(config);
    ck_assert_ptr_null(config->database);
    ck_assert_str_eq(config->task_queue, "pulp.tasks");
    ck_assert_str_eq(config->storage_dir, "/var/lib/pulp");
    ck_assert(config->max_body_size == (apr_off_t)100 * 1024 * 1024);
    ck_assert_int_eq(config->diagnostic_tasks, 0);
    ck_assert_ptr_null(config->repo_auth_ca);
    ck_assert_ptr_null(config->repo_auth_ca_store);
}
END_TEST

START_TEST(virtual_host_inherits)
{
    pulp_server_config_t *base = pulp_create_server_config(pool, NULL);
    pulp_server_config_t *vhost = pulp_create_server_config(pool, NULL);
    pulp_server_config_t *merged;

    base->database = "dbname=pulp";
    base->max_body_size = 1024;
    base->diagnostic_tasks = 1;
    base->repo_auth_ca = "/etc/pulp/ca.pem";
    base->repo_auth_ca_store = (X509_STORE *)base;
    merged = pulp_merge_server_config(pool, base, vhost);
    ck_assert_str_eq(merged->database, "dbname=pulp");
    ck_assert(merged->max_body_size == 1024);
    ck_assert_int_eq(merged->diagnostic_tasks, 1);
    ck_assert_str_eq(merged->repo_auth_ca, "/etc/pulp/ca.pem");
    ck_assert_ptr_eq(merged->repo_auth_ca_store, (X509_STORE *)base);
}
END_TEST

START_TEST(virtual_host_overrides)
{
    pulp_server_config_t *base = pulp_create_server_config(pool, NULL);
    pulp_server_config_t *vhost = pulp_create_server_config(pool, NULL);
    pulp_server_config_t *merged;

    base->database = "dbname=pulp";
    base->diagnostic_tasks = 1;
    vhost->database = "dbname=other";
    vhost->max_body_size = 10;
    vhost->diagnostic_tasks = 0;
    base->repo_auth_ca = "/etc/pulp/ca.pem";
    base->repo_auth_ca_store = (X509_STORE *)base;
    vhost->repo_auth_ca = "/etc/pulp/vhost-ca.pem";
    vhost->repo_auth_ca_store = (X509_STORE *)vhost;
    merged = pulp_merge_server_config(pool, base, vhost);
    ck_assert_str_eq(merged->database, "dbname=other");
    ck_assert(merged->max_body_size == 10);
    ck_assert_int_eq(merged->diagnostic_tasks, 0);
    ck_assert_str_eq(merged->repo_auth_ca, "/etc/pulp/vhost-ca.pem");
    ck_assert_ptr_eq(merged->repo_auth_ca_store, (X509_STORE *)vhost);
}
END_TEST

/* Runs the handler of a one-argument directive against config, as httpd would. */
static const char *run_directive(const char *name, pulp_server_config_t *config,
                                 const char *value)
{
    const command_rec *command = find_command(name);
    void **vector = apr_pcalloc(pool, sizeof *vector);
    server_rec *server = apr_pcalloc(pool, sizeof *server);
    cmd_parms *cmd = apr_pcalloc(pool, sizeof *cmd);

    ck_assert_ptr_nonnull(command);
    pulp_module.module_index = 0;
    vector[0] = config;
    server->module_config = (ap_conf_vector_t *)vector;
    cmd->server = server;
    cmd->pool = pool;
    cmd->temp_pool = pool;
    return command->func.take1(cmd, NULL, value);
}

START_TEST(repo_auth_ca_rejects_bad_files)
{
    pulp_server_config_t *config = pulp_create_server_config(pool, NULL);
    char path[] = "/tmp/pulp-test-ca-XXXXXX";
    int fd = mkstemp(path);
    const char *failure;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "no certificate here\n", 20), 20);
    close(fd);
    failure = run_directive("PulpRepoAuthCA", config, path);
    unlink(path);
    ck_assert_ptr_nonnull(failure);
    ck_assert_ptr_nonnull(strstr(failure, "no certificate"));
    ck_assert_ptr_null(config->repo_auth_ca_store);

    failure = run_directive("PulpRepoAuthCA", config, "/nonexistent/ca.pem");
    ck_assert_ptr_nonnull(failure);
    ck_assert_ptr_nonnull(strstr(failure, "could not read"));
}
END_TEST

START_TEST(broker_checks_url)
{
    pulp_server_config_t *config = pulp_create_server_config(pool, NULL);
    const char *failure;

    ck_assert_ptr_null(run_directive("PulpBroker", config, "amqp://pulp:p%40ss@b:5672"));
    ck_assert_str_eq(config->broker, "amqp://pulp:p%40ss@b:5672");

    failure = run_directive("PulpBroker", config, "amqp://pulp:se%zzcret@b:5672");
    ck_assert_ptr_nonnull(failure);
    ck_assert_ptr_nonnull(strstr(failure, "PulpBroker"));
    ck_assert_ptr_nonnull(strstr(failure, "percent escape"));
    ck_assert_ptr_null(strstr(failure, "cret"));
    ck_assert_str_eq(config->broker, "amqp://pulp:p%40ss@b:5672");

    failure = run_directive("PulpBroker", config, "http://b:5672");
    ck_assert_ptr_nonnull(failure);
    ck_assert_ptr_nonnull(strstr(failure, "amqp://"));
}
END_TEST

static Suite *directives_suite(void)
{
    Suite *suite = suite_create("directives");
    TCase *tcase = tcase_create("directives");

    tcase_add_checked_fixture(tcase, setup, teardown);
    tcase_add_test(tcase, every_directive_documented);
    tcase_add_test(tcase, no_stale_documentation);
    tcase_add_test(tcase, directives_have_help);
    tcase_add_test(tcase, defaults_applied);
    tcase_add_test(tcase, virtual_host_inherits);
    tcase_add_test(tcase, virtual_host_overrides);
    tcase_add_test(tcase, repo_auth_ca_rejects_bad_files);
    tcase_add_test(tcase, broker_checks_url);
    suite_add_tcase(suite, tcase);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(directives_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
