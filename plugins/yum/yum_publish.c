/* yum_distributor's publish: a complete tree in a staging folder named after the task, built
 * from the stored units (packages as hard links into the store, repodata concatenated from
 * the fragments stored at sync), then swapped in by symlink (yum_tree.c). Hard links cost
 * no new inode, while a symlink to a store path needs an inode and a data block for its long
 * target. Hard links made a publish of 20,000 packages 2.7 times faster (docs/bench.md).
 *
 * What is published is read when the task runs, so a publish queued behind a sync publishes
 * what the sync produced. A repository whose content and settings did not change since the
 * last publish only has its links checked. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_storage.h"
#include "yum.h"
#include "yum_tree.h"

/* Rows of package metadata read from the database at a time. */
#define FETCH_ROWS "1000"
/* Changes whenever the publish writes different output for the same input. */
#define LAYOUT_VERSION "1"

typedef struct sqlite_set {
    cr_SqliteDb *primary;
    cr_SqliteDb *filelists;
    cr_SqliteDb *other;
} sqlite_set_t;

typedef struct yum_publish {
    pulp_task_context_t *ctx;
    PGconn *db;
    const char *repo_id;
    const char *distributor_id;
    json_object *config;
    json_object *scratchpad;
    const char *storage_dir;
    char relative_url[PULP_STORAGE_PATH_MAX];
    int http;
    int https;
    int generate_sqlite;
    cr_ChecksumType checksum_type;
    char master_dir[PATH_MAX];
    char tree[64];
    char tree_dir[PATH_MAX];
    char repodata_dir[PATH_MAX];
    char fingerprint[33];
    const char *previous_tree;
    FILE *manifest;
    GSList *records;
    int tree_created;
    /* Set once a hard link into the store failed for a reason that will not change. */
    int use_symlinks;

    yum_step_t packages;
    yum_step_t metadata;
    yum_step_t publish_http;
    yum_step_t publish_https;
    yum_step_t *current;
    long long packages_total;
    long long packages_done;
    long long duplicates;
    long long errata_count;
    long long comps_count;
    long long files_count;
    int unchanged;
} yum_publish_t;

/* --- progress ------------------------------------------------------------------------- */

static json_object *distributor_progress(const yum_publish_t *publish)
{
    json_object *object = json_object_new_object();
    json_object *packages = yum_step_json(&publish->packages);
    yum_step_t skipped = { "SKIPPED", "" };

    json_object_object_add(packages, "items_total", json_object_new_int64(publish->packages_total));
    json_object_object_add(packages, "items_left",
                           json_object_new_int64(publish->packages_total - publish->packages_done));
    json_object_object_add(packages, "num_success", json_object_new_int64(publish->packages_done));
    json_object_object_add(packages, "num_error", json_object_new_int64(0));
    json_object_object_add(object, "packages", packages);
    json_object_object_add(object, "distribution", yum_step_json(&skipped));
    json_object_object_add(object, "metadata", yum_step_json(&publish->metadata));
    json_object_object_add(object, "publish_http", yum_step_json(&publish->publish_http));
    json_object_object_add(object, "publish_https", yum_step_json(&publish->publish_https));
    return object;
}

static pulp_status_t report(yum_publish_t *publish, int force, pulp_error_t *error)
{
    json_object *progress = json_object_new_object();
    pulp_status_t status;

    json_object_object_add(progress, YUM_DISTRIBUTOR_TYPE, distributor_progress(publish));
    status = pulp_task_report_progress(publish->ctx, progress, force);
    json_object_put(progress);
    if (status == PULP_ERR_CANCELED)
        return pulp_error_set(error, PULP_ERR_CANCELED, "the publish was canceled");
    return PULP_OK;
}

static pulp_status_t begin_step(yum_publish_t *publish, yum_step_t *step,
                                pulp_error_t *error)
{
    publish->current = step;
    step->state = "IN_PROGRESS";
    return report(publish, 1, error);
}

static void end_step(yum_publish_t *publish, yum_step_t *step, const char *state)
{
    step->state = state;
    if (publish->current == step)
        publish->current = NULL;
}

/* --- settings ------------------------------------------------------------------------- */

