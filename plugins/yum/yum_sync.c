/* yum_importer's sync: repomd.xml, then the metadata files it lists, then the packages
 * (yum_content.c: staged from primary, filelists and other while the missing ones download
 * into the store), then errata, comps and the other metadata files, then one transaction
 * that changes the repository. */
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
    /* The decompressed copy of a file that is parsed: an anonymous temporary file where the
     * filesystem allows it, so that a killed sync leaves nothing in <storage>/tmp. plain is
     * the path that reads it, valid in this process only. It has no ".xml" suffix, so
     * createrepo_c 0.17 detects plain XML from its content (libmagic). */
    pulp_storage_file_t *plain_file;
    char plain[PATH_MAX];
} metadata_file_t;

typedef struct yum_sync {
    pulp_task_context_t *ctx;
    PGconn *db;
    const char *repo_id;
    json_object *config;
    json_object *scratchpad;
    const char *storage_dir;
    /* The feed's URL, ending in "/", without the credentials that it may contain. Those are
     * in feed_username and feed_password, so that no message shows them. */
    char feed[4096];
    char feed_username[256];
    char feed_password[256];
    char auth_origin[512];
    char repomd_sha256[PULP_SHA256_HEX_LENGTH + 1];
    char config_digest[33];
    pulp_download_options_t download;
    int validate;
    metadata_file_t *files;
    size_t n_files;
    int tables_created;

    yum_step_t metadata;
    yum_step_t content;
    yum_step_t errata;
    yum_step_t comps;
    yum_step_t *current;
    yum_content_progress_t packages;
    long long errata_count;
    long long comps_count;
    long long metadata_file_count;
    int updated;
    int unchanged;
} yum_sync_t;

/* --- progress ------------------------------------------------------------------------- */

static json_object *content_json(const yum_sync_t *sync)
{
    const yum_content_progress_t *packages = &sync->packages;
    json_object *content = yum_step_json(&sync->content);
    json_object *details = json_object_new_object();
    long long done = packages->items_total - packages->items_left;

    json_object_object_add(content, "items_total", json_object_new_int64(packages->items_total));
    json_object_object_add(content, "items_left", json_object_new_int64(packages->items_left));
    json_object_object_add(content, "size_total", json_object_new_int64(packages->size_total));
    json_object_object_add(content, "size_left", json_object_new_int64(packages->size_left));
    json_object_object_add(details, "rpm_total", json_object_new_int64(packages->items_total));
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
    if (!options->username && sync->feed_username[0]) {
        options->username = sync->feed_username;
        options->password = sync->feed_password;
    }
    options->auth_origin = sync->auth_origin;
}

static pulp_status_t prepare(yum_sync_t *sync, pulp_error_t *error)
{
    const char *feed = yum_config_string(sync->config, "feed");
    pulp_error_t split_error = PULP_ERROR_INIT;
    size_t length;

    if (!feed || !*feed)
        return pulp_error_set(error, PULP_ERR_MISSING_VALUE, "could not sync repository \"%s\": "
                              "its importer has no feed", sync->repo_id);
    /* One byte is kept free for the "/" that may be appended. */
    if (pulp_download_url_split_credentials(feed, sync->feed, sizeof sync->feed - 1,
                                            sync->feed_username, sizeof sync->feed_username,
                                            sync->feed_password, sizeof sync->feed_password,
                                            &split_error) != PULP_OK)
        return pulp_error_set(error, split_error.status, "invalid feed of repository \"%s\": "
                              "%s", sync->repo_id, split_error.message);
    length = strlen(sync->feed);
    if (length > 0 && sync->feed[length - 1] != '/')
        memcpy(sync->feed + length, "/", 2);
    pulp_download_url_origin(sync->feed, sync->auth_origin, sizeof sync->auth_origin);
    sync->validate = yum_config_bool(sync->config, "validate", 1);
    read_download_options(sync);
    digest_config(sync);
    return PULP_OK;
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

/* Adds to a 404 for repomd.xml what the feed must point at, the usual mistake. */
static void append_feed_hint(pulp_error_t *error)
{
    size_t length = strlen(error->message);

    snprintf(error->message + length, sizeof error->message - length,
             "; the feed must be the URL of the directory that contains repodata/");
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
    else if (strstr(error->message, "HTTP status 404"))
        append_feed_hint(error);
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
        /* Never committed: only its descriptor is used, through the path that reads it. */
        file->plain_file = pulp_storage_file_new(sync->storage_dir, NULL, error);
        if (!file->plain_file)
            return error->status;
        snprintf(file->plain, sizeof file->plain, "%s", pulp_storage_file_path(file->plain_file));
        if (yum_decompress_named(pulp_storage_file_path(file->file), file->plain, file->url,
                                 error) != PULP_OK)
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

static pulp_status_t report_baton(void *baton, int force, pulp_error_t *error)
{
    return report(baton, force, error);
}

static pulp_status_t sync_packages(yum_sync_t *sync, pulp_error_t *error)
{
    yum_content_source_t source = {
        .ctx = sync->ctx,
        .db = sync->db,
        .config = sync->config,
        .feed = sync->feed,
        .storage_dir = sync->storage_dir,
        .download = &sync->download,
        .validate = sync->validate,
        .primary_path = file_of(sync, ROLE_PRIMARY)->plain,
        .filelists_path = file_of(sync, ROLE_FILELISTS)->plain,
        .other_path = file_of(sync, ROLE_OTHER)->plain,
        .report = report_baton,
        .baton = sync,
    };
    pulp_status_t status = begin_step(sync, &sync->content, error);

    if (status == PULP_OK)
        status = yum_stage_create(sync->db, error);
    sync->tables_created = 1;
    if (status == PULP_OK)
        status = yum_found_create(sync->db, error);
    if (status == PULP_OK)
        status = yum_content_sync(&source, &sync->packages, error);
    if (status != PULP_OK)
        return status;
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
    /* NOTE: the sync history, last_sync and the auto-publish tasks are written after this
     * transaction, so a process killed in between leaves the new content without them. The
     * next sync of the same feed finds it unchanged and writes them. */
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
                           json_object_new_int64(sync->packages.packages_in_feed));
    json_object_object_add(details, "packages_downloaded",
                           json_object_new_int64(sync->packages.items_total -
                                                 sync->packages.items_left));
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
    for (size_t i = 0; i < sync->n_files; i++) {
        pulp_storage_file_free(sync->files[i].file);
        pulp_storage_file_free(sync->files[i].plain_file);
    }
    free(sync->files);
    if (sync->tables_created) {
        yum_stage_drop(sync->db);
        PQclear(PQexec(sync->db, "DROP TABLE IF EXISTS yum_sync_found, yum_sync_updates"));
    }
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
