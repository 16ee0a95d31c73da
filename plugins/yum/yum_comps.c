/* Comps: comps.xml to package_group, package_category and package_environment units at sync,
 * and back to comps.xml at publish.
 *
 * createrepo_c 0.17 has no comps parser, so the file is read with GLib's GMarkup, an event
 * parser that needs no further library and reads the file in chunks. Each unit's metadata
 * is Pulp 2's document for its type. The unit key is the comps id plus the repository id,
 * because comps entries of the same id differ from one repository to the next.
 * NOTE: <langpacks> entries are not kept, so a published repository has none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_db.h"
#include "yum.h"

typedef struct comps_parse {
    PGconn *db;
    const char *repo_id;
    json_object *config;
    /* The unit being read and its type, or NULL outside group, category and environment. */
    json_object *unit;
    const char *type_id;
    /* The list element the current child belongs to ("grouplist", "optionlist"...). */
    char list[32];
    /* Attributes of the current leaf element that matter once its text is known. */
    char lang[64];
    char req_type[32];
    char requires[256];
    int option_default;
    GString *text;
    long long count;
    int updated;
    pulp_error_t *error;
} comps_parse_t;

static json_object *new_unit(const char *type_id, const char *repo_id)
{
    json_object *unit = json_object_new_object();

    json_object_object_add(unit, "id", NULL);
    json_object_object_add(unit, "repo_id", json_object_new_string(repo_id));
    json_object_object_add(unit, "name", NULL);
    json_object_object_add(unit, "description", NULL);
    json_object_object_add(unit, "display_order", NULL);
    json_object_object_add(unit, "translated_name", json_object_new_object());
    json_object_object_add(unit, "translated_description", json_object_new_object());
    if (strcmp(type_id, YUM_TYPE_GROUP) == 0) {
        json_object_object_add(unit, "default", json_object_new_boolean(0));
        json_object_object_add(unit, "user_visible", json_object_new_boolean(1));
        json_object_object_add(unit, "langonly", NULL);
        json_object_object_add(unit, "mandatory_package_names", json_object_new_array());
        json_object_object_add(unit, "default_package_names", json_object_new_array());
        json_object_object_add(unit, "optional_package_names", json_object_new_array());
        json_object_object_add(unit, "conditional_package_names", json_object_new_array());
    } else if (strcmp(type_id, YUM_TYPE_CATEGORY) == 0) {
        json_object_object_add(unit, "packagegroupids", json_object_new_array());
    } else {
        json_object_object_add(unit, "group_ids", json_object_new_array());
        json_object_object_add(unit, "options", json_object_new_array());
    }
    return unit;
}

static json_object *unit_member(json_object *unit, const char *key)
{
    json_object *value = NULL;

    json_object_object_get_ex(unit, key, &value);
    return value;
}

static const char *attribute(const char **names, const char **values, const char *wanted)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], wanted) == 0)
            return values[i];
    }
    return NULL;
}

static void copy_attribute(char *out, size_t out_size, const char **names, const char **values,
                           const char *wanted)
{
    const char *value = attribute(names, values, wanted);

    snprintf(out, out_size, "%s", value ? value : "");
}

static void on_start(GMarkupParseContext *context, const char *element, const char **names,
                     const char **values, gpointer baton, GError **gerror)
{
    comps_parse_t *parse = baton;

    (void)context;
    (void)gerror;
    g_string_truncate(parse->text, 0);

    if (!parse->unit) {
        if (strcmp(element, "group") == 0)
            parse->type_id = YUM_TYPE_GROUP;
        else if (strcmp(element, "category") == 0)
            parse->type_id = YUM_TYPE_CATEGORY;
        else if (strcmp(element, "environment") == 0)
            parse->type_id = YUM_TYPE_ENVIRONMENT;
        else
            return;
        parse->unit = new_unit(parse->type_id, parse->repo_id);
        parse->list[0] = '\0';
        return;
    }

    if (strcmp(element, "grouplist") == 0 || strcmp(element, "optionlist") == 0 ||
        strcmp(element, "packagelist") == 0)
        snprintf(parse->list, sizeof parse->list, "%s", element);
    copy_attribute(parse->lang, sizeof parse->lang, names, values, "xml:lang");
    copy_attribute(parse->req_type, sizeof parse->req_type, names, values, "type");
    copy_attribute(parse->requires, sizeof parse->requires, names, values, "requires");
    parse->option_default = g_strcmp0(attribute(names, values, "default"), "true") == 0;
}

