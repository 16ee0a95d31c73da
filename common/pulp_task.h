/* Task records: the dispatch half of the task protocol (docs/tasks.md).
 *
 * A task is dispatched by inserting its row (this file) and then sending its id to the task
 * queue (amqp/). The row is the truth: a message that is lost only delays the task, because
 * the housekeeping leader re-sends messages for waiting tasks that nothing blocks. */
#ifndef PULP_TASK_H
#define PULP_TASK_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "pulp_error.h"
#include "pulp_uuid.h"

/* Task types, named as Pulp 2 names them in task reports. */
#define PULP_TASK_REPO_DELETE "pulp.server.tasks.repository.delete"
#define PULP_TASK_REPO_SYNC "pulp.server.managers.repo.sync.sync"
#define PULP_TASK_REPO_PUBLISH "pulp.server.managers.repo.publish.publish"
#define PULP_TASK_DIAGNOSTIC "pulp.server.tasks.diagnostic"
/* Removes a distributor's published tree, then its row; args {"repo_id", "distributor_id"}. */
#define PULP_TASK_DISTRIBUTOR_REMOVE "pulp.server.managers.repo.distributor.remove_distributor"

typedef struct pulp_task_spec {
    const char *task_type;
    const char *const *tags;
    size_t n_tags;
    /* Resources held exclusively while the task runs, such as "repository:zoo". */
    const char *const *resources;
    size_t n_resources;
    /* Resources held shared: several tasks may share one, none while another holds it
     * exclusively. */
    const char *const *shared_resources;
    size_t n_shared_resources;
    /* Arguments for the worker; borrowed, may be NULL. */
    json_object *args;
    /* The schedule that dispatched the task, or NULL. */
    const char *schedule_id;
    /* The queue its dispatch message goes to, as task reports show it; may be NULL. */
    const char *queue;
} pulp_task_spec_t;

/* Inserts a waiting task in one statement: its own transaction, unless the caller opened one.
 * The resources' advisory locks are taken in sorted order before the sequence number is
 * drawn, and held until the commit, so per resource the dispatch order equals the commit
 * order. Writes the new task's id into task_id. */
pulp_status_t pulp_task_insert(PGconn *conn, const pulp_task_spec_t *spec,
                               char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error);

/* Repository ids have at most 255 characters, and the longest prefix is "pulp:repository:". */
#define PULP_REPO_TASK_NAME_SIZE 320

/* The spec of a task on one repository, as the API and the scheduler dispatch it: it locks
 * "repository:<id>" exclusively and is tagged pulp:repository:<id>, then the extra tag if any,
 * then pulp:action:<action>. spec points into the struct, which must not be copied. */
typedef struct pulp_repo_task {
    pulp_task_spec_t spec;
    char resource[PULP_REPO_TASK_NAME_SIZE];
    char repository_tag[PULP_REPO_TASK_NAME_SIZE];
    char action_tag[PULP_REPO_TASK_NAME_SIZE];
    const char *tags[3];
    const char *resources[1];
} pulp_repo_task_t;

/* Fills task. extra_tag may be NULL, and args is borrowed. */
void pulp_repo_task_init(pulp_repo_task_t *task, const char *task_type, const char *action,
                         const char *repo_id, const char *extra_tag, json_object *args);

/* Returns the new arguments of a sync task (distributor_id NULL) or of a publish task:
 * {"repo_id", "distributor_id" for a publish, "override_config"}. override_config is
 * borrowed and may be NULL for none. */
json_object *pulp_repo_action_args_new(const char *repo_id, const char *distributor_id,
                                       json_object *override_config);

/* The SQL condition, over a waiting task aliased t, that an unfinished task with a lower seq
 * conflicts with it: it holds exclusively a resource that t holds in any way, or it shares a
 * resource that t holds exclusively. Such a task must end before t may start. */
#define PULP_TASK_BLOCKED_SQL                                                                    \
    "CASE WHEN cardinality(t.resources) + cardinality(t.shared_resources) = 0 THEN false"      \
    " ELSE EXISTS (SELECT 1 FROM tasks o WHERE o.state IN ('waiting', 'running')"              \
    " AND o.seq < t.seq AND (o.resources && (t.resources || t.shared_resources)"               \
    " OR o.shared_resources && t.resources)) END"

/* The advisory lock key that marks a task as alive while a process runs it. */
#define PULP_TASK_LIVENESS_KEY_SQL(id_sql) "hashtextextended('task:' || " id_sql ", 0)"

/* Finds the waiting tasks that may start now on the resources (exclusive or shared) of the
 * task task_id, oldest first, and writes at most max_ids of their ids into ids. Called after
 * that task ended or was canceled, to send their dispatch messages (the hand-off). */
pulp_status_t pulp_task_handoff(PGconn *conn, const char *task_id,
                                char (*ids)[PULP_UUID_LENGTH + 1], size_t max_ids,
                                size_t *n_ids, pulp_error_t *error);

/* Same as pulp_task_handoff, for a task whose resources are known: resources and
 * shared_resources are PostgreSQL text[] literals. No query runs when both are empty. */
pulp_status_t pulp_task_handoff_for(PGconn *conn, const char *resources,
                                    const char *shared_resources,
                                    char (*ids)[PULP_UUID_LENGTH + 1], size_t max_ids,
                                    size_t *n_ids, pulp_error_t *error);

typedef enum {
    /* A waiting task is now canceled. */
    PULP_TASK_CANCELED_WAITING,
    /* A running task was asked to stop; its worker was notified. */
    PULP_TASK_CANCEL_REQUESTED,
} pulp_task_cancel_result_t;

/* The NOTIFY channel on which workers hear which running task to cancel. */
#define PULP_TASK_CANCEL_CHANNEL "pulp_task_cancel"

/* Cancels a task: a waiting one at once, a running one by setting cancel_requested and
 * notifying PULP_TASK_CANCEL_CHANNEL. Fails with PULP_ERR_MISSING_RESOURCE for an unknown
 * task and PULP_ERR_TASK_COMPLETE for one that already ended. */
pulp_status_t pulp_task_cancel(PGconn *conn, const char *task_id,
                               pulp_task_cancel_result_t *result, pulp_error_t *error);

/* Returns a new call report {result, error, spawned_tasks: [{_href, task_id}]}. */
json_object *pulp_call_report_new(const char *const *task_ids, size_t n_task_ids);

/* Returns a new {_href, task_id} object for a spawned task. */
json_object *pulp_task_link_new(const char *task_id);

#endif
