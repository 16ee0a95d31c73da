/* yum_importer's sync: repomd.xml, then the metadata files it lists, then the packages that
 * the store lacks, then errata, comps and the other metadata files, then one transaction
 * that changes the repository.
 *
 * Memory stays flat whatever the size of the feed: packages are staged in temporary tables
 * (yum_packages.c) and downloaded in windows read back from them. Downloaded files are
 * committed to the store with deferred durability and made durable with one syncfs(2) per
 * batch, before the batch's units are inserted. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulp_backoff.h"
#include "pulp_db.h"
#include "pulp_log.h"
#include "pulp_storage.h"
#include "yum.h"
#include "yum_download.h"
#include "yum_storer.h"

/* Packages whose units are inserted together, after one syncfs(2). */
#define COMMIT_BATCH 1000
/* Rows of the download queue read from the staging table at a time. */
#define QUEUE_WINDOW 5000
/* Downloaded packages that may wait for the storing thread, each with an open file. */
#define STORE_BACKLOG 64

typedef enum {
    ROLE_PRIMARY,
    ROLE_FILELISTS,
    ROLE_OTHER,
    ROLE_UPDATEINFO,
    ROLE_COMPS,
    /* Republished as it is: productid, modules and anything else unknown. */
    ROLE_CARRIED,
} role_t;

typedef struct metadata_file {
    role_t role;
    char type[64];
    char href[PULP_STORAGE_PATH_MAX];
    char url[4096];
    char checksum_type[16];
    char checksum[160];
    long long size;
    pulp_storage_file_t *file;
    /* The decompressed copy in the work directory, for the files that are parsed. */
    char plain[PATH_MAX];
} metadata_file_t;

typedef struct yum_sync {
    pulp_task_context_t *ctx;
    PGconn *db;
    const char *repo_id;
    json_object *config;
    json_object *scratchpad;
    const char *storage_dir;
    char work_dir[PATH_MAX];
    char feed[4096];
    char auth_origin[512];
    char repomd_sha256[PULP_SHA256_HEX_LENGTH + 1];
    char config_digest[33];
    pulp_download_options_t download;
    int validate;
    metadata_file_t *files;
    size_t n_files;
    int tables_created;
    /* 1 while an INSERT of a batch's units runs on the connection (flush_batch). */
    int insert_pending;

    yum_step_t metadata;
    yum_step_t content;
    yum_step_t errata;
    yum_step_t comps;
    yum_step_t *current;
    long long items_total;
    long long items_left;
    long long size_total;
    long long size_left;
    long long packages_in_feed;
    long long errata_count;
    long long comps_count;
    long long metadata_file_count;
    int updated;
    int unchanged;
} yum_sync_t;

/* --- progress ------------------------------------------------------------------------- */

static json_object *content_json(const yum_sync_t *sync)
{
    json_object *content = yum_step_json(&sync->content);
    json_object *details = json_object_new_object();
    long long done = sync->items_total - sync->items_left;

    json_object_object_add(content, "items_total", json_object_new_int64(sync->items_total));
    json_object_object_add(content, "items_left", json_object_new_int64(sync->items_left));
    json_object_object_add(content, "size_total", json_object_new_int64(sync->size_total));
    json_object_object_add(content, "size_left", json_object_new_int64(sync->size_left));
    json_object_object_add(details, "rpm_total", json_object_new_int64(sync->items_total));
    json_object_object_add(details, "rpm_done", json_object_new_int64(done));
    json_object_object_add(details, "drpm_total", json_object_new_int64(0));
    json_object_object_add(details, "drpm_done", json_object_new_int64(0));
    json_object_object_add(content, "details", details);
    return content;
}

/* The yum_importer part of the progress report, in Pulp 2's shape. */
static json_object *importer_progress(const yum_sync_t *sync)
{
    yum_step_t skipped = { "SKIPPED", "" };
    json_object *importer = json_object_new_object();
    json_object *distribution = yum_step_json(&skipped);

    json_object_object_add(distribution, "items_total", json_object_new_int64(0));
    json_object_object_add(distribution, "items_left", json_object_new_int64(0));
    json_object_object_add(importer, "metadata", yum_step_json(&sync->metadata));
    json_object_object_add(importer, "content", content_json(sync));
    json_object_object_add(importer, "distribution", distribution);
    json_object_object_add(importer, "errata", yum_step_json(&sync->errata));
    json_object_object_add(importer, "comps", yum_step_json(&sync->comps));
    return importer;
}

static pulp_status_t report(yum_sync_t *sync, int force, pulp_error_t *error)
{
    json_object *progress = json_object_new_object();
    pulp_status_t status;

    json_object_object_add(progress, YUM_IMPORTER_TYPE, importer_progress(sync));
    status = pulp_task_report_progress(sync->ctx, progress, force);
    json_object_put(progress);
    if (status == PULP_ERR_CANCELED)
        return pulp_error_set(error, PULP_ERR_CANCELED, "the sync was canceled");
    return PULP_OK;
}

static pulp_status_t begin_step(yum_sync_t *sync, yum_step_t *step, pulp_error_t *error)
{
    sync->current = step;
    step->state = "IN_PROGRESS";
    return report(sync, 1, error);
}

static void end_step(yum_sync_t *sync, yum_step_t *step, const char *state)
{
    step->state = state;
    if (sync->current == step)
        sync->current = NULL;
}

/* --- settings ------------------------------------------------------------------------- */

static void digest_config(yum_sync_t *sync)
{
    json_object *parts = json_object_new_object();
    static const char *const keys[] = {
        "feed", "validate", "remove_missing", "retain_old_count", "type_skip_list", "skip",
    };
    char *digest;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_object *value = NULL;

        json_object_object_get_ex(sync->config, keys[i], &value);
        json_object_object_add(parts, keys[i], json_object_get(value));
    }
    digest = g_compute_checksum_for_string(
        G_CHECKSUM_MD5, json_object_to_json_string_ext(parts, JSON_C_TO_STRING_PLAIN), -1);
    snprintf(sync->config_digest, sizeof sync->config_digest, "%s", digest);
    g_free(digest);
    json_object_put(parts);
}