static const char *scratchpad_string(json_object *scratchpad, const char *key)
{
    json_object *value = NULL;

    if (!scratchpad || !json_object_object_get_ex(scratchpad, key, &value) || !value ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static pulp_status_t fingerprint(yum_publish_t *publish, pulp_error_t *error)
{
    char content[33];
    char *text;
    char *digest;

    if (yum_repo_content_digest(publish->db, publish->repo_id, content, error) != PULP_OK)
        return error->status;
    text = g_strdup_printf("%s|%s|%s", LAYOUT_VERSION, content,
                           json_object_to_json_string_ext(publish->config,
                                                          JSON_C_TO_STRING_PLAIN));
    digest = g_compute_checksum_for_string(G_CHECKSUM_MD5, text, -1);
    snprintf(publish->fingerprint, sizeof publish->fingerprint, "%s", digest);
    g_free(digest);
    g_free(text);
    return PULP_OK;
}

static pulp_status_t prepare(yum_publish_t *publish, pulp_error_t *error)
{
    const char *relative_url = yum_config_string(publish->config, "relative_url");
    const char *checksum = yum_config_string(publish->config, "checksum_type");

    if (!relative_url)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "could not publish repository "
                              "\"%s\": distributor \"%s\" has no relative_url",
                              publish->repo_id, publish->distributor_id);
    if (pulp_storage_path_normalize(relative_url, strlen(relative_url), publish->relative_url,
                                    sizeof publish->relative_url, error) != PULP_OK)
        return error->status;
    publish->http = yum_config_bool(publish->config, "http", 1);
    publish->https = yum_config_bool(publish->config, "https", 0);
    publish->generate_sqlite = yum_config_bool(publish->config, "generate_sqlite", 0);
    publish->checksum_type = cr_checksum_type(checksum ? checksum : "sha256");
    if (publish->checksum_type == CR_CHECKSUM_UNKNOWN)
        return pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "unsupported checksum type "
                              "\"%s\"", checksum);
    publish->previous_tree = scratchpad_string(publish->scratchpad, "tree");

    if (yum_tree_master_dir(publish->storage_dir, publish->repo_id, publish->distributor_id,
                            publish->master_dir, sizeof publish->master_dir, error) != PULP_OK)
        return error->status;
    snprintf(publish->tree, sizeof publish->tree, "%s", pulp_task_id(publish->ctx));
    if (snprintf(publish->tree_dir, sizeof publish->tree_dir, "%s/%s", publish->master_dir,
                 publish->tree) >= (int)sizeof publish->tree_dir ||
        snprintf(publish->repodata_dir, sizeof publish->repodata_dir, "%s/repodata",
                 publish->tree_dir) >= (int)sizeof publish->repodata_dir)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "the storage directory path is too long");
    return fingerprint(publish, error);
}

static int tree_exists(const yum_publish_t *publish, const char *tree)
{
    char path[PATH_MAX];
    struct stat info;

    if (!tree ||
        snprintf(path, sizeof path, "%s/%s/repodata/repomd.xml", publish->master_dir, tree) >=
            (int)sizeof path)
        return 0;
    return stat(path, &info) == 0;
}

/* --- files of the tree ---------------------------------------------------------------- */

static pulp_status_t gerror_status(pulp_error_t *error, GError **gerror, const char *what)
{
    pulp_error_set(error, PULP_ERR_INTERNAL, "could not %s: %s", what,
                   *gerror ? (*gerror)->message : "unknown error");
    g_clear_error(gerror);
    return PULP_ERR_INTERNAL;
}

static void manifest_add(yum_publish_t *publish, const char *relative)
{
    if (publish->manifest)
        fprintf(publish->manifest, "%s\n", relative);
}

/* Fills a repomd record for a file of the repodata folder, renames the file after its
 * checksum, and adds it to the records to write. */
static pulp_status_t add_record(yum_publish_t *publish, const char *type, const char *path,
                                cr_ContentStat *stat, int db_version, pulp_error_t *error)
{
    cr_RepomdRecord *record = cr_repomd_record_new(type, path);
    GError *gerror = NULL;
    char relative[PATH_MAX];

    if (stat)
        cr_repomd_record_load_contentstat(record, stat);
    record->db_ver = db_version;
    if (cr_repomd_record_fill(record, publish->checksum_type, &gerror) != CRE_OK ||
        cr_repomd_record_rename_file(record, &gerror) != CRE_OK) {
        cr_repomd_record_free(record);
        return gerror_status(error, &gerror, "write a repomd record");
    }
    snprintf(relative, sizeof relative, "%s", record->location_href);
    manifest_add(publish, relative);
    publish->records = g_slist_append(publish->records, record);
    return PULP_OK;
}

static pulp_status_t make_tree(yum_publish_t *publish, pulp_error_t *error)
{
    char manifest[PATH_MAX + 16];

    if (pulp_storage_mkdirs(publish->repodata_dir, 0755, error) != PULP_OK)
        return error->status;
    publish->tree_created = 1;
    snprintf(manifest, sizeof manifest, "%s.files", publish->tree_dir);
    publish->manifest = fopen(manifest, "w");
    if (!publish->manifest)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not create \"%s\": %s", manifest,
                              strerror(errno));
    return PULP_OK;
}

/* --- packages ------------------------------------------------------------------------- */

typedef struct xml_set {
    cr_XmlFile *primary;
    cr_XmlFile *filelists;
    cr_XmlFile *other;
    cr_ContentStat *stats[3];
    char paths[3][PATH_MAX];
} xml_set_t;

static const char count_sql[] =
    "SELECT count(*) FROM repo_content_units a JOIN rpm_repodata r ON r.unit_id = a.unit_id"
    " WHERE a.repo_id = $1 AND a.unit_type_id IN ('rpm', 'srpm')";

