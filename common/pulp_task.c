#include "pulp_task.h"

#include <stdio.h>
#include <stdlib.h>

#include "pulp_db.h"

/* One statement, so one round trip: the aggregate consumes every lock row, in key order,
 * before nextval() is evaluated for the single row that is inserted. The transaction-level
 * locks are released by the statement's own commit. */
static const char insert_sql[] =
    "INSERT INTO tasks (task_id, seq, task_type, tags, resources, shared_resources, args,"
    "                   schedule_id)"
    " SELECT $1::uuid, nextval('task_seq'), $2, $3::text[], $4::text[], $5::text[],"
    "        $6::jsonb, $7::uuid"
    " FROM (SELECT count(*) FROM ("
    "         SELECT pg_advisory_xact_lock(key) FROM ("
    "             SELECT DISTINCT hashtextextended(resource, 0) AS key"
    "             FROM unnest($4::text[] || $5::text[]) AS resource"
    "             ORDER BY key) AS keys) AS locked) AS all_locked";

pulp_status_t pulp_task_insert(PGconn *conn, const pulp_task_spec_t *spec,
                               char task_id[PULP_UUID_LENGTH + 1], pulp_error_t *error)
{
    char *tags = NULL;
    char *resources = NULL;
    char *shared = NULL;
    const char *args;
    pulp_status_t status;

    if (pulp_uuid_generate(task_id) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not generate a task id");

    tags = pulp_db_text_array(spec->tags, spec->n_tags);
    resources = pulp_db_text_array(spec->resources, spec->n_resources);
    shared = pulp_db_text_array(spec->shared_resources, spec->n_shared_resources);
    if (!tags || !resources || !shared) {
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }

    args = spec->args ? json_object_to_json_string_ext(spec->args, JSON_C_TO_STRING_PLAIN)
                      : "{}";
    {
        const char *params[] = {
            task_id, spec->task_type, tags, resources, shared, args, spec->schedule_id,
        };

        status = pulp_db_command(conn, error, insert_sql, 7, params);
    }

end:
    free(tags);
    free(resources);
    free(shared);
    return status;
}

json_object *pulp_task_link_new(const char *task_id)
{
    char href[sizeof "/pulp/api/v2/tasks//" + PULP_UUID_LENGTH];
    json_object *link = json_object_new_object();

    snprintf(href, sizeof href, "/pulp/api/v2/tasks/%s/", task_id);
    json_object_object_add(link, "_href", json_object_new_string(href));
    json_object_object_add(link, "task_id", json_object_new_string(task_id));
    return link;
}

json_object *pulp_call_report_new(const char *const *task_ids, size_t n_task_ids)
{
    json_object *report = json_object_new_object();
    json_object *spawned = json_object_new_array();

    for (size_t i = 0; i < n_task_ids; i++)
        json_object_array_add(spawned, pulp_task_link_new(task_ids[i]));

    json_object_object_add(report, "result", NULL);
    json_object_object_add(report, "error", NULL);
    json_object_object_add(report, "spawned_tasks", spawned);
    return report;
}
