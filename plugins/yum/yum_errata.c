/* Errata: updateinfo.xml to erratum units at sync, and back to updateinfo.xml at publish.
 *
 * An erratum's metadata is Pulp 2's document (id, title, dates, references, pkglist...), so
 * searches and copies see the same fields as in Pulp 2; the publish rebuilds createrepo_c
 * update records from it. */
#include <createrepo_c/createrepo_c.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "yum.h"

/* --- updateinfo to JSON ---------------------------------------------------------------- */

static void add_string(json_object *object, const char *key, const char *value)
{
    json_object_object_add(object, key, value ? json_object_new_string(value) : NULL);
}

static json_object *package_json(const cr_UpdateCollectionPackage *pkg)
{
    json_object *object = json_object_new_object();

    add_string(object, "name", pkg->name);
    add_string(object, "version", pkg->version);
    add_string(object, "release", pkg->release);
    add_string(object, "epoch", pkg->epoch ? pkg->epoch : "0");
    add_string(object, "arch", pkg->arch);
    add_string(object, "src", pkg->src);
    add_string(object, "filename", pkg->filename);
    if (pkg->sum) {
        json_object *sum = json_object_new_array();

        json_object_array_add(sum, json_object_new_string(cr_checksum_name_str(pkg->sum_type)));
        json_object_array_add(sum, json_object_new_string(pkg->sum));
        json_object_object_add(object, "sum", sum);
    } else {
        json_object_object_add(object, "sum", NULL);
    }
    json_object_object_add(object, "reboot_suggested",
                           json_object_new_boolean(pkg->reboot_suggested));
    json_object_object_add(object, "restart_suggested",
                           json_object_new_boolean(pkg->restart_suggested));
    json_object_object_add(object, "relogin_suggested",
                           json_object_new_boolean(pkg->relogin_suggested));
    return object;
}

static json_object *module_json(const cr_UpdateCollectionModule *module)
{
    json_object *object = json_object_new_object();

    add_string(object, "name", module->name);
    add_string(object, "stream", module->stream);
    json_object_object_add(object, "version", json_object_new_int64((int64_t)module->version));
    add_string(object, "context", module->context);
    add_string(object, "arch", module->arch);
    return object;
}

static json_object *collection_json(const cr_UpdateCollection *collection)
{
    json_object *object = json_object_new_object();
    json_object *packages = json_object_new_array();

    add_string(object, "name", collection->name);
    add_string(object, "short", collection->shortname);
    if (collection->module)
        json_object_object_add(object, "module", module_json(collection->module));
    for (GSList *item = collection->packages; item; item = item->next)
        json_object_array_add(packages, package_json(item->data));
    json_object_object_add(object, "packages", packages);
    return object;
}

static json_object *reference_json(const cr_UpdateReference *reference)
{
    json_object *object = json_object_new_object();

    add_string(object, "href", reference->href);
    add_string(object, "id", reference->id);
    add_string(object, "title", reference->title);
    add_string(object, "type", reference->type);
    return object;
}

static json_object *erratum_json(const cr_UpdateRecord *record)
{
    json_object *object = json_object_new_object();
    json_object *references = json_object_new_array();
    json_object *pkglist = json_object_new_array();

    add_string(object, "id", record->id);
    add_string(object, "title", record->title);
    add_string(object, "description", record->description);
    add_string(object, "version", record->version);
    add_string(object, "release", record->release);
    add_string(object, "type", record->type);
    add_string(object, "status", record->status);
    add_string(object, "updated", record->updated_date);
    add_string(object, "issued", record->issued_date);
    add_string(object, "severity", record->severity);
    add_string(object, "summary", record->summary);
    add_string(object, "solution", record->solution);
    add_string(object, "rights", record->rights);
    add_string(object, "from", record->from);
    add_string(object, "pushcount", record->pushcount);
    json_object_object_add(object, "reboot_suggested",
                           json_object_new_boolean(record->reboot_suggested));
    for (GSList *item = record->references; item; item = item->next)
        json_object_array_add(references, reference_json(item->data));
    for (GSList *item = record->collections; item; item = item->next)
        json_object_array_add(pkglist, collection_json(item->data));
    json_object_object_add(object, "references", references);
    json_object_object_add(object, "pkglist", pkglist);
    return object;
}

