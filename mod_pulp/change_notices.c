#include "change_notices.h"

#include <string.h>

static const char *const channel_names[PULP_CHANGES_CHANNELS] = {
    [PULP_CHANGES_REPOSITORIES] = "pulp_repositories_changed",
    [PULP_CHANGES_AUTH] = "pulp_auth_changed",
    [PULP_CHANGES_TASKS] = "pulp_tasks_changed",
};

static unsigned long epochs[PULP_CHANGES_CHANNELS] = { 1, 1, 1 };

pulp_status_t pulp_changes_listen(PGconn *conn, pulp_error_t *error)
{
    PGresult *result = PQexec(conn, "LISTEN pulp_repositories_changed;"
                                    " LISTEN pulp_auth_changed; LISTEN pulp_tasks_changed");
    int ok = PQresultStatus(result) == PGRES_COMMAND_OK;

    PQclear(result);
    if (!ok)
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE,
                              "could not listen for changes: %s", PQerrorMessage(conn));
    return PULP_OK;
}

static void bump(pulp_change_channel_t channel)
{
    __atomic_add_fetch(&epochs[channel], 1, __ATOMIC_SEQ_CST);
}

void pulp_changes_forget_all(void)
{
    for (int i = 0; i < PULP_CHANGES_CHANNELS; i++)
        bump(i);
}

static void note(const char *channel)
{
    for (int i = 0; i < PULP_CHANGES_CHANNELS; i++) {
        if (strcmp(channel, channel_names[i]) == 0)
            bump(i);
    }
}

void pulp_changes_drain(PGconn *conn)
{
    PGnotify *notify;

    if (PQconsumeInput(conn) == 0) {
        pulp_changes_forget_all();
        return;
    }
    for (notify = PQnotifies(conn); notify; notify = PQnotifies(conn)) {
        note(notify->relname);
        PQfreemem(notify);
    }
}

pulp_status_t pulp_changes_catch_up(PGconn *conn, pulp_error_t *error)
{
    PGresult *result = PQexec(conn, "");
    int ok = PQresultStatus(result) == PGRES_EMPTY_QUERY;

    PQclear(result);
    if (!ok) {
        pulp_changes_forget_all();
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not reach the database: %s",
                              PQerrorMessage(conn));
    }
    pulp_changes_drain(conn);
    return PULP_OK;
}

unsigned long pulp_changes_epoch(pulp_change_channel_t channel)
{
    return __atomic_load_n(&epochs[channel], __ATOMIC_SEQ_CST);
}
