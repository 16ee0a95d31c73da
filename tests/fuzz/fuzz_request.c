/* libFuzzer target for what the API does with a request body before any SQL runs: parse it as
 * JSON, compile criteria and unit association criteria from it, check it as every registered importer and distributor
 * configuration, and check its strings as relative paths and as schedules.
 *
 * Built and run by scripts/run-fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pulp_config_check.h"
#include "pulp_criteria.h"
#include "pulp_json.h"
#include "pulp_plugins.h"
#include "pulp_schedule.h"
#include "pulp_unit_criteria.h"

/* Parses text as a schedule. A valid one must have a positive duration, and each next run
 * must come after the time it was asked for, or be PULP_SCHEDULE_NO_RUN. */
static void check_schedule(const char *text)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_schedule_t schedule;
    int64_t first_run;

    if (pulp_schedule_parse(text, &schedule, &error) != PULP_OK) {
        if (error.status == PULP_OK)
            __builtin_trap();
        pulp_error_clear(&error);
        return;
    }
    if (schedule.months <= 0 && schedule.seconds <= 0)
        __builtin_trap();

    /* Without a start, the first run is the time of the request: 2026-01-01T00:00:00Z here. */
    first_run = schedule.has_start ? schedule.start : INT64_C(1767225600);
    {
        const int64_t afters[] = {
            first_run - 1, first_run, first_run + 12345678, PULP_SCHEDULE_MAX_TIME - 10,
        };

        for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
            int64_t next = pulp_schedule_next_run(&schedule, first_run, afters[i]);

            if (next != PULP_SCHEDULE_NO_RUN &&
                (next <= afters[i] || next > PULP_SCHEDULE_MAX_TIME))
                __builtin_trap();
        }
    }
}

static void check_schedules(json_object *value)
{
    if (json_object_is_type(value, json_type_string)) {
        check_schedule(json_object_get_string(value));
        return;
    }
    if (json_object_is_type(value, json_type_object)) {
        json_object_object_foreach(value, key, member) {
            (void)key;
            check_schedules(member);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const pulp_criteria_field_t fields[] = {
    { "id", "r.id", PULP_FIELD_TEXT },
    { "count", "r.count", PULP_FIELD_NUMBER },
    { "enabled", "r.enabled", PULP_FIELD_BOOLEAN },
    { "created", "r.created", PULP_FIELD_TIMESTAMP },
    { "tags", "r.tags", PULP_FIELD_TEXT_ARRAY },
    { "notes", "r.notes", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

/* The fields of a unit search: fixed ones and any identifier path into metadata. */
static const pulp_criteria_field_t unit_fields[] = {
    { "_id", "u.id::text", PULP_FIELD_TEXT },
    { "_last_updated", "u.updated", PULP_FIELD_TIMESTAMP },
    { PULP_CRITERIA_ANY_FIELD, "u.metadata", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const pulp_criteria_field_t association_fields[] = {
    { "created", "c.created", PULP_FIELD_TIMESTAMP },
    { "owner_type", "c.owner_type", PULP_FIELD_TEXT },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static void compile_unit_criteria(json_object *criteria)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_unit_criteria_t *compiled = pulp_unit_criteria_compile(criteria, unit_fields,
                                                                association_fields, 3, &error);

    /* Either a result or an error, never both and never neither. */
    if (compiled) {
        if (error.status != PULP_OK || !compiled->unit || !compiled->association)
            __builtin_trap();
        for (int i = 0; i < compiled->n_params; i++) {
            if (!compiled->params[i])
                __builtin_trap();
        }
    } else if (error.status == PULP_OK) {
        __builtin_trap();
    }
    pulp_unit_criteria_free(compiled);
    pulp_error_clear(&error);
}

static void compile_criteria(json_object *criteria)
{
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_criteria_t *compiled = pulp_criteria_compile(criteria, fields, 1, &error);

    /* Either a result or an error, never both and never neither. */
    if (compiled) {
        if (error.status != PULP_OK || !compiled->where || !compiled->order_by ||
            !compiled->limit)
            __builtin_trap();
        for (int i = 0; i < compiled->n_params; i++) {
            if (!compiled->params[i])
                __builtin_trap();
        }
    } else if (error.status == PULP_OK) {
        __builtin_trap();
    }
    pulp_criteria_free(compiled);
    pulp_error_clear(&error);
}

static void check_configs(json_object *config)
{
    for (int i = 0; pulp_importer_type_at(i); i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        pulp_importer_type_at(i)->validate_config(config, &error);
        pulp_error_clear(&error);
    }
    for (int i = 0; pulp_distributor_type_at(i); i++) {
        pulp_error_t error = PULP_ERROR_INIT;

        pulp_distributor_type_at(i)->validate_config(config, &error);
        pulp_error_clear(&error);
    }
}

static void check_paths(json_object *value)
{
    if (json_object_is_type(value, json_type_string)) {
        pulp_config_relative_path_is_safe(json_object_get_string(value),
                                          (size_t)json_object_get_string_len(value));
        return;
    }
    if (json_object_is_type(value, json_type_object)) {
        json_object_object_foreach(value, key, member) {
            (void)key;
            check_paths(member);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = pulp_json_parse_body((const char *)data, size, &error);
    json_object *criteria = NULL;

    if (!body) {
        if (error.status == PULP_OK)
            __builtin_trap();
        pulp_error_clear(&error);
        return 0;
    }

    compile_criteria(body);
    compile_unit_criteria(body);
    if (json_object_is_type(body, json_type_object) &&
        json_object_object_get_ex(body, "criteria", &criteria)) {
        compile_criteria(criteria);
        compile_unit_criteria(criteria);
    }
    if (json_object_is_type(body, json_type_object)) {
        json_object *merged = pulp_config_merge(body, body);

        check_configs(body);
        json_object_put(merged);
    }
    check_paths(body);
    check_schedules(body);
    json_object_put(body);
    return 0;
}