static void on_text(GMarkupParseContext *context, const char *text, gsize length,
                    gpointer baton, GError **gerror)
{
    comps_parse_t *parse = baton;

    (void)context;
    (void)gerror;
    if (parse->unit)
        g_string_append_len(parse->text, text, (gssize)length);
}

static void set_text(comps_parse_t *parse, const char *key, const char *translated_key)
{
    const char *text = g_strstrip(parse->text->str);

    if (parse->lang[0])
        json_object_object_add(unit_member(parse->unit, translated_key), parse->lang,
                               json_object_new_string(text));
    else
        json_object_object_add(parse->unit, key, json_object_new_string(text));
}

static void add_package(comps_parse_t *parse, const char *name)
{
    const char *type = parse->req_type[0] ? parse->req_type : "mandatory";
    char key[64];

    if (strcmp(type, "conditional") == 0) {
        json_object *pair = json_object_new_array();

        json_object_array_add(pair, json_object_new_string(name));
        json_object_array_add(pair, json_object_new_string(parse->requires));
        json_object_array_add(unit_member(parse->unit, "conditional_package_names"), pair);
        return;
    }
    snprintf(key, sizeof key, "%s_package_names", type);
    if (unit_member(parse->unit, key))
        json_object_array_add(unit_member(parse->unit, key), json_object_new_string(name));
}

static void add_group_id(comps_parse_t *parse, const char *id)
{
    if (strcmp(parse->type_id, YUM_TYPE_CATEGORY) == 0) {
        json_object_array_add(unit_member(parse->unit, "packagegroupids"),
                              json_object_new_string(id));
    } else if (strcmp(parse->list, "optionlist") == 0) {
        json_object *option = json_object_new_object();

        json_object_object_add(option, "group", json_object_new_string(id));
        json_object_object_add(option, "default",
                               json_object_new_boolean(parse->option_default));
        json_object_array_add(unit_member(parse->unit, "options"), option);
    } else {
        json_object_array_add(unit_member(parse->unit, "group_ids"), json_object_new_string(id));
    }
}

static void set_leaf(comps_parse_t *parse, const char *element)
{
    const char *text = g_strstrip(parse->text->str);

    if (strcmp(element, "id") == 0)
        json_object_object_add(parse->unit, "id", json_object_new_string(text));
    else if (strcmp(element, "name") == 0)
        set_text(parse, "name", "translated_name");
    else if (strcmp(element, "description") == 0)
        set_text(parse, "description", "translated_description");
    else if (strcmp(element, "default") == 0)
        json_object_object_add(parse->unit, "default",
                               json_object_new_boolean(strcmp(text, "true") == 0));
    else if (strcmp(element, "uservisible") == 0)
        json_object_object_add(parse->unit, "user_visible",
                               json_object_new_boolean(strcmp(text, "true") == 0));
    else if (strcmp(element, "display_order") == 0)
        json_object_object_add(parse->unit, "display_order",
                               json_object_new_int(atoi(text)));
    else if (strcmp(element, "langonly") == 0)
        json_object_object_add(parse->unit, "langonly", json_object_new_string(text));
    else if (strcmp(element, "packagereq") == 0)
        add_package(parse, text);
    else if (strcmp(element, "groupid") == 0)
        add_group_id(parse, text);
}

static int store_unit(comps_parse_t *parse, GError **gerror)
{
    json_object *id = unit_member(parse->unit, "id");
    json_object *key;
    pulp_status_t status;

    if (!id || !*json_object_get_string(id)) {
        g_set_error(gerror, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "a %s has no id", parse->type_id);
        return -1;
    }
    if (yum_config_skips(parse->config, parse->type_id))
        return 0;

    key = json_object_new_object();
    json_object_object_add(key, "id", json_object_get(id));
    json_object_object_add(key, "repo_id", json_object_new_string(parse->repo_id));
    status = yum_unit_upsert(parse->db, parse->type_id, key, parse->unit, NULL, 1,
                             &parse->updated, parse->error);
    json_object_put(key);
    if (status != PULP_OK) {
        g_set_error(gerror, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT, "%s",
                    parse->error->message);
        return -1;
    }
    parse->count++;
    return 0;
}

static void on_end(GMarkupParseContext *context, const char *element, gpointer baton,
                   GError **gerror)
{
    comps_parse_t *parse = baton;

    (void)context;
    if (!parse->unit)
        return;
    if (strcmp(element, "group") == 0 || strcmp(element, "category") == 0 ||
        strcmp(element, "environment") == 0) {
        store_unit(parse, gerror);
        json_object_put(parse->unit);
        parse->unit = NULL;
        return;
    }
    if (strcmp(element, parse->list) == 0) {
        parse->list[0] = '\0';
        return;
    }
    set_leaf(parse, element);
    g_string_truncate(parse->text, 0);
}

