/* Compilation of unit association criteria, declared in pulp_unit_criteria.h. */
#include "pulp_unit_criteria.h"

#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"

static const char *const known_keys[] = {
    "type_ids", "filters", "sort", "limit", "skip", "fields", "remove_duplicates", NULL,
};

static int is_known(const char *const *keys, const char *key)
{
    for (int i = 0; keys[i]; i++) {
        if (strcmp(keys[i], key) == 0)
            return 1;
    }
    return 0;
}

/* Returns the member key of criteria, or NULL when it is missing or null. */
static json_object *member(json_object *criteria, const char *key)
{
    json_object *value = NULL;

    if (!criteria || !json_object_object_get_ex(criteria, key, &value))
        return NULL;
    return value;
}

static pulp_status_t check_keys(json_object *criteria, pulp_error_t *error)
{
    if (!json_object_is_type(criteria, json_type_object))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid criteria: expected an object");
    json_object_object_foreach(criteria, key, value) {
        (void)value;
        if (!is_known(known_keys, key))
            return pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE,
                                  "invalid criteria: unsupported key \"%.100s\"", key);
    }
    return PULP_OK;
}

/* Checks that criteria.key (filters, sort or fields) is an object of "unit" and
 * "association" members, or absent. */
static pulp_status_t check_split(json_object *criteria, const char *key, pulp_error_t *error)
{
    static const char *const parts[] = { "unit", "association", NULL };
    json_object *value = member(criteria, key);

    if (!value)
        return PULP_OK;
    if (!json_object_is_type(value, json_type_object))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid criteria: %s must be an object with \"unit\" and "
                              "\"association\" members", key);
    json_object_object_foreach(value, part, part_value) {
        (void)part_value;
        if (!is_known(parts, part))
            return pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE,
                                  "invalid criteria: unsupported key \"%.100s\" in %s: use "
                                  "\"unit\" or \"association\"", part, key);
    }
    return PULP_OK;
}

/* Reads type_ids, a list of strings, into a text[] literal (NULL for every type). */
static pulp_status_t read_type_ids(json_object *criteria, char **text, pulp_error_t *error)
{
    json_object *type_ids = member(criteria, "type_ids");
    const char **items;
    size_t n_items;

    *text = NULL;
    if (!type_ids)
        return PULP_OK;
    if (!json_object_is_type(type_ids, json_type_array))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid criteria: type_ids must be a list of content type ids");
    n_items = json_object_array_length(type_ids);
    if (n_items == 0)
        return PULP_OK;

    items = calloc(n_items, sizeof *items);
    if (!items)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < n_items; i++) {
        json_object *item = json_object_array_get_idx(type_ids, i);

        if (!json_object_is_type(item, json_type_string) ||
            strlen(json_object_get_string(item)) != (size_t)json_object_get_string_len(item)) {
            free(items);
            return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                  "invalid criteria: type_ids must be a list of content type "
                                  "ids");
        }
        items[i] = json_object_get_string(item);
    }
    *text = pulp_db_text_array(items, n_items);
    free(items);
    if (!*text)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    return PULP_OK;
}

static pulp_status_t read_remove_duplicates(json_object *criteria, int *remove_duplicates,
                                            pulp_error_t *error)
{
    json_object *value = member(criteria, "remove_duplicates");

    *remove_duplicates = 0;
    if (!value)
        return PULP_OK;
    if (!json_object_is_type(value, json_type_boolean))
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                              "invalid criteria: remove_duplicates must be true or false");
    *remove_duplicates = json_object_get_boolean(value);
    return PULP_OK;
}

/* Copies criteria.key.part into out as out.key, when present. */
static void copy_part(json_object *criteria, const char *key, const char *part, json_object *out)
{
    json_object *split = member(criteria, key);
    json_object *value = split ? member(split, part) : NULL;

    if (value)
        json_object_object_add(out, key, json_object_get(value));
}