static const char cursor_sql[] =
    "DECLARE yum_publish_packages NO SCROLL CURSOR FOR"
    " SELECT u.storage_path, u.metadata->>'filename', r.primary_xml, r.filelists_xml,"
    "        r.other_xml"
    " FROM repo_content_units a JOIN units u ON u.id = a.unit_id"
    "      JOIN rpm_repodata r ON r.unit_id = a.unit_id"
    " WHERE a.repo_id = $1 AND a.unit_type_id IN ('rpm', 'srpm')";

static pulp_status_t open_xml_files(yum_publish_t *publish, xml_set_t *xml, long long count,
                                    pulp_error_t *error)
{
    static const char *const names[3] = { "primary", "filelists", "other" };
    static const cr_XmlFileType types[3] = {
        CR_XMLFILE_PRIMARY, CR_XMLFILE_FILELISTS, CR_XMLFILE_OTHER,
    };
    cr_XmlFile **files[3] = { &xml->primary, &xml->filelists, &xml->other };
    GError *gerror = NULL;

    for (int i = 0; i < 3; i++) {
        if (snprintf(xml->paths[i], sizeof xml->paths[i], "%s/%s.xml.gz",
                     publish->repodata_dir, names[i]) >= (int)sizeof xml->paths[i])
            return pulp_error_set(error, PULP_ERR_INTERNAL, "the repodata path is too long");
        xml->stats[i] = cr_contentstat_new(publish->checksum_type, &gerror);
        *files[i] = xml->stats[i] ? cr_xmlfile_sopen(xml->paths[i], types[i],
                                                     CR_CW_GZ_COMPRESSION, xml->stats[i],
                                                     &gerror)
                                  : NULL;
        if (!*files[i] || cr_xmlfile_set_num_of_pkgs(*files[i], count, &gerror) != CRE_OK)
            return gerror_status(error, &gerror, "create the repodata files");
    }
    return PULP_OK;
}

static pulp_status_t close_xml_files(xml_set_t *xml, pulp_error_t *error)
{
    cr_XmlFile **files[3] = { &xml->primary, &xml->filelists, &xml->other };
    GError *gerror = NULL;
    pulp_status_t status = PULP_OK;

    for (int i = 0; i < 3; i++) {
        if (*files[i] && cr_xmlfile_close(*files[i], &gerror) != CRE_OK && status == PULP_OK)
            status = gerror_status(error, &gerror, "write the repodata files");
        g_clear_error(&gerror);
        *files[i] = NULL;
    }
    return status;
}

static void free_xml_stats(xml_set_t *xml)
{
    for (int i = 0; i < 3; i++) {
        if (xml->stats[i])
            cr_contentstat_free(xml->stats[i], NULL);
        xml->stats[i] = NULL;
    }
}

/* Links path to the stored file: a hard link, which costs no new inode, or a relative
 * symlink when the tree lies on another filesystem than the store (or hard links are not
 * allowed there). Returns 0, or -1 with errno set. */
static int link_to_store(yum_publish_t *publish, const char *storage_path, const char *path)
{
    char source[PATH_MAX];
    char target[PATH_MAX];

    if (!publish->use_symlinks) {
        if (snprintf(source, sizeof source, "%s/%s", publish->storage_dir, storage_path) >=
            (int)sizeof source) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (link(source, path) == 0)
            return 0;
        if (errno != EXDEV && errno != EPERM && errno != EMLINK)
            return -1;
        publish->use_symlinks = 1;
    }
    yum_tree_package_target(storage_path, target, sizeof target);
    return symlink(target, path);
}

/* Links the package into the tree; returns 0 when another package already has the name. */
static int link_package(yum_publish_t *publish, const char *storage_path, const char *filename,
                        pulp_error_t *error)
{
    char relative[PULP_STORAGE_PATH_MAX];
    char path[PATH_MAX];
    char *slash;

    if (!pulp_storage_name_is_valid(filename)) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid package file name \"%s\"",
                       filename);
        return -1;
    }
    yum_package_location(filename, relative, sizeof relative);
    if (snprintf(path, sizeof path, "%s/%s", publish->tree_dir, relative) >= (int)sizeof path) {
        pulp_error_set(error, PULP_ERR_INTERNAL, "the path of \"%s\" is too long", filename);
        return -1;
    }

    if (link_to_store(publish, storage_path, path) == 0)
        goto linked;
    if (errno == ENOENT) {
        /* The first package of its letter: create Packages/<letter> and try again. */
        slash = strrchr(path, '/');
        *slash = '\0';
        if (pulp_storage_mkdirs(path, 0755, error) != PULP_OK)
            return -1;
        *slash = '/';
        if (link_to_store(publish, storage_path, path) == 0)
            goto linked;
    }
    if (errno == EEXIST)
        return 0;
    pulp_error_set(error, PULP_ERR_INTERNAL, "could not link \"%s\" into the published tree: "
                   "%s", storage_path, strerror(errno));
    return -1;

