/* /plugins/types/, /plugins/importers/, /plugins/distributors/ and /content/types/: the
 * registered content types, importer types and distributor types, from the registry. */
#include "mod_pulp.h"

#include <string.h>

#include "body.h"
#include "pulp_plugins.h"
#include "repositories.h"
#include "router.h"

static json_object *string_list(const char *const *items)
{
    json_object *list = json_object_new_array();

    for (int i = 0; items && items[i]; i++)
        json_object_array_add(list, json_object_new_string(items[i]));
    return list;
}

static json_object *content_type_document(pulp_request_t *req, const pulp_content_type_t *type,
                                          const char *collection)
{
    json_object *document = json_object_new_object();

    json_object_object_add(document, "id", json_object_new_string(type->id));
    json_object_object_add(document, "display_name", json_object_new_string(type->display_name));
    json_object_object_add(document, "description", json_object_new_string(type->description));
    json_object_object_add(document, "unit_key", string_list(type->unit_key));
    json_object_object_add(document, "search_indexes", string_list(type->search_indexes));
    json_object_object_add(document, "referenced_types", json_object_new_array());
    json_object_object_add(document, "_ns", json_object_new_string("content_types"));
    json_object_object_add(document, "_href",
                           json_object_new_string(pulp_href(req, "/%s/%s/", collection,
                                                            type->id)));
    return document;
}

static json_object *plugin_document(pulp_request_t *req, const char *id,
                                    const char *display_name, const char *const *types,
                                    const char *collection)
{
    json_object *document = json_object_new_object();

    json_object_object_add(document, "id", json_object_new_string(id));
    json_object_object_add(document, "display_name", json_object_new_string(display_name));
    json_object_object_add(document, "types", string_list(types));
    json_object_object_add(document, "_href",
                           json_object_new_string(pulp_href(req, "/plugins/%s/%s/", collection,
                                                            id)));
    return document;
}

static int send_missing_type(pulp_request_t *req, const char *kind)
{
    pulp_resource_name_t name = { kind, req->params[0], NULL, NULL };

    return pulp_send_missing(req, &name);
}

/* The content types are listed both under /plugins/types/ and /content/types/; the
 * collection names the one the request used, for the documents' _href. */
static int list_content_types(pulp_request_t *req, const char *collection)
{
    json_object *list = pulp_request_own_json(req, json_object_new_array());
    const pulp_content_type_t *type = pulp_content_type_at(0);

    for (int i = 1; type; i++) {
        json_object_array_add(list, content_type_document(req, type, collection));
        type = pulp_content_type_at(i);
    }
    return pulp_send_json(req, HTTP_OK, list);
}

static int get_content_type(pulp_request_t *req, const char *collection)
{
    const pulp_content_type_t *type = pulp_content_type_find(req->params[0]);

    if (!type)
        return send_missing_type(req, "content_type");
    return pulp_send_json(req, HTTP_OK,
                          pulp_request_own_json(req, content_type_document(req, type,
                                                                           collection)));
}

static int list_plugin_types(pulp_request_t *req)
{
    return list_content_types(req, "plugins/types");
}

static int get_plugin_type(pulp_request_t *req)
{
    return get_content_type(req, "plugins/types");
}

static int list_unit_types(pulp_request_t *req)
{
    return list_content_types(req, "content/types");
}

static int get_unit_type(pulp_request_t *req)
{
    return get_content_type(req, "content/types");
}

static int list_importer_types(pulp_request_t *req)
{
    json_object *list = pulp_request_own_json(req, json_object_new_array());
    const pulp_importer_type_t *type = pulp_importer_type_at(0);

    for (int i = 1; type; i++) {
        json_object_array_add(list, plugin_document(req, type->id, type->display_name,
                                                    type->content_types, "importers"));
        type = pulp_importer_type_at(i);
    }
    return pulp_send_json(req, HTTP_OK, list);
}

static int get_importer_type(pulp_request_t *req)
{
    const pulp_importer_type_t *type = pulp_importer_type_find(req->params[0]);

    if (!type)
        return send_missing_type(req, "importer_type");
    return pulp_send_json(req, HTTP_OK,
                          pulp_request_own_json(req, plugin_document(req, type->id,
                                                                     type->display_name,
                                                                     type->content_types,
                                                                     "importers")));
}

static int list_distributor_types(pulp_request_t *req)
{
    json_object *list = pulp_request_own_json(req, json_object_new_array());
    const pulp_distributor_type_t *type = pulp_distributor_type_at(0);

    for (int i = 1; type; i++) {
        json_object_array_add(list, plugin_document(req, type->id, type->display_name,
                                                    type->content_types, "distributors"));
        type = pulp_distributor_type_at(i);
    }
    return pulp_send_json(req, HTTP_OK, list);
}

static int get_distributor_type(pulp_request_t *req)
{
    const pulp_distributor_type_t *type = pulp_distributor_type_find(req->params[0]);

    if (!type)
        return send_missing_type(req, "distributor_type");
    return pulp_send_json(req, HTTP_OK,
                          pulp_request_own_json(req, plugin_document(req, type->id,
                                                                     type->display_name,
                                                                     type->content_types,
                                                                     "distributors")));
}

const pulp_route_t pulp_plugin_type_routes[] = {
    { "GET", "/plugins/types/", list_plugin_types, PULP_OPERATION_READ },
    { "GET", "/plugins/types/{type_id}/", get_plugin_type, PULP_OPERATION_READ },
    { "GET", "/plugins/importers/", list_importer_types, PULP_OPERATION_READ },
    { "GET", "/plugins/importers/{type_id}/", get_importer_type, PULP_OPERATION_READ },
    { "GET", "/plugins/distributors/", list_distributor_types, PULP_OPERATION_READ },
    { "GET", "/plugins/distributors/{type_id}/", get_distributor_type, PULP_OPERATION_READ },
    { "GET", "/content/types/", list_unit_types, PULP_OPERATION_READ },
    { "GET", "/content/types/{type_id}/", get_unit_type, PULP_OPERATION_READ },
    { NULL, NULL, NULL, PULP_OPERATION_NONE },
};
