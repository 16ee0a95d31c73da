/* Content units: /content/units/<type>/ (list, search, read) and the unit search of one
 * repository, /repositories/<id>/search/units/.
 *
 * A unit's document is its unit key and metadata merged, plus the server's fields (_id,
 * _content_type_id, _storage_path, _last_updated, _ns, _href), as Pulp 2 returned it.
 * Criteria may name any metadata key (PULP_CRITERIA_ANY_FIELD): a key that a unit lacks
 * matches nothing. */
#include <string.h>

#include <apr_strings.h>

#include "body.h"
#include "pulp_db.h"
#include "pulp_unit_criteria.h"
#include "pulp_uuid.h"
#include "repositories.h"
#include "router.h"
#include "search.h"

/* Every query of this file has the type or repository id as $1 and the storage directory as
 * $2, which _storage_path needs. */
#define STORAGE_PATH_SQL "(rtrim($2::text, '/') || '/' || u.storage_path)"

#define UNIT_NS_SQL "('units_' || u.type_id)"
#define UNIT_HREF_SQL "('/pulp/api/v2/content/units/' || u.type_id || '/' || u.id || '/')"

/* The unit document (jsonb) of "units u". */
#define UNIT_DOCUMENT_SQL \
    "(u.unit_key || u.metadata || jsonb_build_object('_id', u.id," \
    " '_content_type_id', u.type_id, '_ns', " UNIT_NS_SQL "," \
    " '_storage_path', " STORAGE_PATH_SQL "," \
    " '_last_updated', " PULP_SQL_TIMESTAMP("u.updated") "," \
    " 'pulp_user_metadata', '{}'::jsonb," \
    " '_href', " UNIT_HREF_SQL "))"

/* The ids of the repositories that contain unit u, sorted. */
#define REPOSITORY_MEMBERSHIPS_SQL \
    " || jsonb_build_object('repository_memberships'," \
    " (SELECT coalesce(jsonb_agg(m.repo_id ORDER BY m.repo_id), '[]'::jsonb)" \
    "  FROM repo_content_units m WHERE m.unit_id = u.id))"