pulp_status_t yum_errata_sync(PGconn *db, pulp_task_context_t *ctx, const char *path,
                              long long *count, int *updated, pulp_error_t *error)
{
    cr_UpdateInfo *info = cr_updateinfo_new();
    GError *gerror = NULL;
    pulp_status_t status = PULP_OK;

    *count = 0;
    if (cr_xml_parse_updateinfo(path, info, NULL, NULL, &gerror) != CRE_OK) {
        char *reason = yum_parse_message(gerror, path, "updateinfo.xml");

        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not parse updateinfo.xml: "
                                "%s", reason);
        g_free(reason);
        goto end;
    }

    for (GSList *item = info->updates; item && status == PULP_OK; item = item->next) {
        const cr_UpdateRecord *record = item->data;
        json_object *key;
        json_object *metadata;

        if (!record->id || !*record->id) {
            status = pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                                    "invalid update in updateinfo.xml: its id is missing");
            break;
        }
        if (pulp_task_cancel_requested(ctx)) {
            status = pulp_error_set(error, PULP_ERR_CANCELED, "the sync was canceled");
            break;
        }
        key = json_object_new_object();
        add_string(key, "id", record->id);
        metadata = erratum_json(record);
        status = yum_unit_upsert(db, YUM_TYPE_ERRATUM, key, metadata, NULL, 1, updated, error);
        json_object_put(key);
        json_object_put(metadata);
        (*count)++;
    }

end:
    g_clear_error(&gerror);
    cr_updateinfo_free(info);
    return status;
}

/* --- JSON to updateinfo ---------------------------------------------------------------- */

static const char *member(json_object *object, const char *key)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(object, key, &value) || !value)
        return NULL;
    return json_object_get_string(value);
}

static int member_bool(json_object *object, const char *key)
{
    json_object *value = NULL;

    return json_object_object_get_ex(object, key, &value) && value &&
           json_object_get_boolean(value);
}

static json_object *member_array(json_object *object, const char *key)
{
    json_object *value = NULL;

    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_array))
        return NULL;
    return value;
}

#define STRING(chunk, object, key) cr_safe_string_chunk_insert((chunk), member((object), (key)))

static cr_UpdateCollectionPackage *package_record(json_object *object)
{
    cr_UpdateCollectionPackage *pkg = cr_updatecollectionpackage_new();
    json_object *sum = member_array(object, "sum");

    pkg->name = STRING(pkg->chunk, object, "name");
    pkg->version = STRING(pkg->chunk, object, "version");
    pkg->release = STRING(pkg->chunk, object, "release");
    pkg->epoch = STRING(pkg->chunk, object, "epoch");
    pkg->arch = STRING(pkg->chunk, object, "arch");
    pkg->src = STRING(pkg->chunk, object, "src");
    pkg->filename = STRING(pkg->chunk, object, "filename");
    if (sum && json_object_array_length(sum) == 2) {
        pkg->sum_type = cr_checksum_type(
            json_object_get_string(json_object_array_get_idx(sum, 0)));
        pkg->sum = cr_safe_string_chunk_insert(
            pkg->chunk, json_object_get_string(json_object_array_get_idx(sum, 1)));
    }
    pkg->reboot_suggested = member_bool(object, "reboot_suggested");
    pkg->restart_suggested = member_bool(object, "restart_suggested");
    pkg->relogin_suggested = member_bool(object, "relogin_suggested");
    return pkg;
}

static cr_UpdateCollection *collection_record(json_object *object)
{
    cr_UpdateCollection *collection = cr_updatecollection_new();
    json_object *packages = member_array(object, "packages");
    json_object *module = NULL;

    collection->name = STRING(collection->chunk, object, "name");
    collection->shortname = STRING(collection->chunk, object, "short");
    if (json_object_object_get_ex(object, "module", &module) && module) {
        json_object *version = NULL;

        collection->module = cr_updatecollectionmodule_new();
        collection->module->name = STRING(collection->module->chunk, module, "name");
        collection->module->stream = STRING(collection->module->chunk, module, "stream");
        collection->module->context = STRING(collection->module->chunk, module, "context");
        collection->module->arch = STRING(collection->module->chunk, module, "arch");
        if (json_object_object_get_ex(module, "version", &version))
            collection->module->version = (guint64)json_object_get_int64(version);
    }
    for (size_t i = 0; packages && i < json_object_array_length(packages); i++)
        cr_updatecollection_append_package(
            collection, package_record(json_object_array_get_idx(packages, i)));
    return collection;
}