static pulp_status_t feed_file(GMarkupParseContext *context, const char *path,
                               pulp_error_t *error)
{
    char buffer[65536];
    GError *gerror = NULL;
    pulp_status_t status = PULP_OK;
    FILE *in = fopen(path, "rb");
    size_t length;

    if (!in)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not open \"%s\": %s", path,
                              strerror(errno));
    while ((length = fread(buffer, 1, sizeof buffer, in)) > 0) {
        if (!g_markup_parse_context_parse(context, buffer, (gssize)length, &gerror))
            break;
    }
    if (!gerror)
        g_markup_parse_context_end_parse(context, &gerror);
    if (gerror && error->status == PULP_OK)
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not parse comps.xml: %s",
                                gerror->message);
    else if (gerror)
        status = error->status;
    g_clear_error(&gerror);
    fclose(in);
    return status;
}

pulp_status_t yum_comps_sync(PGconn *db, const char *repo_id, json_object *config,
                             const char *path, long long *count, int *updated,
                             pulp_error_t *error)
{
    static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
    comps_parse_t parse = {
        .db = db,
        .repo_id = repo_id,
        .config = config,
        .text = g_string_new(NULL),
        .error = error,
    };
    GMarkupParseContext *context = g_markup_parse_context_new(&parser, 0, &parse, NULL);
    pulp_status_t status = feed_file(context, path, error);

    g_markup_parse_context_free(context);
    json_object_put(parse.unit);
    g_string_free(parse.text, TRUE);
    *count = parse.count;
    *updated += parse.updated;
    return status;
}

/* --- publish --------------------------------------------------------------------------- */

static const char comps_sql[] =
    "SELECT r.unit_type_id, u.metadata FROM repo_content_units r JOIN units u ON u.id = r.unit_id"
    " WHERE r.repo_id = $1 AND r.unit_type_id IN"
    "       ('package_group', 'package_category', 'package_environment')"
    " ORDER BY CASE r.unit_type_id WHEN 'package_group' THEN 0"
    "          WHEN 'package_category' THEN 1 ELSE 2 END, u.unit_key->>'id'";

static const char *member_string(json_object *object, const char *key)
{
    json_object *value = unit_member(object, key);

    if (!value || json_object_is_type(value, json_type_null))
        return NULL;
    return json_object_get_string(value);
}

static void element(GString *out, const char *indent, const char *name, const char *text,
                    const char *attributes)
{
    char *escaped = g_markup_escape_text(text ? text : "", -1);

    g_string_append_printf(out, "%s<%s%s>%s</%s>\n", indent, name, attributes ? attributes : "",
                           escaped, name);
    g_free(escaped);
}

static void localized(GString *out, json_object *unit, const char *key,
                      const char *translated_key)
{
    const char *text = member_string(unit, key);
    json_object *translations = unit_member(unit, translated_key);

    element(out, "    ", key, text, NULL);
    if (!translations || !json_object_is_type(translations, json_type_object))
        return;
    json_object_object_foreach(translations, lang, value) {
        char *escaped_lang = g_markup_escape_text(lang, -1);
        char *attributes = g_strdup_printf(" xml:lang=\"%s\"", escaped_lang);

        element(out, "    ", key, json_object_get_string(value), attributes);
        g_free(attributes);
        g_free(escaped_lang);
    }
}

static void common_fields(GString *out, json_object *unit)
{
    json_object *order = unit_member(unit, "display_order");

    element(out, "    ", "id", member_string(unit, "id"), NULL);
    localized(out, unit, "name", "translated_name");
    localized(out, unit, "description", "translated_description");
    if (order && !json_object_is_type(order, json_type_null))
        element(out, "    ", "display_order", json_object_get_string(order), NULL);
}

static void string_list(GString *out, json_object *list, const char *name,
                        const char *attributes)
{
    for (size_t i = 0; list && i < json_object_array_length(list); i++)
        element(out, "      ", name, json_object_get_string(json_object_array_get_idx(list, i)),
                attributes);
}