static void read_download_options(yum_sync_t *sync)
{
    json_object *config = sync->config;
    pulp_download_options_t *options = &sync->download;

    pulp_download_options_init(options);
    options->max_parallel = (int)yum_config_int(config, "max_downloads", 5);
    options->max_speed = yum_config_int(config, "max_speed", 0);
    options->read_timeout = (int)yum_config_int(config, "read_timeout", 30);
    options->retries = (int)yum_config_int(config, "retries", 2);
    options->ssl_validation = yum_config_bool(config, "ssl_validation", 1);
    options->ssl_ca_cert = yum_config_string(config, "ssl_ca_cert");
    options->ssl_client_cert = yum_config_string(config, "ssl_client_cert");
    options->ssl_client_key = yum_config_string(config, "ssl_client_key");
    options->proxy_host = yum_config_string(config, "proxy_host");
    options->proxy_port = (long)yum_config_int(config, "proxy_port", 0);
    options->proxy_username = yum_config_string(config, "proxy_username");
    options->proxy_password = yum_config_string(config, "proxy_password");
    options->username = yum_config_string(config, "basic_auth_username");
    options->password = yum_config_string(config, "basic_auth_password");
    options->auth_origin = sync->auth_origin;
}

static pulp_status_t prepare(yum_sync_t *sync, pulp_error_t *error)
{
    const char *feed = yum_config_string(sync->config, "feed");
    size_t length;

    if (!feed || !*feed)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "could not sync repository \"%s\": "
                              "its importer has no feed", sync->repo_id);
    length = strlen(feed);
    if (length + 2 > sizeof sync->feed)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid feed \"%s\": the URL is "
                              "too long", feed);
    snprintf(sync->feed, sizeof sync->feed, "%s%s", feed, feed[length - 1] == '/' ? "" : "/");
    pulp_download_url_origin(sync->feed, sync->auth_origin, sizeof sync->auth_origin);
    sync->validate = yum_config_bool(sync->config, "validate", 1);
    read_download_options(sync);
    digest_config(sync);

    snprintf(sync->work_dir, sizeof sync->work_dir, "%s/tmp/sync-%s", sync->storage_dir,
             pulp_task_id(sync->ctx));
    return pulp_storage_mkdirs(sync->work_dir, 0700, error);
}

/* --- downloads ------------------------------------------------------------------------ */

/* Runs the downloader until every transfer ended; stops at the first failure. */
static pulp_status_t download_all(yum_sync_t *sync, pulp_downloader_t *downloader,
                                  pulp_error_t *error)
{
    pulp_download_result_t results[16];

    while (pulp_downloader_active(downloader) > 0) {
        int count = pulp_downloader_perform(downloader, 200, results, 16);

        for (int i = 0; i < count; i++) {
            if (results[i].status != PULP_OK)
                return pulp_error_set(error, results[i].status, "%s", results[i].message);
        }
        if (report(sync, 0, error) != PULP_OK)
            return error->status;
    }
    return PULP_OK;
}

static pulp_status_t fetch_repomd(yum_sync_t *sync, pulp_storage_file_t **repomd,
                                  pulp_error_t *error)
{
    pulp_downloader_t *downloader = pulp_downloader_new(&sync->download, error);
    char url[4200];
    pulp_status_t status;

    if (!downloader)
        return error->status;
    *repomd = pulp_storage_file_new(sync->storage_dir, NULL, error);
    snprintf(url, sizeof url, "%srepodata/repomd.xml", sync->feed);
    status = *repomd ? pulp_downloader_add(downloader, url, *repomd, NULL, error)
                     : error->status;
    if (status == PULP_OK)
        status = download_all(sync, downloader, error);
    pulp_downloader_free(downloader);
    if (status == PULP_OK)
        snprintf(sync->repomd_sha256, sizeof sync->repomd_sha256, "%s",
                 pulp_storage_file_sha256(*repomd));
    return status;
}

static const char *scratchpad_string(json_object *scratchpad, const char *key)
{
    json_object *value = NULL;

    if (!scratchpad || !json_object_object_get_ex(scratchpad, key, &value) || !value)
        return "";
    return json_object_get_string(value);
}

/* An unchanged feed: the same repomd.xml, the same settings and the same repository content
 * as at the end of the last successful sync. */
static int feed_unchanged(yum_sync_t *sync, pulp_error_t *error)
{
    char content_digest[33];

    if (strcmp(scratchpad_string(sync->scratchpad, "repomd_checksum"), sync->repomd_sha256) ||
        strcmp(scratchpad_string(sync->scratchpad, "config_digest"), sync->config_digest))
        return 0;
    if (yum_repo_content_digest(sync->db, sync->repo_id, content_digest, error) != PULP_OK)
        return -1;
    return strcmp(scratchpad_string(sync->scratchpad, "content_digest"), content_digest) == 0;
}

/* --- repomd.xml ----------------------------------------------------------------------- */

