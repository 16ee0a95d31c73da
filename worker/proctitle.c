/* Process titles: a task process shows "pulp-worker: task <id>" in ps and /proc/<pid>/cmdline,
 * so operators (and the fault tests) can tell which process runs which task. The title is
 * written over the memory of the original command line, as PostgreSQL does for its backends,
 * and is cut to fit it. */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static char *title_area;
static size_t title_size;

void pulp_proctitle_init(int argc, char **argv)
{
    char *end;

    if (argc < 1 || !argv[0])
        return;
    end = argv[0] + strlen(argv[0]) + 1;
    /* Only the arguments that follow each other in memory, as the kernel lays them out. */
    for (int i = 1; i < argc && argv[i] == end; i++)
        end = argv[i] + strlen(argv[i]) + 1;
    title_area = argv[0];
    title_size = (size_t)(end - argv[0]);
}

void pulp_proctitle_set(const char *format, ...)
{
    va_list args;

    if (!title_area || title_size < 2)
        return;
    memset(title_area, 0, title_size);
    va_start(args, format);
    vsnprintf(title_area, title_size - 1, format, args);
    va_end(args);
}

void pulp_proctitle_set_name(const char *name)
{
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
