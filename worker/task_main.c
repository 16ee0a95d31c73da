/* pulp-task: the task process of pulp-worker. It links the content plugins and their
 * libraries (createrepo_c, librpm, libcurl, libarchive, glib), which the supervisor does not,
 * so that the long-lived supervisor stays small.
 *
 * The supervisor starts it with a socket on file descriptor 3, sends the worker's settings
 * there (task_settings.c) and then task ids (runner.c). It is not meant to be run by hand. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "pulp_log.h"
#include "pulp_version.h"
#include "worker.h"

/* The socket shared with the supervisor. */
#define SUPERVISOR_FD 3

int main(int argc, char **argv)
{
    pulp_worker_config_t config;
    pulp_error_t error = PULP_ERROR_INIT;
    int status = PULP_CHILD_EXIT_NOT_STARTED;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("pulp-task %s\n", PULP_VERSION);
        return 0;
    }
    if (fcntl(SUPERVISOR_FD, F_GETFD) < 0) {
        fprintf(stderr, "pulp-task: file descriptor %d is not open: pulp-task is started by "
                "pulp-worker, which passes it a socket there\n", SUPERVISOR_FD);
        return status;
    }
    pulp_proctitle_init(argc, argv);
    pulp_worker_config_init(&config);
    if (pulp_task_settings_receive(SUPERVISOR_FD, &config, &error) != PULP_OK) {
        fprintf(stderr, "pulp-task: %s\n", error.message);
        goto end;
    }
    pulp_log_set_level(config.log_level);
    pulp_worker_log_init(config.name ? config.name : "pulp-worker");
    status = pulp_runner_main(&config, config.name, SUPERVISOR_FD);

end:
    pulp_error_clear(&error);
    pulp_worker_config_free(&config);
    return status;
}