static int ends_with(const char *text, const char *suffix)
{
    size_t length = strlen(text);
    size_t suffix_length = strlen(suffix);

    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

/* Decides what a repomd record is for; returns -1 for records that are not fetched. */
static int record_role(const yum_sync_t *sync, const cr_RepomdRecord *record, int has_group)
{
    const char *type = record->type;

    if (strcmp(type, "primary") == 0)
        return ROLE_PRIMARY;
    if (strcmp(type, "filelists") == 0)
        return ROLE_FILELISTS;
    if (strcmp(type, "other") == 0)
        return ROLE_OTHER;
    if (strcmp(type, "updateinfo") == 0)
        return yum_config_skips(sync->config, YUM_TYPE_ERRATUM) ? -1 : ROLE_UPDATEINFO;
    if (strcmp(type, "group") == 0 || (strcmp(type, "group_gz") == 0 && !has_group))
        return ROLE_COMPS;
    /* Regenerated by the publish (databases, zchunk and compressed variants), or not
     * supported (delta RPMs). */
    if (ends_with(type, "_db") || ends_with(type, "_zck") || strcmp(type, "group_gz") == 0 ||
        strcmp(type, "prestodelta") == 0 || strcmp(type, "deltainfo") == 0)
        return -1;
    return yum_config_skips(sync->config, YUM_TYPE_METADATA_FILE) ? -1 : ROLE_CARRIED;
}

static pulp_status_t add_record(yum_sync_t *sync, const cr_RepomdRecord *record, int role,
                                pulp_error_t *error)
{
    metadata_file_t *file = &sync->files[sync->n_files];
    const char *href = record->location_href ? record->location_href : "";
    pulp_error_t path_error = PULP_ERROR_INIT;

    memset(file, 0, sizeof *file);
    file->role = (role_t)role;
    snprintf(file->type, sizeof file->type, "%s", record->type);
    if (pulp_storage_path_normalize(href, strlen(href), file->href, sizeof file->href,
                                    &path_error) != PULP_OK)
        return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid location of %s in "
                              "repomd.xml: %s", record->type, path_error.message);
    if (pulp_download_url_join(sync->feed, file->href, file->url, sizeof file->url, error) !=
        PULP_OK)
        return error->status;
    snprintf(file->checksum_type, sizeof file->checksum_type, "%s",
             record->checksum_type ? record->checksum_type : "");
    snprintf(file->checksum, sizeof file->checksum, "%s",
             record->checksum ? record->checksum : "");
    file->size = record->size > 0 ? record->size : -1;
    sync->n_files++;
    return PULP_OK;
}

static pulp_status_t read_repomd(yum_sync_t *sync, const char *path, pulp_error_t *error)
{
    cr_Repomd *repomd = cr_repomd_new();
    GError *gerror = NULL;
    pulp_status_t status = PULP_OK;
    int has_group = cr_repomd_get_record(repomd, "group") != NULL;
    size_t count;

    if (cr_xml_parse_repomd(path, repomd, NULL, NULL, &gerror) != CRE_OK) {
        status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "could not parse repomd.xml of "
                                "\"%s\": %s", sync->feed,
                                gerror ? gerror->message : "unknown error");
        goto end;
    }
    has_group = cr_repomd_get_record(repomd, "group") != NULL;
    count = g_slist_length(repomd->records);
    sync->files = calloc(count + 1, sizeof *sync->files);

    for (GSList *item = repomd->records; item && status == PULP_OK; item = item->next) {
        const cr_RepomdRecord *record = item->data;
        int role = record->type ? record_role(sync, record, has_group) : -1;

        if (role >= 0)
            status = add_record(sync, record, role, error);
    }
    for (int role = ROLE_PRIMARY; role <= ROLE_OTHER && status == PULP_OK; role++) {
        int found = 0;

        for (size_t i = 0; i < sync->n_files; i++)
            found |= sync->files[i].role == (role_t)role;
        if (!found)
            status = pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid repomd.xml of "
                                    "\"%s\": it lists no %s file", sync->feed,
                                    role == ROLE_PRIMARY     ? "primary"
                                    : role == ROLE_FILELISTS ? "filelists"
                                                             : "other");
    }

end:
    g_clear_error(&gerror);
    cr_repomd_free(repomd);
    return status;
}

static pulp_status_t verify_metadata_file(metadata_file_t *file, pulp_error_t *error)
{
    pulp_error_t check = PULP_ERROR_INIT;
    const char *checksum = file->checksum[0] ? file->checksum : NULL;

    if (pulp_storage_file_verify(file->file, file->size, checksum, &check) == PULP_OK)
        return PULP_OK;
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid download of \"%s\": %s",
                          file->url, check.message);
}

static pulp_status_t fetch_metadata_files(yum_sync_t *sync, pulp_error_t *error)
{
    pulp_downloader_t *downloader = pulp_downloader_new(&sync->download, error);
    pulp_status_t status = PULP_OK;

    if (!downloader)
        return error->status;
    for (size_t i = 0; i < sync->n_files && status == PULP_OK; i++) {
        metadata_file_t *file = &sync->files[i];
        const char *type = file->checksum[0] ? file->checksum_type : NULL;

        if (type && !pulp_storage_checksum_type_is_supported(type)) {
            status = pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "could not verify \"%s\":"
                                    " unsupported checksum type \"%s\"", file->url, type);
            break;
        }
        file->file = pulp_storage_file_new(sync->storage_dir, type, error);
        status = file->file ? pulp_downloader_add(downloader, file->url, file->file, file, error)
                            : error->status;
    }
    if (status == PULP_OK)
        status = download_all(sync, downloader, error);
    pulp_downloader_free(downloader);

    for (size_t i = 0; i < sync->n_files && status == PULP_OK; i++)
        status = verify_metadata_file(&sync->files[i], error);
    return status;
}

static pulp_status_t decompress_parsed_files(yum_sync_t *sync, pulp_error_t *error)
{
    for (size_t i = 0; i < sync->n_files; i++) {
        metadata_file_t *file = &sync->files[i];

        if (file->role == ROLE_CARRIED)
            continue;
        if (snprintf(file->plain, sizeof file->plain, "%s/%s.xml", sync->work_dir, file->type) >=
            (int)sizeof file->plain)
            return pulp_error_set(error, PULP_ERR_INTERNAL, "could not decompress %s: the work "
                                  "directory path is too long", file->type);
        if (yum_decompress(pulp_storage_file_path(file->file), file->plain, error) != PULP_OK)
            return error->status;
    }
    return PULP_OK;
}