linked:
    manifest_add(publish, relative);
    return 1;
}

static int add_snippet_package(cr_Package **pkg, const char *pkg_id, const char *name,
                               const char *arch, void *baton, GError **gerror)
{
    (void)pkg_id;
    (void)name;
    (void)arch;
    (void)gerror;
    *pkg = baton;
    return CR_CB_RET_OK;
}

static int keep_snippet_package(cr_Package *pkg, void *baton, GError **gerror)
{
    (void)pkg;
    (void)baton;
    (void)gerror;
    return CR_CB_RET_OK;
}

/* Adds one package to the sqlite databases, parsed back from its three fragments. */
static pulp_status_t add_to_sqlite(sqlite_set_t *dbs, const char *primary, const char *filelists,
                                   const char *other, pulp_error_t *error)
{
    cr_Package *pkg = cr_package_new();
    GError *gerror = NULL;
    pulp_status_t status = PULP_OK;

    if (cr_xml_parse_primary_snippet(primary, add_snippet_package, pkg, keep_snippet_package,
                                     NULL, NULL, NULL, 0, &gerror) != CRE_OK ||
        cr_xml_parse_filelists_snippet(filelists, add_snippet_package, pkg,
                                       keep_snippet_package, NULL, NULL, NULL, &gerror) !=
            CRE_OK ||
        cr_xml_parse_other_snippet(other, add_snippet_package, pkg, keep_snippet_package, NULL,
                                   NULL, NULL, &gerror) != CRE_OK ||
        cr_db_add_pkg(dbs->primary, pkg, &gerror) != CRE_OK ||
        cr_db_add_pkg(dbs->filelists, pkg, &gerror) != CRE_OK ||
        cr_db_add_pkg(dbs->other, pkg, &gerror) != CRE_OK)
        status = gerror_status(error, &gerror, "add a package to the sqlite databases");
    cr_package_free(pkg);
    return status;
}

static pulp_status_t write_rows(yum_publish_t *publish, PGresult *result, xml_set_t *xml,
                                sqlite_set_t *dbs, pulp_error_t *error)
{
    GError *gerror = NULL;

    for (int row = 0; row < PQntuples(result); row++) {
        const char *primary = PQgetvalue(result, row, 2);
        const char *filelists = PQgetvalue(result, row, 3);
        const char *other = PQgetvalue(result, row, 4);
        int linked = link_package(publish, PQgetvalue(result, row, 0),
                                  PQgetvalue(result, row, 1), error);

        if (linked < 0)
            return error->status;
        if (linked == 0) {
            publish->duplicates++;
            continue;
        }
        if (cr_xmlfile_add_chunk(xml->primary, primary, &gerror) != CRE_OK ||
            cr_xmlfile_add_chunk(xml->filelists, filelists, &gerror) != CRE_OK ||
            cr_xmlfile_add_chunk(xml->other, other, &gerror) != CRE_OK)
            return gerror_status(error, &gerror, "write the repodata files");
        if (dbs && add_to_sqlite(dbs, primary, filelists, other, error) != PULP_OK)
            return error->status;
        publish->packages_done++;
    }
    return PULP_OK;
}

/* Streams the package rows through a cursor, in one read-only transaction. */
static pulp_status_t stream_packages(yum_publish_t *publish, xml_set_t *xml, sqlite_set_t *dbs,
                                     pulp_error_t *error)
{
    const char *params[1] = { publish->repo_id };
    pulp_status_t status = pulp_db_begin(publish->db, error);

    if (status == PULP_OK)
        status = pulp_db_command(publish->db, error, cursor_sql, 1, params);
    while (status == PULP_OK) {
        PGresult *result = pulp_db_query(publish->db, error,
                                         "FETCH " FETCH_ROWS " FROM yum_publish_packages", 0,
                                         NULL);
        int rows;

        if (!result) {
            status = error->status;
            break;
        }
        rows = PQntuples(result);
        status = write_rows(publish, result, xml, dbs, error);
        PQclear(result);
        if (status != PULP_OK || rows == 0)
            break;
        if (pulp_task_cancel_requested(publish->ctx))
            status = pulp_error_set(error, PULP_ERR_CANCELED, "the publish was canceled");
    }
    if (status == PULP_OK)
        status = pulp_db_commit(publish->db, error);
    else
        pulp_db_rollback(publish->db);
    return status;
}

static pulp_status_t count_packages(yum_publish_t *publish, pulp_error_t *error)
{
    const char *params[1] = { publish->repo_id };
    PGresult *result = pulp_db_query(publish->db, error, count_sql, 1, params);

    if (!result)
        return error->status;
    publish->packages_total = atoll(PQgetvalue(result, 0, 0));
    PQclear(result);
    return PULP_OK;
}

