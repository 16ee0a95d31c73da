/* Pulp unit association criteria: the criteria of a search for the units of a repository.
 *
 * Pulp 2 clients send them as:
 *
 *   {"type_ids": ["rpm"],
 *    "filters": {"unit": {"name": "tapir"}, "association": {"owner_type": "importer"}},
 *    "sort": {"unit": [["name", "ascending"]], "association": [["created", "descending"]]},
 *    "limit": 10, "skip": 20,
 *    "fields": {"unit": ["name", "version"], "association": ["created"]},
 *    "remove_duplicates": true}
 *
 * Every member is optional. The "unit" parts are compiled against the unit's fields and the
 * "association" parts against the association's fields, each as ordinary criteria
 * (pulp_criteria.h), so the same checks apply: names are checked, values are parameters.
 * "limit" and "skip" end up in the association part. "type_ids" becomes one text[]
 * parameter; an empty list means every type, as in Pulp 2.
 */
#ifndef PULP_UNIT_CRITERIA_H
#define PULP_UNIT_CRITERIA_H

#include "pulp_criteria.h"

typedef struct pulp_unit_criteria {
    /* Placeholder number of the text[] of type_ids, or 0 when every type is wanted. */
    int type_ids_param;
    /* The unit part: where, order_by and fields; its limit is always empty. */
    pulp_criteria_t *unit;
    /* The association part: where, order_by, fields, and the limit of the whole search. */
    pulp_criteria_t *association;
    int remove_duplicates;
    /* Every parameter in placeholder order from first_param: type_ids, then the unit's, then
     * the association's. The strings belong to the parts and to type_ids_text. */
    const char **params;
    int n_params;
    char *type_ids_text;
} pulp_unit_criteria_t;

/* Compiles unit association criteria (a JSON object, or NULL for "everything") against the
 * two field lists. Returns NULL with error set on invalid input or when out of memory. */
pulp_unit_criteria_t *pulp_unit_criteria_compile(json_object *criteria,
                                                 const pulp_criteria_field_t *unit_fields,
                                                 const pulp_criteria_field_t *association_fields,
                                                 int first_param, pulp_error_t *error);

/* Frees compiled unit criteria; NULL is allowed. */
void pulp_unit_criteria_free(pulp_unit_criteria_t *criteria);

#endif