static const metadata_file_t *file_of(const yum_sync_t *sync, role_t role)
{
    for (size_t i = 0; i < sync->n_files; i++) {
        if (sync->files[i].role == role)
            return &sync->files[i];
    }
    return NULL;
}

static pulp_status_t sync_metadata(yum_sync_t *sync, pulp_error_t *error)
{
    pulp_storage_file_t *repomd = NULL;
    pulp_status_t status = begin_step(sync, &sync->metadata, error);
    int unchanged;

    if (status == PULP_OK)
        status = fetch_repomd(sync, &repomd, error);
    if (status != PULP_OK)
        goto end;

    unchanged = feed_unchanged(sync, error);
    if (unchanged < 0) {
        status = error->status;
        goto end;
    }
    if (unchanged) {
        pulp_log_info("the feed of repository \"%s\" is unchanged since its last sync",
                      sync->repo_id);
        sync->unchanged = 1;
        goto end;
    }

    status = read_repomd(sync, pulp_storage_file_path(repomd), error);
    if (status == PULP_OK)
        status = fetch_metadata_files(sync, error);
    if (status == PULP_OK)
        status = decompress_parsed_files(sync, error);

end:
    pulp_storage_file_free(repomd);
    if (status == PULP_OK)
        end_step(sync, &sync->metadata, "FINISHED");
    return status;
}

/* --- packages ------------------------------------------------------------------------- */

typedef struct package_download {
    /* First, so that the storing thread's job leads back to its download. */
    yum_store_job_t job;
    int seq;
    char *type_id;
    char *url;
    char *filename;
    char *checksum_type;
    char *checksum;
    long long size;
    pulp_storage_file_t *file;
} package_download_t;

typedef struct package_batch {
    GPtrArray *seqs;
    GPtrArray *paths;
    GPtrArray *digests;
    GPtrArray *sizes;
} package_batch_t;

static void package_download_free(package_download_t *download)
{
    if (!download)
        return;
    pulp_storage_file_free(download->file);
    g_free(download->type_id);
    g_free(download->url);
    g_free(download->filename);
    g_free(download->checksum_type);
    g_free(download->checksum);
    g_free(download);
}

static const char match_sql[] =
    "UPDATE yum_sync_packages s SET unit_id = u.id FROM units u"
    " WHERE u.type_id = s.type_id AND u.unit_key = s.unit_key";

static const char missing_fragment_sql[] =
    "SELECT s.nevra FROM yum_sync_packages s"
    " WHERE NOT EXISTS (SELECT 1 FROM yum_sync_filelists f WHERE f.pkgid = s.pkgid)"
    "    OR NOT EXISTS (SELECT 1 FROM yum_sync_other o WHERE o.pkgid = s.pkgid)"
    " LIMIT 1";

/* Stores the repodata of units that exist but lack it (units that entered the store by
 * another way than a sync). */
static const char repair_repodata_sql[] =
    "INSERT INTO rpm_repodata (unit_id, primary_xml, filelists_xml, other_xml)"
    " SELECT DISTINCT ON (s.unit_id) s.unit_id, s.primary_xml, f.xml, o.xml"
    " FROM yum_sync_packages s JOIN yum_sync_filelists f ON f.pkgid = s.pkgid"
    "      JOIN yum_sync_other o ON o.pkgid = s.pkgid"
    " WHERE s.unit_id IS NOT NULL"
    "   AND NOT EXISTS (SELECT 1 FROM rpm_repodata r WHERE r.unit_id = s.unit_id)"
    " ON CONFLICT (unit_id) DO NOTHING";

static const char totals_sql[] =
    "SELECT count(*) FILTER (WHERE unit_id IS NULL),"
    "       coalesce(sum(size) FILTER (WHERE unit_id IS NULL), 0), count(*)"
    " FROM yum_sync_packages";

static const char queue_sql[] =
    "SELECT seq, type_id, location, filename, size, checksumtype, checksum"
    " FROM yum_sync_packages WHERE unit_id IS NULL AND seq > $1::int ORDER BY seq LIMIT $2::int";

static const char insert_units_sql[] =
    "INSERT INTO units (id, type_id, unit_key, metadata, storage_path, size, sha256)"
    " SELECT gen_random_uuid(), s.type_id, s.unit_key, s.metadata, d.storage_path, d.size,"
    "        d.sha256"
    " FROM unnest($1::int[], $2::text[], $3::text[], $4::bigint[])"
    "      AS d(seq, storage_path, sha256, size)"
    /* One index lookup per row: a join plan could scan the whole staging table per batch. */
    " CROSS JOIN LATERAL (SELECT * FROM yum_sync_packages p WHERE p.seq = d.seq) s"
    " ON CONFLICT (type_id, unit_key) DO NOTHING";

/* After the downloads: every package now has a unit, inserted by this sync or another. */
static const char match_new_sql[] =
    "UPDATE yum_sync_packages s SET unit_id = u.id FROM units u"
    " WHERE s.unit_id IS NULL AND u.type_id = s.type_id AND u.unit_key = s.unit_key";

static const char unmatched_sql[] =
    "SELECT nevra FROM yum_sync_packages WHERE unit_id IS NULL LIMIT 1";

static const char found_packages_sql[] =
    "INSERT INTO yum_sync_found (unit_id, type_id)"
    " SELECT unit_id, type_id FROM yum_sync_packages WHERE unit_id IS NOT NULL"
    " ON CONFLICT (unit_id) DO NOTHING";