static pulp_status_t open_sqlite(yum_publish_t *publish, sqlite_set_t *dbs, pulp_error_t *error)
{
    static const char *const names[3] = { "primary", "filelists", "other" };
    static const cr_DatabaseType types[3] = { CR_DB_PRIMARY, CR_DB_FILELISTS, CR_DB_OTHER };
    cr_SqliteDb **handles[3] = { &dbs->primary, &dbs->filelists, &dbs->other };
    GError *gerror = NULL;

    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX + 32];

        snprintf(path, sizeof path, "%s/%s.sqlite", publish->repodata_dir, names[i]);
        *handles[i] = cr_db_open(path, types[i], &gerror);
        if (!*handles[i])
            return gerror_status(error, &gerror, "create the sqlite databases");
    }
    return PULP_OK;
}

/* Closes the databases, compresses each with bzip2 (as createrepo_c does) and adds their
 * records; xml_checksums are the checksums of the matching XML files. */
static pulp_status_t finish_sqlite(yum_publish_t *publish, sqlite_set_t *dbs,
                                   const char *const *xml_checksums, pulp_error_t *error)
{
    static const char *const names[3] = { "primary", "filelists", "other" };
    cr_SqliteDb **handles[3] = { &dbs->primary, &dbs->filelists, &dbs->other };
    GError *gerror = NULL;

    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX + 32];
        char compressed[PATH_MAX + 40];
        char type[32];
        cr_ContentStat *stat;
        pulp_status_t status;

        if (cr_db_dbinfo_update(*handles[i], xml_checksums[i], &gerror) != CRE_OK ||
            cr_db_close(*handles[i], &gerror) != CRE_OK) {
            *handles[i] = NULL;
            return gerror_status(error, &gerror, "write the sqlite databases");
        }
        *handles[i] = NULL;
        snprintf(path, sizeof path, "%s/%s.sqlite", publish->repodata_dir, names[i]);
        snprintf(compressed, sizeof compressed, "%s.bz2", path);
        stat = cr_contentstat_new(publish->checksum_type, NULL);
        if (cr_compress_file_with_stat(path, compressed, CR_CW_BZ2_COMPRESSION, stat, NULL,
                                       FALSE, &gerror) != CRE_OK) {
            cr_contentstat_free(stat, NULL);
            return gerror_status(error, &gerror, "compress the sqlite databases");
        }
        unlink(path);
        snprintf(type, sizeof type, "%s_db", names[i]);
        status = add_record(publish, type, compressed, stat, 10, error);
        cr_contentstat_free(stat, NULL);
        if (status != PULP_OK)
            return status;
    }
    return PULP_OK;
}

static void close_sqlite(sqlite_set_t *dbs)
{
    if (dbs->primary)
        cr_db_close(dbs->primary, NULL);
    if (dbs->filelists)
        cr_db_close(dbs->filelists, NULL);
    if (dbs->other)
        cr_db_close(dbs->other, NULL);
}

static pulp_status_t publish_packages(yum_publish_t *publish, pulp_error_t *error)
{
    static const char *const types[3] = { "primary", "filelists", "other" };
    xml_set_t xml = { 0 };
    sqlite_set_t dbs = { 0 };
    pulp_status_t status = begin_step(publish, &publish->packages, error);

    if (status == PULP_OK)
        status = count_packages(publish, error);
    if (status == PULP_OK)
        status = open_xml_files(publish, &xml, publish->packages_total, error);
    if (status == PULP_OK && publish->generate_sqlite)
        status = open_sqlite(publish, &dbs, error);
    if (status == PULP_OK)
        status = stream_packages(publish, &xml, publish->generate_sqlite ? &dbs : NULL, error);
    if (close_xml_files(&xml, status == PULP_OK ? error : NULL) != PULP_OK && status == PULP_OK)
        status = error->status;

    /* A file name shared by two packages was published once: the count in the headers is
     * one too high for each. NOTE: the header keeps the count of rows read; dnf reads the
     * packages themselves and ignores it. */
    for (int i = 0; i < 3 && status == PULP_OK; i++)
        status = add_record(publish, types[i], xml.paths[i], xml.stats[i], 0, error);
    if (status == PULP_OK && publish->generate_sqlite) {
        const char *checksums[3];
        int i = 0;

        for (GSList *item = publish->records; item && i < 3; item = item->next, i++)
            checksums[i] = ((cr_RepomdRecord *)item->data)->checksum;
        status = finish_sqlite(publish, &dbs, checksums, error);
    }
    close_sqlite(&dbs);
    free_xml_stats(&xml);
    if (status == PULP_OK)
        end_step(publish, &publish->packages, "FINISHED");
    return status;
}

/* --- errata, comps and carried files -------------------------------------------------- */

typedef pulp_status_t (*write_fn_t)(PGconn *db, const char *repo_id, CR_FILE *file,
                                    const char *path, long long *count, pulp_error_t *error);

/* Writes one metadata file through write; a file without any entry is removed again.
 * Returns its path in out when written. */