static const pulp_criteria_field_t unit_fields[] = {
    { "_id", "u.id::text", PULP_FIELD_TEXT },
    { "_content_type_id", "u.type_id", PULP_FIELD_TEXT },
    { "_storage_path", STORAGE_PATH_SQL, PULP_FIELD_TEXT },
    { "_last_updated", "u.updated", PULP_FIELD_TIMESTAMP },
    { "_ns", UNIT_NS_SQL, PULP_FIELD_TEXT },
    { "_href", UNIT_HREF_SQL, PULP_FIELD_TEXT },
    { PULP_CRITERIA_ANY_FIELD, "(u.unit_key || u.metadata)", PULP_FIELD_JSON },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const char *const unit_always_fields[] = {
    "_id", "_content_type_id", "_href", "repository_memberships", NULL,
};

static const char *unit_document_sql(pulp_request_t *req, int include_repos)
{
    if (!include_repos)
        return UNIT_DOCUMENT_SQL;
    return apr_pstrcat(req->r->pool, "(", UNIT_DOCUMENT_SQL, REPOSITORY_MEMBERSHIPS_SQL, ")",
                       NULL);
}

/* Sends the units of the path's type that match criteria (NULL for all). */
static int send_units(pulp_request_t *req, json_object *criteria, int include_repos)
{
    const char **params = apr_pcalloc(req->r->pool, 2 * sizeof *params);
    pulp_search_t search = {
        unit_document_sql(req, include_repos),
        "units u",
        "u.unit_key, u.id",
        unit_fields,
        unit_always_fields,
        "u.type_id = $1",
        params,
        2,
    };

    params[0] = req->params[0];
    params[1] = req->config->storage_dir;
    return pulp_search_send(req, &search, criteria);
}

static int list_units(pulp_request_t *req)
{
    return send_units(req, NULL, pulp_request_flag(req, "include_repos"));
}

static int search_units(pulp_request_t *req)
{
    static const char *const extra_keys[] = { "include_repos", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    json_object *body = NULL;
    json_object *criteria;
    int include_repos = pulp_request_flag(req, "include_repos");

    criteria = pulp_search_criteria(req, extra_keys, &body, &error);
    if (error.status != PULP_OK)
        return pulp_send_error_clear(req, &error);
    if (body && pulp_body_boolean(body, "include_repos", &include_repos, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    return send_units(req, criteria, include_repos);
}

static int get_unit(pulp_request_t *req)
{
    const char *unit_id = req->params[1];
    const char *params[] = { req->params[0], req->config->storage_dir, unit_id };
    pulp_resource_name_t name = { "unit", unit_id, "content_type", req->params[0] };

    /* Any other text would fail the uuid cast, and no unit has such an id. */
    if (!pulp_uuid_is_valid(unit_id))
        return pulp_send_missing(req, &name);
    return pulp_send_document(req, HTTP_OK,
                              "SELECT (" UNIT_DOCUMENT_SQL ")::text FROM units u"
                              " WHERE u.type_id = $1 AND u.id = $3::uuid",
                              3, params, &name);
}

/* The id of an association of "repo_content_units c". The table has no id of its own
 * because (repo_id, unit_id) is its key, so the id is a UUID derived from that pair, stable
 * across requests. */
#define ASSOCIATION_ID_SQL "md5(c.repo_id || '/' || c.unit_id::text)::uuid"

/* The members of the association document of "repo_content_units c", but its metadata. */
#define ASSOCIATION_MEMBERS \
    "'id', " ASSOCIATION_ID_SQL "," \
    " 'repo_id', c.repo_id, 'unit_id', c.unit_id, 'unit_type_id', c.unit_type_id," \
    " 'owner_type', c.owner_type, 'owner_id', c.owner_id," \
    " 'created', " PULP_SQL_TIMESTAMP("c.created") "," \
    " 'updated', " PULP_SQL_TIMESTAMP("c.updated") "," \
    " '_ns', 'repo_content_units'"

static const pulp_criteria_field_t association_fields[] = {
    { "created", "c.created", PULP_FIELD_TIMESTAMP },
    { "updated", "c.updated", PULP_FIELD_TIMESTAMP },
    { "owner_type", "c.owner_type", PULP_FIELD_TEXT },
    { "owner_id", "c.owner_id", PULP_FIELD_TEXT },
    { "unit_id", "c.unit_id::text", PULP_FIELD_TEXT },
    { "unit_type_id", "c.unit_type_id", PULP_FIELD_TEXT },
    { "id", ASSOCIATION_ID_SQL "::text", PULP_FIELD_TEXT },
    { "repo_id", "c.repo_id", PULP_FIELD_TEXT },
    { NULL, NULL, PULP_FIELD_TEXT },
};

static const char *const association_always_fields[] = {
    "id", "unit_id", "unit_type_id", "metadata", NULL,
};

/* Returns the sort keys of an "ORDER BY ..." clause followed by ", ", or "". */
static const char *order_terms(pulp_request_t *req, const char *order_by)
{
    static const char prefix[] = "ORDER BY ";

    if (strncmp(order_by, prefix, sizeof prefix - 1) != 0)
        return "";
    return apr_pstrcat(req->r->pool, order_by + sizeof prefix - 1, ", ", NULL);
}

/* Builds the query of a repository's unit search. The name lists of the two projections
 * are appended to params. Returns NULL when out of memory. */
static const char *association_query(pulp_request_t *req, const pulp_unit_criteria_t *compiled,
                                     const char **params, int *n_params)
{
    const pulp_criteria_t *unit = compiled->unit;
    const pulp_criteria_t *association = compiled->association;
    const char *names_param;
    const char *unit_document;
    const char *document;
    const char *type_filter = "";

    unit_document = pulp_search_project(req, UNIT_DOCUMENT_SQL, unit->fields, unit->n_fields,
                                        unit_always_fields, *n_params + 1, &names_param);
    if (!unit_document)
        return NULL;
    if (names_param)
        params[(*n_params)++] = names_param;
    document = apr_pstrcat(req->r->pool, "json_build_object(", ASSOCIATION_MEMBERS,
                           ", 'metadata', ", unit_document, ")", NULL);
    document = pulp_search_project(req, document, association->fields, association->n_fields,
                                   association_always_fields, *n_params + 1, &names_param);
    if (!document)
        return NULL;
    if (names_param)
        params[(*n_params)++] = names_param;

    if (compiled->type_ids_param)
        type_filter = apr_psprintf(req->r->pool, " AND c.unit_type_id = ANY($%d::text[])",
                                   compiled->type_ids_param);
    /* The unit's sort keys come first, then the association's. The unit id comes last, so
     * that pages of limit and skip are stable. */
    return apr_pstrcat(req->r->pool, "SELECT (", document, ")::text",
                       " FROM repo_content_units c JOIN units u ON u.id = c.unit_id",
                       " WHERE c.repo_id = $1", type_filter, " AND ", unit->where, " AND ",
                       association->where, " ORDER BY ", order_terms(req, unit->order_by),
                       order_terms(req, association->order_by),
                       "c.unit_type_id, u.unit_key, c.unit_id ", association->limit, NULL);
}

/* remove_duplicates needs no work: a repository contains a unit at most once, because
 * (repo_id, unit_id) is the key of repo_content_units. */
static int search_repository_units(pulp_request_t *req)
{
    static const char *const keys[] = { "criteria", NULL };
    pulp_error_t error = PULP_ERROR_INIT;
    pulp_unit_criteria_t *compiled = NULL;
    const char *before[] = { req->params[0], req->config->storage_dir };
    const char **params;
    json_object *body = pulp_request_json_object(req, &error);
    json_object *criteria = NULL;
    PGresult *result = NULL;
    const char *sql;
    int n_params = 2;
    int status;

    if (!body || pulp_body_check_keys(body, keys, &error) != PULP_OK ||
        pulp_body_object(body, "criteria", 1, &criteria, &error) != PULP_OK)
        return pulp_send_error_clear(req, &error);
    compiled = pulp_unit_criteria_compile(criteria, unit_fields, association_fields, 3, &error);
    if (!compiled)
        return pulp_send_error_clear(req, &error);

    status = pulp_repo_require(req, req->params[0]);
    if (status != DECLINED)
        goto end;

    params = apr_pcalloc(req->r->pool, sizeof *params * (size_t)(compiled->n_params + 4));
    memcpy(params, before, sizeof before);
    memcpy(params + n_params, compiled->params, sizeof *params * (size_t)compiled->n_params);
    n_params += compiled->n_params;
    sql = association_query(req, compiled, params, &n_params);
    if (!sql) {
        status = pulp_send_error_status(req, PULP_ERR_INTERNAL, "out of memory");
        goto end;
    }

    result = pulp_search_query(req, req->db,
                               compiled->unit->has_regex || compiled->association->has_regex,
                               sql, n_params, params, &error);
    if (!result) {
        status = pulp_send_error_clear(req, &error);
        goto end;
    }
    status = pulp_send_json_rows(req, HTTP_OK, result);

end:
    PQclear(result);
    pulp_unit_criteria_free(compiled);
    return status;
}

const pulp_route_t pulp_unit_routes[] = {
    { "GET", "/content/units/{type_id}/", list_units, PULP_OPERATION_READ },
    { "GET", "/content/units/{type_id}/search/", search_units, PULP_OPERATION_READ },
    { "POST", "/content/units/{type_id}/search/", search_units, PULP_OPERATION_READ },
    { "GET", "/content/units/{type_id}/{unit_id}/", get_unit, PULP_OPERATION_READ },
    { "POST", "/repositories/{repo_id}/search/units/", search_repository_units,
      PULP_OPERATION_READ },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