static pulp_status_t match_existing(yum_sync_t *sync, pulp_error_t *error)
{
    PGresult *result;

    if (pulp_db_command(sync->db, error, match_sql, 0, NULL) != PULP_OK)
        return error->status;

    result = pulp_db_query(sync->db, error, missing_fragment_sql, 0, NULL);
    if (!result)
        return error->status;
    if (PQntuples(result) > 0) {
        pulp_error_set(error, PULP_ERR_INVALID_VALUE, "invalid metadata of \"%s\": filelists.xml"
                       " or other.xml has no entry for package %s", sync->feed,
                       PQgetvalue(result, 0, 0));
        PQclear(result);
        return error->status;
    }
    PQclear(result);

    if (pulp_db_command(sync->db, error, repair_repodata_sql, 0, NULL) != PULP_OK)
        return error->status;

    result = pulp_db_query(sync->db, error, totals_sql, 0, NULL);
    if (!result)
        return error->status;
    sync->items_total = sync->items_left = atoll(PQgetvalue(result, 0, 0));
    sync->size_total = sync->size_left = atoll(PQgetvalue(result, 0, 1));
    sync->packages_in_feed = atoll(PQgetvalue(result, 0, 2));
    PQclear(result);
    return PULP_OK;
}

static char *int_array(GPtrArray *values)
{
    GString *out = g_string_new("{");

    for (guint i = 0; i < values->len; i++)
        g_string_append_printf(out, "%s%s", i ? "," : "", (const char *)values->pdata[i]);
    g_string_append_c(out, '}');
    return g_string_free(out, FALSE);
}

static void batch_clear(package_batch_t *batch)
{
    g_ptr_array_set_size(batch->seqs, 0);
    g_ptr_array_set_size(batch->paths, 0);
    g_ptr_array_set_size(batch->digests, 0);
    g_ptr_array_set_size(batch->sizes, 0);
}

/* Reads the result of the batch INSERT that runs on the connection, if any. */
static pulp_status_t finish_insert(yum_sync_t *sync, pulp_error_t *error)
{
    PGresult *result;
    pulp_status_t status = PULP_OK;

    if (!sync->insert_pending)
        return PULP_OK;
    sync->insert_pending = 0;
    while ((result = PQgetResult(sync->db))) {
        if (PQresultStatus(result) != PGRES_COMMAND_OK && status == PULP_OK)
            status = pulp_error_set(error, PULP_ERR_INTERNAL, "could not insert package units: "
                                    "%s", PQresultErrorMessage(result));
        PQclear(result);
    }
    return status;
}

/* Makes the batch's files durable, then starts the INSERT of their units. PostgreSQL runs
 * it while the next downloads run here, and finish_insert reads its result. */
static pulp_status_t flush_batch(yum_sync_t *sync, package_batch_t *batch, pulp_error_t *error)
{
    char *seqs;
    char *paths;
    char *digests;
    char *sizes;
    int sent;

    if (finish_insert(sync, error) != PULP_OK)
        return error->status;
    if (batch->seqs->len == 0)
        return PULP_OK;
    if (pulp_storage_sync(sync->storage_dir, error) != PULP_OK)
        return error->status;

    seqs = int_array(batch->seqs);
    paths = pulp_db_text_array((const char *const *)batch->paths->pdata, batch->paths->len);
    digests = pulp_db_text_array((const char *const *)batch->digests->pdata,
                                 batch->digests->len);
    sizes = int_array(batch->sizes);
    {
        const char *params[4] = { seqs, paths, digests, sizes };

        sent = PQsendQueryParams(sync->db, insert_units_sql, 4, NULL, params, NULL, NULL, 0);
    }
    g_free(seqs);
    free(paths);
    free(digests);
    g_free(sizes);
    batch_clear(batch);
    if (!sent)
        return pulp_error_set(error, PULP_ERR_UNAVAILABLE, "could not insert package units: %s",
                              PQerrorMessage(sync->db));
    sync->insert_pending = 1;
    return PULP_OK;
}

/* Gives every staged package its unit id and stores the repodata of the new units. */
static pulp_status_t match_new_units(yum_sync_t *sync, pulp_error_t *error)
{
    PGresult *result;

    if (finish_insert(sync, error) != PULP_OK ||
        pulp_db_command(sync->db, error, match_new_sql, 0, NULL) != PULP_OK ||
        pulp_db_command(sync->db, error, repair_repodata_sql, 0, NULL) != PULP_OK)
        return error->status;

    result = pulp_db_query(sync->db, error, unmatched_sql, 0, NULL);
    if (!result)
        return error->status;
    if (PQntuples(result) > 0)
        pulp_error_set(error, PULP_ERR_INTERNAL, "could not find the unit of package %s after "
                       "its download", PQgetvalue(result, 0, 0));
    PQclear(result);
    return error->status;
}

static pulp_status_t fetch_queue(yum_sync_t *sync, GQueue *queue, int *last_seq, int *exhausted,
                                 pulp_error_t *error)
{
    char after[16];
    char limit[16];
    const char *params[2] = { after, limit };
    PGresult *result;
    int rows;

    if (finish_insert(sync, error) != PULP_OK)
        return error->status;
    snprintf(after, sizeof after, "%d", *last_seq);
    snprintf(limit, sizeof limit, "%d", QUEUE_WINDOW);
    result = pulp_db_query(sync->db, error, queue_sql, 2, params);
    if (!result)
        return error->status;

    rows = PQntuples(result);
    for (int row = 0; row < rows; row++) {
        package_download_t *download = g_new0(package_download_t, 1);
        const char *location = PQgetvalue(result, row, 2);
        char url[4200];

        download->seq = atoi(PQgetvalue(result, row, 0));
        download->type_id = g_strdup(PQgetvalue(result, row, 1));
        download->filename = g_strdup(PQgetvalue(result, row, 3));
        download->size = atoll(PQgetvalue(result, row, 4));
        download->checksum = g_strdup(PQgetvalue(result, row, 6));
        if (g_str_has_prefix(location, "http://") || g_str_has_prefix(location, "https://"))
            snprintf(url, sizeof url, "%s", location);
        else
            snprintf(url, sizeof url, "%s%s", sync->feed, location);
        download->url = g_strdup(url);
        download->checksum_type = g_strdup(PQgetvalue(result, row, 5));
        g_queue_push_tail(queue, download);
        *last_seq = download->seq;
    }
    *exhausted = rows < QUEUE_WINDOW;
    PQclear(result);
    return PULP_OK;
}