static pulp_status_t write_metadata(yum_publish_t *publish, const char *name,
                                    cr_CompressionType compression, write_fn_t write,
                                    long long *count, cr_ContentStat **stat, char *out,
                                    size_t out_size, pulp_error_t *error)
{
    GError *gerror = NULL;
    CR_FILE *file;
    pulp_status_t status;

    if (snprintf(out, out_size, "%s/%s", publish->repodata_dir, name) >= (int)out_size)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "the repodata path is too long");
    *stat = cr_contentstat_new(publish->checksum_type, &gerror);
    file = *stat ? cr_sopen(out, CR_CW_MODE_WRITE, compression, *stat, &gerror) : NULL;
    if (!file)
        return gerror_status(error, &gerror, "create a metadata file");
    status = write(publish->db, publish->repo_id, file, out, count, error);
    if (cr_close(file, &gerror) != CRE_OK && status == PULP_OK)
        status = gerror_status(error, &gerror, "write a metadata file");
    g_clear_error(&gerror);
    if (status == PULP_OK && *count == 0) {
        unlink(out);
        out[0] = '\0';
    }
    return status;
}

static pulp_status_t publish_errata(yum_publish_t *publish, pulp_error_t *error)
{
    char path[PATH_MAX];
    cr_ContentStat *stat = NULL;
    pulp_status_t status;

    status = write_metadata(publish, "updateinfo.xml.gz", CR_CW_GZ_COMPRESSION,
                            yum_errata_publish, &publish->errata_count, &stat, path,
                            sizeof path, error);
    if (status == PULP_OK && path[0])
        status = add_record(publish, "updateinfo", path, stat, 0, error);
    if (stat)
        cr_contentstat_free(stat, NULL);
    return status;
}

static pulp_status_t publish_comps(yum_publish_t *publish, pulp_error_t *error)
{
    char path[PATH_MAX];
    char compressed[PATH_MAX + 8];
    cr_ContentStat *stat = NULL;
    cr_ContentStat *compressed_stat = NULL;
    GError *gerror = NULL;
    pulp_status_t status;

    status = write_metadata(publish, "comps.xml", CR_CW_NO_COMPRESSION, yum_comps_publish,
                            &publish->comps_count, &stat, path, sizeof path, error);
    if (status != PULP_OK || !path[0])
        goto end;

    snprintf(compressed, sizeof compressed, "%s.gz", path);
    compressed_stat = cr_contentstat_new(publish->checksum_type, NULL);
    if (cr_compress_file_with_stat(path, compressed, CR_CW_GZ_COMPRESSION, compressed_stat,
                                   NULL, FALSE, &gerror) != CRE_OK) {
        status = gerror_status(error, &gerror, "compress comps.xml");
        goto end;
    }
    status = add_record(publish, "group", path, NULL, 0, error);
    if (status == PULP_OK)
        status = add_record(publish, "group_gz", compressed, compressed_stat, 0, error);

end:
    if (stat)
        cr_contentstat_free(stat, NULL);
    if (compressed_stat)
        cr_contentstat_free(compressed_stat, NULL);
    return status;
}

static const char carried_sql[] =
    "SELECT u.unit_key->>'data_type', u.storage_path, u.metadata->>'filename'"
    " FROM repo_content_units a JOIN units u ON u.id = a.unit_id"
    " WHERE a.repo_id = $1 AND a.unit_type_id = 'yum_repo_metadata_file'"
    "   AND u.storage_path IS NOT NULL ORDER BY 1";

/* The published name of a carried file: its upstream name without a checksum prefix. */
static const char *plain_name(const char *filename)
{
    const char *dash = strchr(filename, '-');
    size_t prefix = dash ? (size_t)(dash - filename) : 0;

    if (prefix < 32)
        return filename;
    for (size_t i = 0; i < prefix; i++) {
        if (!g_ascii_isxdigit(filename[i]))
            return filename;
    }
    return dash + 1;
}

static pulp_status_t copy_file(const char *source, const char *destination, pulp_error_t *error)
{
    GError *gerror = NULL;

    if (link(source, destination) == 0)
        return PULP_OK;
    if (cr_better_copy_file(source, destination, &gerror))
        return PULP_OK;
    return gerror_status(error, &gerror, "copy a metadata file");
}

static pulp_status_t publish_carried(yum_publish_t *publish, pulp_error_t *error)
{
    const char *params[1] = { publish->repo_id };
    PGresult *result = pulp_db_query(publish->db, error, carried_sql, 1, params);
    pulp_status_t status = PULP_OK;

    if (!result)
        return error->status;
    for (int row = 0; row < PQntuples(result) && status == PULP_OK; row++) {
        const char *data_type = PQgetvalue(result, row, 0);
        const char *name = plain_name(PQgetvalue(result, row, 2));
        char source[PATH_MAX];
        char destination[PATH_MAX];

        if (!pulp_storage_name_is_valid(name) ||
            snprintf(source, sizeof source, "%s/%s", publish->storage_dir,
                     PQgetvalue(result, row, 1)) >= (int)sizeof source ||
            snprintf(destination, sizeof destination, "%s/%s", publish->repodata_dir, name) >=
                (int)sizeof destination) {
            status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid metadata file "
                                    "\"%s\" of type %s", name, data_type);
            break;
        }
        status = copy_file(source, destination, error);
        if (status == PULP_OK)
            status = add_record(publish, data_type, destination, NULL, 0, error);
        publish->files_count++;
    }
    PQclear(result);
    return status;
}