static cr_UpdateRecord *update_record(json_object *object)
{
    cr_UpdateRecord *record = cr_updaterecord_new();
    json_object *references = member_array(object, "references");
    json_object *pkglist = member_array(object, "pkglist");

    record->id = STRING(record->chunk, object, "id");
    record->title = STRING(record->chunk, object, "title");
    record->description = STRING(record->chunk, object, "description");
    record->version = STRING(record->chunk, object, "version");
    record->release = STRING(record->chunk, object, "release");
    record->type = STRING(record->chunk, object, "type");
    record->status = STRING(record->chunk, object, "status");
    record->updated_date = STRING(record->chunk, object, "updated");
    record->issued_date = STRING(record->chunk, object, "issued");
    record->severity = STRING(record->chunk, object, "severity");
    record->summary = STRING(record->chunk, object, "summary");
    record->solution = STRING(record->chunk, object, "solution");
    record->rights = STRING(record->chunk, object, "rights");
    record->from = STRING(record->chunk, object, "from");
    record->pushcount = STRING(record->chunk, object, "pushcount");
    record->reboot_suggested = member_bool(object, "reboot_suggested");

    for (size_t i = 0; references && i < json_object_array_length(references); i++) {
        json_object *entry = json_object_array_get_idx(references, i);
        cr_UpdateReference *reference = cr_updatereference_new();

        reference->href = STRING(reference->chunk, entry, "href");
        reference->id = STRING(reference->chunk, entry, "id");
        reference->title = STRING(reference->chunk, entry, "title");
        reference->type = STRING(reference->chunk, entry, "type");
        cr_updaterecord_append_reference(record, reference);
    }
    for (size_t i = 0; pkglist && i < json_object_array_length(pkglist); i++)
        cr_updaterecord_append_collection(
            record, collection_record(json_object_array_get_idx(pkglist, i)));
    return record;
}

static const char errata_sql[] =
    "SELECT u.metadata FROM repo_content_units r JOIN units u ON u.id = r.unit_id"
    " WHERE r.repo_id = $1 AND r.unit_type_id = 'erratum' ORDER BY u.unit_key->>'id'";

static pulp_status_t write_text(CR_FILE *file, const char *text, const char *path,
                                pulp_error_t *error)
{
    GError *gerror = NULL;

    if (cr_puts(file, text, &gerror) < 0) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not write \"%s\": %s", path,
                       gerror ? gerror->message : "unknown error");
        g_clear_error(&gerror);
        return PULP_ERR_INTERNAL;
    }
    return PULP_OK;
}

pulp_status_t yum_errata_publish(PGconn *db, const char *repo_id, CR_FILE *file,
                                 const char *path, long long *count, pulp_error_t *error)
{
    const char *params[1] = { repo_id };
    PGresult *result = pulp_db_query(db, error, errata_sql, 1, params);
    pulp_status_t status;

    *count = 0;
    if (!result)
        return error->status;

    status = write_text(file, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n", path,
                        error);
    for (int row = 0; row < PQntuples(result) && status == PULP_OK; row++) {
        json_object *metadata = json_tokener_parse(PQgetvalue(result, row, 0));
        cr_UpdateRecord *record = metadata ? update_record(metadata) : NULL;
        GError *gerror = NULL;
        char *xml = record ? cr_xml_dump_updaterecord(record, &gerror) : NULL;

        if (xml)
            status = write_text(file, xml, path, error);
        else
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not write erratum %s: %s",
                                    metadata ? member(metadata, "id") : "(invalid metadata)",
                                    gerror ? gerror->message : "invalid metadata");
        g_clear_error(&gerror);
        g_free(xml);
        if (record)
            cr_updaterecord_free(record);
        json_object_put(metadata);
        (*count)++;
    }
    if (status == PULP_OK)
        status = write_text(file, "</updates>\n", path, error);
    PQclear(result);
    return status;
}