/* Starts one download; the download is in inflight until its transfer ends. */
static pulp_status_t start_download(yum_sync_t *sync, pulp_downloader_t *downloader,
                                    yum_storer_t *storer, GHashTable *inflight,
                                    package_download_t *download, pulp_error_t *error)
{
    const char *type = sync->validate ? download->checksum_type : NULL;

    if (type && !pulp_storage_checksum_type_is_supported(type)) {
        pulp_error_set(error, PULP_ERR_UNSUPPORTED_VALUE, "could not verify \"%s\": unsupported "
                       "checksum type \"%s\"", download->url, type);
        package_download_free(download);
        return error->status;
    }
    download->file = yum_storer_take_file(storer, type, error);
    if (!download->file ||
        pulp_downloader_add(downloader, download->url, download->file, download, error) !=
            PULP_OK) {
        package_download_free(download);
        return error->status;
    }
    g_hash_table_add(inflight, download);
    return PULP_OK;
}

/* Hands a downloaded package to the storing thread, which verifies and commits it. */
static void submit_package(yum_sync_t *sync, yum_storer_t *storer, package_download_t *download)
{
    yum_store_job_t *job = &download->job;

    job->file = download->file;
    job->type_id = download->type_id;
    job->filename = download->filename;
    job->expected_size = download->size;
    job->expected_checksum = sync->validate ? download->checksum : NULL;
    job->user_data = download;
    yum_storer_submit(storer, job);
}

/* Adds a package that the storing thread stored to the batch, or fails with its reason. */
static pulp_status_t stored_package(yum_sync_t *sync, package_download_t *download,
                                    package_batch_t *batch, pulp_error_t *error)
{
    const yum_store_job_t *job = &download->job;

    if (job->status != PULP_OK)
        return pulp_error_set(error, job->status, "invalid download of \"%s\": %s",
                              download->url, job->message);

    g_ptr_array_add(batch->seqs, g_strdup_printf("%d", download->seq));
    g_ptr_array_add(batch->paths, g_strdup(job->path));
    g_ptr_array_add(batch->digests, g_strdup(pulp_storage_file_sha256(download->file)));
    g_ptr_array_add(batch->sizes,
                    g_strdup_printf("%llu", (unsigned long long)pulp_storage_file_size(
                                                download->file)));
    sync->items_left--;
    sync->size_left -= download->size;
    return PULP_OK;
}

typedef struct download_loop {
    pulp_downloader_t *downloader;
    yum_storer_t *storer;
    GQueue queue;
    GHashTable *inflight;
    package_batch_t batch;
    int last_seq;
    int exhausted;
} download_loop_t;

/* Handles the transfers that ended: a failure stops the sync, a success goes to the
 * storing thread. */
static pulp_status_t take_transfers(yum_sync_t *sync, download_loop_t *loop, int wait_ms,
                                    pulp_error_t *error)
{
    pulp_download_result_t results[32];
    int count = pulp_downloader_perform(loop->downloader, wait_ms, results, 32);
    pulp_status_t status = PULP_OK;

    for (int i = 0; i < count; i++) {
        package_download_t *download = results[i].user_data;

        g_hash_table_steal(loop->inflight, download);
        if (status == PULP_OK && results[i].status != PULP_OK) {
            status = pulp_error_set(error, results[i].status, "%s", results[i].message);
            package_download_free(download);
            continue;
        }
        if (status != PULP_OK) {
            package_download_free(download);
            continue;
        }
        submit_package(sync, loop->storer, download);
    }
    return status;
}

/* Adds the packages that the storing thread finished to the batch. */
static pulp_status_t take_stored(yum_sync_t *sync, download_loop_t *loop, int wait_ms,
                                 pulp_error_t *error)
{
    yum_store_job_t *job;
    pulp_status_t status = PULP_OK;

    while ((job = yum_storer_collect(loop->storer, wait_ms))) {
        package_download_t *download = job->user_data;

        if (status == PULP_OK)
            status = stored_package(sync, download, &loop->batch, error);
        package_download_free(download);
        wait_ms = 0;
    }
    if (status == PULP_OK && loop->batch.seqs->len >= COMMIT_BATCH)
        status = flush_batch(sync, &loop->batch, error);
    return status;
}

static int loop_done(download_loop_t *loop)
{
    return loop->exhausted && g_queue_is_empty(&loop->queue) &&
           pulp_downloader_active(loop->downloader) == 0 &&
           yum_storer_pending(loop->storer) == 0;
}

static pulp_status_t run_download_loop(yum_sync_t *sync, download_loop_t *loop,
                                       pulp_error_t *error)
{
    size_t window = (size_t)sync->download.max_parallel * 2 + STORE_BACKLOG;
    pulp_status_t status = PULP_OK;

    while (status == PULP_OK && !loop_done(loop)) {
        int transfers_left;

        if (g_queue_is_empty(&loop->queue) && !loop->exhausted)
            status = fetch_queue(sync, &loop->queue, &loop->last_seq, &loop->exhausted, error);
        /* Downloads that wait for the storing thread count too, so that open files stay
         * bounded when the thread falls behind. */
        while (status == PULP_OK && !g_queue_is_empty(&loop->queue) &&
               pulp_downloader_active(loop->downloader) + yum_storer_pending(loop->storer) <
                   window)
            status = start_download(sync, loop->downloader, loop->storer, loop->inflight,
                                    g_queue_pop_head(&loop->queue), error);

        transfers_left = pulp_downloader_active(loop->downloader) > 0;
        if (status == PULP_OK && transfers_left)
            status = take_transfers(sync, loop, 200, error);
        /* Without transfers, wait for the storing thread instead. */
        if (status == PULP_OK)
            status = take_stored(sync, loop, transfers_left ? 0 : 50, error);
        if (status == PULP_OK)
            status = report(sync, 0, error);
    }
    return status;
}

