/* The parts of Pulp 2's progress reports that the sync and the publish share. */
#include "yum.h"

json_object *yum_step_json(const yum_step_t *step)
{
    json_object *object = json_object_new_object();
    json_object *details = json_object_new_array();

    json_object_object_add(object, "state", json_object_new_string(step->state));
    if (step->error[0]) {
        json_object *entry = json_object_new_object();

        json_object_object_add(entry, "error", json_object_new_string(step->error));
        json_object_array_add(details, entry);
    }
    json_object_object_add(object, "error_details", details);
    return object;
}