/* Builds the ordinary criteria of one part ("unit" or "association"). */
static json_object *part_criteria(json_object *criteria, const char *part, int with_paging)
{
    json_object *out = json_object_new_object();

    if (!out)
        return NULL;
    copy_part(criteria, "filters", part, out);
    copy_part(criteria, "sort", part, out);
    copy_part(criteria, "fields", part, out);
    if (with_paging && member(criteria, "limit"))
        json_object_object_add(out, "limit", json_object_get(member(criteria, "limit")));
    if (with_paging && member(criteria, "skip"))
        json_object_object_add(out, "skip", json_object_get(member(criteria, "skip")));
    return out;
}

static pulp_criteria_t *compile_part(json_object *criteria, const char *part,
                                     const pulp_criteria_field_t *fields, int first_param,
                                     pulp_error_t *error)
{
    json_object *part_json = part_criteria(criteria, part, strcmp(part, "association") == 0);
    pulp_criteria_t *compiled;

    if (!part_json) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    compiled = pulp_criteria_compile(part_json, fields, first_param, error);
    json_object_put(part_json);
    return compiled;
}

static pulp_status_t collect_params(pulp_unit_criteria_t *result, pulp_error_t *error)
{
    int n_params = (result->type_ids_text ? 1 : 0) + result->unit->n_params +
                   result->association->n_params;

    result->params = calloc((size_t)n_params + 1, sizeof *result->params);
    if (!result->params)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
    if (result->type_ids_text)
        result->params[result->n_params++] = result->type_ids_text;
    for (int i = 0; i < result->unit->n_params; i++)
        result->params[result->n_params++] = result->unit->params[i];
    for (int i = 0; i < result->association->n_params; i++)
        result->params[result->n_params++] = result->association->params[i];
    return PULP_OK;
}

static pulp_status_t compile_all(json_object *criteria, const pulp_criteria_field_t *unit_fields,
                                 const pulp_criteria_field_t *association_fields, int first_param,
                                 pulp_unit_criteria_t *result, pulp_error_t *error)
{
    int next_param = first_param;

    if (criteria && (check_keys(criteria, error) != PULP_OK ||
                     check_split(criteria, "filters", error) != PULP_OK ||
                     check_split(criteria, "sort", error) != PULP_OK ||
                     check_split(criteria, "fields", error) != PULP_OK))
        return error->status;
    if (read_type_ids(criteria, &result->type_ids_text, error) != PULP_OK ||
        read_remove_duplicates(criteria, &result->remove_duplicates, error) != PULP_OK)
        return error->status;
    if (result->type_ids_text)
        result->type_ids_param = next_param++;

    result->unit = compile_part(criteria, "unit", unit_fields, next_param, error);
    if (!result->unit)
        return error->status;
    next_param += result->unit->n_params;
    result->association = compile_part(criteria, "association", association_fields, next_param,
                                       error);
    if (!result->association)
        return error->status;
    return collect_params(result, error);
}

pulp_unit_criteria_t *pulp_unit_criteria_compile(json_object *criteria,
                                                 const pulp_criteria_field_t *unit_fields,
                                                 const pulp_criteria_field_t *association_fields,
                                                 int first_param, pulp_error_t *error)
{
    pulp_error_t local_error = PULP_ERROR_INIT;
    pulp_unit_criteria_t *result = calloc(1, sizeof *result);

    if (!error)
        error = &local_error;
    if (!result) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (compile_all(criteria, unit_fields, association_fields, first_param, result, error) !=
        PULP_OK) {
        pulp_unit_criteria_free(result);
        pulp_error_clear(&local_error);
        return NULL;
    }
    return result;
}

void pulp_unit_criteria_free(pulp_unit_criteria_t *criteria)
{
    if (!criteria)
        return;
    pulp_criteria_free(criteria->unit);
    pulp_criteria_free(criteria->association);
    free(criteria->type_ids_text);
    free(criteria->params);
    free(criteria);
}