static void drain_storer(download_loop_t *loop)
{
    yum_store_job_t *job;

    yum_storer_stop(loop->storer);
    while (yum_storer_pending(loop->storer) > 0 && (job = yum_storer_collect(loop->storer, 0)))
        package_download_free(job->user_data);
}

static pulp_status_t download_packages(yum_sync_t *sync, pulp_error_t *error)
{
    download_loop_t loop = {
        .downloader = pulp_downloader_new(&sync->download, error),
        .queue = G_QUEUE_INIT,
        .inflight = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                          (GDestroyNotify)package_download_free, NULL),
        .batch = {
            g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
            g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free),
        },
    };
    pulp_status_t status = loop.downloader ? PULP_OK : error->status;

    if (status == PULP_OK) {
        loop.storer = yum_storer_start(sync->storage_dir, error);
        status = loop.storer ? PULP_OK : error->status;
    }
    if (status == PULP_OK)
        status = run_download_loop(sync, &loop, error);
    if (status == PULP_OK)
        status = flush_batch(sync, &loop.batch, error);
    if (status == PULP_OK) {
        status = match_new_units(sync, error);
    } else {
        /* The connection stays usable for the cleanup only once the result is read. */
        pulp_error_t ignored = PULP_ERROR_INIT;

        finish_insert(sync, &ignored);
    }

    if (loop.storer)
        drain_storer(&loop);
    yum_storer_free(loop.storer);
    g_queue_clear_full(&loop.queue, (GDestroyNotify)package_download_free);
    /* The downloader goes first: its running transfers write into the inflight files. */
    pulp_downloader_free(loop.downloader);
    g_hash_table_destroy(loop.inflight);
    g_ptr_array_free(loop.batch.seqs, TRUE);
    g_ptr_array_free(loop.batch.paths, TRUE);
    g_ptr_array_free(loop.batch.digests, TRUE);
    g_ptr_array_free(loop.batch.sizes, TRUE);
    return status;
}

static pulp_status_t sync_packages(yum_sync_t *sync, pulp_error_t *error)
{
    yum_stage_counts_t counts;
    pulp_status_t status = begin_step(sync, &sync->content, error);
    int64_t started = pulp_monotonic_ms();
    int64_t staged;

    if (status == PULP_OK)
        status = yum_stage_create(sync->db, error);
    sync->tables_created = 1;
    if (status == PULP_OK)
        status = yum_found_create(sync->db, error);
    if (status == PULP_OK)
        status = yum_stage_packages(sync->db, sync->ctx, sync->config,
                                    file_of(sync, ROLE_PRIMARY)->plain,
                                    file_of(sync, ROLE_FILELISTS)->plain,
                                    file_of(sync, ROLE_OTHER)->plain, &counts, error);
    if (status == PULP_OK)
        status = match_existing(sync, error);
    if (status == PULP_OK)
        status = report(sync, 1, error);
    if (status != PULP_OK)
        return status;

    staged = pulp_monotonic_ms();
    pulp_log_info("staged %lld packages of repository \"%s\" in %.1f s; %lld to download",
                  counts.packages, sync->repo_id, (double)(staged - started) / 1000,
                  sync->items_total);
    status = download_packages(sync, error);
    if (status == PULP_OK)
        status = pulp_db_command(sync->db, error, found_packages_sql, 0, NULL);
    if (status != PULP_OK)
        return status;
    pulp_log_info("downloaded %lld packages of repository \"%s\" in %.1f s",
                  sync->items_total, sync->repo_id,
                  (double)(pulp_monotonic_ms() - staged) / 1000);
    end_step(sync, &sync->content, "FINISHED");
    return PULP_OK;
}

/* --- errata, comps and carried metadata files ----------------------------------------- */

static pulp_status_t sync_errata(yum_sync_t *sync, pulp_error_t *error)
{
    const metadata_file_t *file = file_of(sync, ROLE_UPDATEINFO);
    pulp_status_t status;

    if (!file) {
        end_step(sync, &sync->errata, "SKIPPED");
        return PULP_OK;
    }
    status = begin_step(sync, &sync->errata, error);
    if (status == PULP_OK)
        status = yum_errata_sync(sync->db, sync->ctx, file->plain, &sync->errata_count,
                                 &sync->updated, error);
    if (status == PULP_OK)
        end_step(sync, &sync->errata, "FINISHED");
    return status;
}

static pulp_status_t sync_comps(yum_sync_t *sync, pulp_error_t *error)
{
    const metadata_file_t *file = file_of(sync, ROLE_COMPS);
    pulp_status_t status;

    if (!file) {
        end_step(sync, &sync->comps, "SKIPPED");
        return PULP_OK;
    }
    status = begin_step(sync, &sync->comps, error);
    if (status == PULP_OK)
        status = yum_comps_sync(sync->db, sync->repo_id, sync->config, file->plain,
                                &sync->comps_count, &sync->updated, error);
    if (status == PULP_OK)
        end_step(sync, &sync->comps, "FINISHED");
    return status;
}

/* Stores a metadata file that is republished as it is (productid, modules...) as a
 * yum_repo_metadata_file unit keyed by its type and the repository. */