static void write_group(GString *out, json_object *unit)
{
    json_object *conditional = unit_member(unit, "conditional_package_names");
    const char *langonly = member_string(unit, "langonly");

    g_string_append(out, "  <group>\n");
    common_fields(out, unit);
    element(out, "    ", "default",
            json_object_get_boolean(unit_member(unit, "default")) ? "true" : "false", NULL);
    element(out, "    ", "uservisible",
            json_object_get_boolean(unit_member(unit, "user_visible")) ? "true" : "false", NULL);
    if (langonly)
        element(out, "    ", "langonly", langonly, NULL);
    g_string_append(out, "    <packagelist>\n");
    string_list(out, unit_member(unit, "mandatory_package_names"), "packagereq",
                " type=\"mandatory\"");
    string_list(out, unit_member(unit, "default_package_names"), "packagereq",
                " type=\"default\"");
    string_list(out, unit_member(unit, "optional_package_names"), "packagereq",
                " type=\"optional\"");
    for (size_t i = 0; conditional && i < json_object_array_length(conditional); i++) {
        json_object *pair = json_object_array_get_idx(conditional, i);
        char *requires = g_markup_escape_text(
            json_object_get_string(json_object_array_get_idx(pair, 1)), -1);
        char *attributes = g_strdup_printf(" type=\"conditional\" requires=\"%s\"", requires);

        element(out, "      ", "packagereq",
                json_object_get_string(json_object_array_get_idx(pair, 0)), attributes);
        g_free(attributes);
        g_free(requires);
    }
    g_string_append(out, "    </packagelist>\n  </group>\n");
}

static void write_category(GString *out, json_object *unit)
{
    g_string_append(out, "  <category>\n");
    common_fields(out, unit);
    g_string_append(out, "    <grouplist>\n");
    string_list(out, unit_member(unit, "packagegroupids"), "groupid", NULL);
    g_string_append(out, "    </grouplist>\n  </category>\n");
}

static void write_environment(GString *out, json_object *unit)
{
    json_object *options = unit_member(unit, "options");

    g_string_append(out, "  <environment>\n");
    common_fields(out, unit);
    g_string_append(out, "    <grouplist>\n");
    string_list(out, unit_member(unit, "group_ids"), "groupid", NULL);
    g_string_append(out, "    </grouplist>\n    <optionlist>\n");
    for (size_t i = 0; options && i < json_object_array_length(options); i++) {
        json_object *option = json_object_array_get_idx(options, i);
        int is_default = json_object_get_boolean(unit_member(option, "default"));

        element(out, "      ", "groupid", member_string(option, "group"),
                is_default ? " default=\"true\"" : NULL);
    }
    g_string_append(out, "    </optionlist>\n  </environment>\n");
}

static pulp_status_t write_out(CR_FILE *file, GString *out, const char *path,
                               pulp_error_t *error)
{
    GError *gerror = NULL;
    int failed = cr_write(file, out->str, (unsigned int)out->len, &gerror) < 0;

    g_string_truncate(out, 0);
    if (!failed)
        return PULP_OK;
    pulp_error_set(error, PULP_ERR_INTERNAL, "could not write \"%s\": %s", path,
                   gerror ? gerror->message : "unknown error");
    g_clear_error(&gerror);
    return PULP_ERR_INTERNAL;
}

pulp_status_t yum_comps_publish(PGconn *db, const char *repo_id, CR_FILE *file,
                                const char *path, long long *count, pulp_error_t *error)
{
    const char *params[1] = { repo_id };
    PGresult *result = pulp_db_query(db, error, comps_sql, 1, params);
    GString *out = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                "<!DOCTYPE comps PUBLIC \"-//Red Hat, Inc.//DTD Comps info//EN\""
                                " \"comps.dtd\">\n<comps>\n");
    pulp_status_t status = PULP_OK;

    *count = 0;
    if (!result) {
        g_string_free(out, TRUE);
        return error->status;
    }
    for (int row = 0; row < PQntuples(result) && status == PULP_OK; row++) {
        const char *type_id = PQgetvalue(result, row, 0);
        json_object *unit = json_tokener_parse(PQgetvalue(result, row, 1));

        if (!unit)
            continue;
        if (strcmp(type_id, YUM_TYPE_GROUP) == 0)
            write_group(out, unit);
        else if (strcmp(type_id, YUM_TYPE_CATEGORY) == 0)
            write_category(out, unit);
        else
            write_environment(out, unit);
        json_object_put(unit);
        (*count)++;
        if (out->len > 65536)
            status = write_out(file, out, path, error);
    }
    g_string_append(out, "</comps>\n");
    if (status == PULP_OK)
        status = write_out(file, out, path, error);
    g_string_free(out, TRUE);
    PQclear(result);
    return status;
}