static pulp_status_t write_gpg_key(yum_publish_t *publish, pulp_error_t *error)
{
    const char *key = yum_config_string(publish->config, "gpgkey");
    char path[PATH_MAX];
    FILE *out;

    if (!key || !*key)
        return PULP_OK;
    if (snprintf(path, sizeof path, "%s/gpg.key", publish->tree_dir) >= (int)sizeof path)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "the tree path is too long");
    out = fopen(path, "w");
    if (!out || fputs(key, out) < 0 || fclose(out) != 0)
        return pulp_error_set(error, PULP_ERR_INTERNAL, "could not write \"%s\": %s", path,
                              strerror(errno));
    manifest_add(publish, "gpg.key");
    return PULP_OK;
}

static pulp_status_t write_repomd(yum_publish_t *publish, pulp_error_t *error)
{
    cr_Repomd *repomd = cr_repomd_new();
    char revision[32];
    char path[PATH_MAX + 16];
    GError *gerror = NULL;
    char *xml;
    pulp_status_t status = PULP_OK;
    FILE *out;

    snprintf(revision, sizeof revision, "%lld", (long long)time(NULL));
    cr_repomd_set_revision(repomd, revision);
    for (GSList *item = publish->records; item; item = item->next)
        cr_repomd_set_record(repomd, item->data);
    g_slist_free(publish->records);
    publish->records = NULL;
    cr_repomd_sort_records(repomd);

    xml = cr_xml_dump_repomd(repomd, &gerror);
    if (!xml) {
        status = gerror_status(error, &gerror, "write repomd.xml");
        goto end;
    }
    snprintf(path, sizeof path, "%s/repomd.xml", publish->repodata_dir);
    out = fopen(path, "w");
    if (!out || fputs(xml, out) < 0 || fclose(out) != 0)
        status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not write \"%s\": %s", path,
                                strerror(errno));
    g_free(xml);

end:
    cr_repomd_free(repomd);
    return status;
}

static pulp_status_t publish_metadata(yum_publish_t *publish, pulp_error_t *error)
{
    pulp_status_t status = begin_step(publish, &publish->metadata, error);

    if (status == PULP_OK)
        status = publish_errata(publish, error);
    if (status == PULP_OK)
        status = publish_comps(publish, error);
    if (status == PULP_OK)
        status = publish_carried(publish, error);
    if (status == PULP_OK)
        status = write_gpg_key(publish, error);
    if (status == PULP_OK)
        status = write_repomd(publish, error);
    if (publish->manifest) {
        if (fclose(publish->manifest) != 0 && status == PULP_OK)
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not write the file list "
                                    "of tree \"%s\"", publish->tree_dir);
        publish->manifest = NULL;
    }
    if (status == PULP_OK)
        end_step(publish, &publish->metadata, "FINISHED");
    return status;
}

/* --- serving -------------------------------------------------------------------------- */

static pulp_status_t serve_protocol(yum_publish_t *publish, const char *protocol, int enabled,
                                    yum_step_t *step, const char *tree,
                                    pulp_error_t *error)
{
    const char *old_url = scratchpad_string(publish->scratchpad, "relative_url");
    pulp_status_t status;

    if (old_url && strcmp(old_url, publish->relative_url) != 0 &&
        yum_tree_unserve(publish->storage_dir, protocol, old_url, publish->repo_id,
                         publish->distributor_id, error) != PULP_OK)
        return error->status;
    if (!enabled) {
        end_step(publish, step, "SKIPPED");
        return yum_tree_unserve(publish->storage_dir, protocol, publish->relative_url,
                                publish->repo_id, publish->distributor_id, error);
    }
    status = begin_step(publish, step, error);
    if (status == PULP_OK)
        status = yum_tree_serve(publish->storage_dir, protocol, publish->relative_url,
                                publish->repo_id, publish->distributor_id, tree, error);
    if (status == PULP_OK)
        end_step(publish, step, "FINISHED");
    return status;
}

/* Swaps the links to tree. A worker that lost its database session lost its locks too, so
 * a round trip first proves that this task still owns the repository. */
static pulp_status_t serve(yum_publish_t *publish, const char *tree, pulp_error_t *error)
{
    if (pulp_db_command(publish->db, error, "SELECT 1", 0, NULL) != PULP_OK)
        return error->status;
    if (serve_protocol(publish, "http", publish->http, &publish->publish_http, tree, error) !=
            PULP_OK ||
        serve_protocol(publish, "https", publish->https, &publish->publish_https, tree,
                       error) != PULP_OK)
        return error->status;
    return PULP_OK;
}

static const char scratchpad_sql[] =
    "UPDATE distributors SET scratchpad = $3::jsonb WHERE repo_id = $1 AND distributor_id = $2";