static pulp_status_t store_carried_file(yum_sync_t *sync, metadata_file_t *file,
                                        pulp_error_t *error)
{
    char path[PULP_STORAGE_PATH_MAX];
    const char *name = strrchr(file->href, '/');
    json_object *key = json_object_new_object();
    json_object *metadata = json_object_new_object();
    yum_unit_file_t stored;
    pulp_status_t status;

    name = name ? name + 1 : file->href;
    status = pulp_storage_file_commit(file->file, YUM_TYPE_METADATA_FILE, name, 0, path,
                                      sizeof path, error);
    if (status != PULP_OK)
        goto end;

    json_object_object_add(key, "data_type", json_object_new_string(file->type));
    json_object_object_add(key, "repo_id", json_object_new_string(sync->repo_id));
    json_object_object_add(metadata, "data_type", json_object_new_string(file->type));
    json_object_object_add(metadata, "repo_id", json_object_new_string(sync->repo_id));
    json_object_object_add(metadata, "checksum", json_object_new_string(file->checksum));
    json_object_object_add(metadata, "checksum_type",
                           json_object_new_string(file->checksum_type));
    json_object_object_add(metadata, "filename", json_object_new_string(name));

    stored.storage_path = path;
    stored.sha256 = pulp_storage_file_sha256(file->file);
    stored.size = (long long)pulp_storage_file_size(file->file);
    status = yum_unit_upsert(sync->db, YUM_TYPE_METADATA_FILE, key, metadata, &stored, 1,
                             &sync->updated, error);
    sync->metadata_file_count++;

end:
    json_object_put(key);
    json_object_put(metadata);
    return status;
}

static pulp_status_t sync_carried_files(yum_sync_t *sync, pulp_error_t *error)
{
    for (size_t i = 0; i < sync->n_files; i++) {
        if (sync->files[i].role != ROLE_CARRIED)
            continue;
        if (store_carried_file(sync, &sync->files[i], error) != PULP_OK)
            return error->status;
    }
    return PULP_OK;
}

static pulp_status_t commit(yum_sync_t *sync, pulp_plugin_report_t *result, pulp_error_t *error)
{
    json_object *scratchpad = json_object_new_object();
    yum_change_counts_t counts;
    pulp_status_t status = report(sync, 1, error);

    json_object_object_add(scratchpad, "repomd_checksum",
                           json_object_new_string(sync->repomd_sha256));
    json_object_object_add(scratchpad, "config_digest",
                           json_object_new_string(sync->config_digest));
    if (status == PULP_OK)
        status = yum_units_commit(sync->db, sync->repo_id, sync->config, scratchpad, &counts,
                                  error);
    if (status == PULP_OK) {
        result->added = counts.added;
        result->removed = counts.removed;
        result->updated = sync->updated;
    }
    json_object_put(scratchpad);
    return status;
}

/* --- the sync ------------------------------------------------------------------------- */

static void fill_report(const yum_sync_t *sync, pulp_plugin_report_t *result)
{
    json_object *details = json_object_new_object();

    result->summary = importer_progress(sync);
    json_object_object_add(details, "packages_in_feed",
                           json_object_new_int64(sync->packages_in_feed));
    json_object_object_add(details, "packages_downloaded",
                           json_object_new_int64(sync->items_total - sync->items_left));
    json_object_object_add(details, "errata", json_object_new_int64(sync->errata_count));
    json_object_object_add(details, "comps", json_object_new_int64(sync->comps_count));
    json_object_object_add(details, "metadata_files",
                           json_object_new_int64(sync->metadata_file_count));
    json_object_object_add(details, "unchanged", json_object_new_boolean(sync->unchanged));
    result->details = details;
}

static void mark_failure(yum_sync_t *sync, const pulp_error_t *error)
{
    yum_step_t *step = sync->current ? sync->current : &sync->metadata;

    step->state = error->status == PULP_ERR_CANCELED ? "CANCELED" : "FAILED";
    snprintf(step->error, sizeof step->error, "%s", error->message);
}

static void cleanup(yum_sync_t *sync)
{
    for (size_t i = 0; i < sync->n_files; i++)
        pulp_storage_file_free(sync->files[i].file);
    free(sync->files);
    if (sync->tables_created) {
        yum_stage_drop(sync->db);
        PQclear(PQexec(sync->db, "DROP TABLE IF EXISTS yum_sync_found, yum_sync_updates"));
    }
    if (sync->work_dir[0])
        pulp_storage_remove_tree(sync->work_dir, NULL);
}

pulp_status_t yum_sync_run(pulp_task_context_t *ctx, const char *repo_id, json_object *config,
                           json_object *scratchpad, pulp_plugin_report_t *result, pulp_error_t *error)
{
    yum_sync_t sync = {
        .ctx = ctx,
        .db = pulp_task_db(ctx),
        .repo_id = repo_id,
        .config = config,
        .scratchpad = scratchpad,
        .storage_dir = pulp_task_storage_dir(ctx),
        .metadata = { "NOT_STARTED", "" },
        .content = { "NOT_STARTED", "" },
        .errata = { "NOT_STARTED", "" },
        .comps = { "NOT_STARTED", "" },
    };
    pulp_status_t status;

    memset(result, 0, sizeof *result);
    status = prepare(&sync, error);
    if (status == PULP_OK)
        status = sync_metadata(&sync, error);
    if (status == PULP_OK && sync.unchanged) {
        end_step(&sync, &sync.content, "SKIPPED");
        end_step(&sync, &sync.errata, "SKIPPED");
        end_step(&sync, &sync.comps, "SKIPPED");
        goto end;
    }
    if (status == PULP_OK)
        status = sync_packages(&sync, error);
    if (status == PULP_OK)
        status = sync_errata(&sync, error);
    if (status == PULP_OK)
        status = sync_comps(&sync, error);
    if (status == PULP_OK)
        status = sync_carried_files(&sync, error);
    if (status == PULP_OK)
        status = commit(&sync, result, error);

end:
    if (status != PULP_OK) {
        pulp_error_t ignored = PULP_ERROR_INIT;

        mark_failure(&sync, error);
        report(&sync, 1, &ignored);
    } else {
        pulp_error_t ignored = PULP_ERROR_INIT;

        report(&sync, 1, &ignored);
    }
    fill_report(&sync, result);
    cleanup(&sync);
    return status;
}
