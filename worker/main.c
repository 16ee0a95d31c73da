/* pulp-worker: runs Pulp tasks taken from the AMQP task queue; run any number per host.
 *
 * Settings come from the configuration file (--config), then from the options, which
 * override it. See docs/tasks.md for the protocol and the shutdown policy.
 *
 * This program is the supervisor. It links only libpq, proton and json-c, because it lives
 * as long as the worker; the tasks run in the task program (task_main.c), which links the
 * content libraries. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulp_log.h"
#include "pulp_uuid.h"
#include "pulp_version.h"
#include "pulp_worker_config.h"
#include "send_task.h"
#include "supervisor.h"
#include "worker.h"

enum { OPTION_SEND_TASK = 256, OPTION_VERSION };

/* GnuTLS initialises itself when it is loaded unless the program defines this function, as
 * the macro GNUTLS_SKIP_GLOBAL_INIT of gnutls.h does; the link exports it so that GnuTLS sees
 * it. libpq loads GnuTLS through libldap, but the supervisor never uses it, and the
 * initialisation cost about 0.7 MB of resident memory per supervisor (GnuTLS 3.7.9).
 * libldap calls gnutls_global_init itself before it uses TLS. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
    return 1;
}

static const struct option long_options[] = {
    { "config", required_argument, NULL, 'c' },
    { "name", required_argument, NULL, 'n' },
    { "concurrency", required_argument, NULL, 'j' },
    { "database", required_argument, NULL, 'd' },
    { "broker", required_argument, NULL, 'b' },
    { "queue", required_argument, NULL, 'q' },
    { "storage-dir", required_argument, NULL, 's' },
    { "diagnostic-tasks", no_argument, NULL, 'D' },
    { "log-level", required_argument, NULL, 'l' },
    { "send-task", required_argument, NULL, OPTION_SEND_TASK },
    { "version", no_argument, NULL, OPTION_VERSION },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void print_usage(FILE *out)
{
    fputs("Usage: pulp-worker [--config FILE] [OPTION]...\n"
          "\n"
          "Runs Pulp tasks from the AMQP task queue. Options override the file's settings.\n"
          "\n"
          "  -c, --config FILE          read \"key = value\" settings from FILE\n"
          "  -n, --name NAME            worker name, unique in the deployment\n"
          "                             (default: worker-<pid>@<hostname>)\n"
          "  -j, --concurrency N        tasks run at the same time (default: 2)\n"
          "  -d, --database CONNINFO    libpq connection string (required)\n"
          "  -b, --broker URL           amqp://[USER[:PASSWORD]@]HOST[:PORT] (or amqps://)\n"
          "                             of the AMQP 1.0 broker\n"
          "                             (default: " PULP_WORKER_DEFAULT_BROKER ")\n"
          "  -q, --queue NAME           task queue (default: " PULP_WORKER_DEFAULT_QUEUE ")\n"
          "  -s, --storage-dir DIR      content store and published trees\n"
          "                             (default: " PULP_WORKER_DEFAULT_STORAGE_DIR ")\n"
          "  -D, --diagnostic-tasks     run the diagnostic task kind of the test suite\n"
          "  -l, --log-level LEVEL      error, warning, info or debug (default: info)\n"
          "      --send-task ID         maintenance: send the dispatch message of task ID\n"
          "                             to the queue, then exit\n"
          "      --version              print the version\n"
          "  -h, --help                 show this help\n",
          out);
}

static const char *setting_key(int option)
{
    switch (option) {
    case 'n': return "name";
    case 'j': return "concurrency";
    case 'd': return "database";
    case 'b': return "broker";
    case 'q': return "queue";
    case 's': return "storage_dir";
    case 'l': return "log_level";
    default: return NULL;
    }
}

/* Reads the file named by --config first, so the other options override it. */
static int read_config_file(int argc, char **argv, pulp_worker_config_t *config)
{
    pulp_error_t error = PULP_ERROR_INIT;
    int option;

    opterr = 0;
    while ((option = getopt_long(argc, argv, "c:n:j:d:b:q:s:Dl:h", long_options, NULL)) != -1) {
        if (option != 'c')
            continue;
        if (pulp_worker_config_read(config, optarg, &error) != PULP_OK) {
            fprintf(stderr, "pulp-worker: %s\n", error.message);
            pulp_error_clear(&error);
            return -1;
        }
    }
    opterr = 1;
    optind = 0;
    return 0;
}

static int apply_options(int argc, char **argv, pulp_worker_config_t *config,
                         const char **send_task)
{
    pulp_error_t error = PULP_ERROR_INIT;
    int option;

    while ((option = getopt_long(argc, argv, "c:n:j:d:b:q:s:Dl:h", long_options, NULL)) != -1) {
        const char *key = setting_key(option);

        if (key) {
            if (pulp_worker_config_set(config, key, optarg, &error) != PULP_OK)
                goto invalid;
            continue;
        }
        switch (option) {
        case 'c':
            break;
        case 'D':
            config->diagnostic_tasks = 1;
            break;
        case OPTION_SEND_TASK:
            *send_task = optarg;
            break;
        case OPTION_VERSION:
            printf("pulp-worker %s\n", PULP_VERSION);
            exit(0);
        case 'h':
            print_usage(stdout);
            exit(0);
        default:
            print_usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pulp-worker: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;

invalid:
    fprintf(stderr, "pulp-worker: %s\n", error.message);
    pulp_error_clear(&error);
    return -1;
}

static char *default_name(void)
{
    char hostname[256] = "localhost";
    char *name;

    gethostname(hostname, sizeof hostname - 1);
    if (asprintf(&name, "worker-%d@%s", (int)getpid(), hostname) < 0)
        return NULL;
    return name;
}

int main(int argc, char **argv)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;
    const char *send_task = NULL;
    int status = 2;

    pulp_proctitle_init(argc, argv);
    pulp_worker_config_init(&config);
    if (read_config_file(argc, argv, &config) != 0 ||
        apply_options(argc, argv, &config, &send_task) != 0)
        goto end;
    if (!config.name)
        config.name = default_name();
    pulp_log_set_level(config.log_level);
    pulp_worker_log_init(config.name ? config.name : "pulp-worker");

    if (send_task) {
        if (!pulp_uuid_is_valid(send_task)) {
            fprintf(stderr, "pulp-worker: invalid task id \"%s\": expected a UUID\n", send_task);
            goto end;
        }
        status = pulp_send_task_main(&config, send_task);
        goto end;
    }
    if (pulp_worker_config_check(&config, &error) != PULP_OK) {
        fprintf(stderr, "pulp-worker: %s\n", error.message);
        pulp_error_clear(&error);
        goto end;
    }
    status = pulp_supervisor_run(&config, config.name);

end:
    pulp_worker_config_free(&config);
    return status;
}