static pulp_status_t save_scratchpad(yum_publish_t *publish, const char *tree,
                                     pulp_error_t *error)
{
    json_object *scratchpad = json_object_new_object();
    const char *params[3] = { publish->repo_id, publish->distributor_id, NULL };
    pulp_status_t status;

    json_object_object_add(scratchpad, "fingerprint", json_object_new_string(publish->fingerprint));
    json_object_object_add(scratchpad, "tree", json_object_new_string(tree));
    json_object_object_add(scratchpad, "relative_url",
                           json_object_new_string(publish->relative_url));
    params[2] = json_object_to_json_string_ext(scratchpad, JSON_C_TO_STRING_PLAIN);
    status = pulp_db_command(publish->db, error, scratchpad_sql, 3, params);
    json_object_put(scratchpad);
    return status;
}

/* --- the publish ---------------------------------------------------------------------- */

static void fill_report(const yum_publish_t *publish, pulp_plugin_report_t *result)
{
    json_object *details = json_object_new_object();

    result->summary = distributor_progress(publish);
    json_object_object_add(details, "packages", json_object_new_int64(publish->packages_done));
    json_object_object_add(details, "duplicate_file_names",
                           json_object_new_int64(publish->duplicates));
    json_object_object_add(details, "errata", json_object_new_int64(publish->errata_count));
    json_object_object_add(details, "comps", json_object_new_int64(publish->comps_count));
    json_object_object_add(details, "metadata_files",
                           json_object_new_int64(publish->files_count));
    json_object_object_add(details, "unchanged", json_object_new_boolean(publish->unchanged));
    json_object_object_add(details, "relative_url",
                           json_object_new_string(publish->relative_url));
    result->details = details;
}

static pulp_status_t build_and_serve(yum_publish_t *publish, pulp_error_t *error)
{
    pulp_status_t status = make_tree(publish, error);

    if (status == PULP_OK)
        status = publish_packages(publish, error);
    if (status == PULP_OK)
        status = publish_metadata(publish, error);
    if (status == PULP_OK)
        status = report(publish, 1, error);
    if (status != PULP_OK)
        return status;

    yum_tree_carry_over(publish->master_dir, publish->previous_tree, publish->tree);
    status = serve(publish, publish->tree, error);
    if (status == PULP_OK)
        status = save_scratchpad(publish, publish->tree, error);
    if (status != PULP_OK)
        return status;

    publish->tree_created = 0;
    if (publish->previous_tree && strcmp(publish->previous_tree, publish->tree) != 0)
        yum_tree_retire(publish->master_dir, publish->previous_tree);
    yum_tree_prune(publish->master_dir, publish->tree);
    return PULP_OK;
}

pulp_status_t yum_publish_run(pulp_task_context_t *ctx, const char *repo_id,
                              const char *distributor_id, json_object *config,
                              json_object *scratchpad, pulp_plugin_report_t *result,
                              pulp_error_t *error)
{
    yum_publish_t publish = {
        .ctx = ctx,
        .db = pulp_task_db(ctx),
        .repo_id = repo_id,
        .distributor_id = distributor_id,
        .config = config,
        .scratchpad = scratchpad,
        .storage_dir = pulp_task_storage_dir(ctx),
        .packages = { "NOT_STARTED", "" },
        .metadata = { "NOT_STARTED", "" },
        .publish_http = { "NOT_STARTED", "" },
        .publish_https = { "NOT_STARTED", "" },
    };
    pulp_status_t status;

    memset(result, 0, sizeof *result);
    cr_xml_dump_init();
    status = prepare(&publish, error);
    if (status == PULP_OK && tree_exists(&publish, publish.previous_tree) &&
        g_strcmp0(scratchpad_string(scratchpad, "fingerprint"), publish.fingerprint) == 0) {
        pulp_log_info("repository \"%s\" is unchanged since its last publish by \"%s\"",
                      repo_id, distributor_id);
        publish.unchanged = 1;
        end_step(&publish, &publish.packages, "SKIPPED");
        end_step(&publish, &publish.metadata, "SKIPPED");
        status = serve(&publish, publish.previous_tree, error);
    } else if (status == PULP_OK) {
        status = build_and_serve(&publish, error);
    }

    if (status != PULP_OK) {
        yum_step_t *step = publish.current ? publish.current : &publish.packages;

        step->state = status == PULP_ERR_CANCELED ? "CANCELED" : "FAILED";
        snprintf(step->error, sizeof step->error, "%s", error->message);
    }
    {
        pulp_error_t ignored = PULP_ERROR_INIT;

        report(&publish, 1, &ignored);
    }
    if (publish.manifest)
        fclose(publish.manifest);
    g_slist_free_full(publish.records, (GDestroyNotify)cr_repomd_record_free);
    if (publish.tree_created)
        yum_tree_discard(publish.master_dir, publish.tree);
    fill_report(&publish, result);
    return status;
}
